package dev.flint.api;

import static dev.flint.api.ApiAssertions.assertFault;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.Drive;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.sys.UnixSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Firecracker's {@code socket} drive field: a vhost-user-blk back end's socket instead of a file. */
class ApiVhostUserDriveTest extends ApiTestBase {
    @Test
    void aDriveNamesAVhostUserSocketAndTheMachineGetsIt() throws Exception {
        UnixSocketClient client = api.client;
        Path disk = Files.write(dir.resolve("disk.img"), new byte[4096]);
        Path socketPath = dir.resolve("vhost.sock");
        try (UnixSocket listener = UnixSocket.listen(socketPath)) {
            assertFault(client.send("PUT", "/drives/root", new Drive().driveId("root").isRootDevice(true)
                    .socket(socketPath.toString()).pathOnHost(disk.toString())), "either path_on_host or socket");
            assertFault(client.send("PUT", "/drives/root", new Drive().driveId("root").isRootDevice(true)
                    .socket(disk.toString())), "is not a Unix socket");
            assertFault(client.send("PUT", "/drives/root", new Drive().driveId("root").isRootDevice(true)
                    .socket(socketPath.toString()).cacheType(Drive.CacheTypeEnum.WRITEBACK)), "do not apply to a vhost-user drive");
            assertEquals(204, client.send("PUT", "/drives/root", new Drive().driveId("root").isRootDevice(true)
                    .socket(socketPath.toString())).status());
            assertEquals(204, client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())).status());
            api.backend.capabilities = new VmmBackend.Capabilities(true, false, false);
            assertEquals(204, client.send("PUT", "/actions",
                    new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
            MachineSpec.DriveSpec drive = api.backend.started.drives().getFirst();
            assertTrue(drive.vhostUser());
            assertFalse(drive.nvme());
            assertEquals(socketPath, drive.path());
            assertTrue(api.backend.started.cmdline().endsWith("root=/dev/vda rw"), api.backend.started.cmdline());
        }
    }

}
