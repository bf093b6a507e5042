package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.guest.GuestAssets;
import dev.flint.sys.UnixSocket;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Flint as a vhost-user-blk back end for QEMU: QEMU (TCG) boots Debian's stock kernel with its guest RAM
 * in a shared memfd and a vhost-user-blk-pci device on Flint's socket; the guest reads the host's marker
 * from /dev/vda and writes its own, which must land in the image file. About a minute under load.
 */
@Tag("guest")
class QemuFrontEndTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    @TempDir Path dir;

    @Test
    void qemusGuestReadsAndWritesAFlintServedDisk() throws Exception {
        assumeTrue(Files.isExecutable(QEMU), "QEMU not installed");
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        guest.fetch(System.out);
        Path image = VhostUserGuest.image(dir);
        Path initrd = VhostUserGuest.initramfs(guest, dir);
        Path socketPath = dir.resolve("blk.sock");
        AtomicReference<String> ended = new AtomicReference<>("still running");
        try (BlockBackend backend = BlockBackend.open(new DriveConfig(image, false));
             UnixSocket listener = UnixSocket.listen(socketPath)) {
            Thread server = Thread.ofPlatform().name("vhost-user-test-backend").start(() -> {
                try (BackendConnection c = new BackendConnection(listener.accept(), backend)) {
                    ended.set(c.run());
                } catch (RuntimeException e) {
                    ended.set(e.toString());
                }
            });
            Process qemu = new ProcessBuilder(List.of(QEMU.toString(), "-accel", "tcg", "-M", "pc", "-smp", "1", "-m", "256",
                    "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
                    "-chardev", "socket,id=c,path=" + socketPath, "-device", "vhost-user-blk-pci,chardev=c,num-queues=1",
                    "-nographic", "-no-reboot", "-vga", "none", "-net", "none",
                    "-kernel", guest.kernel().toString(), "-initrd", initrd.toString(), "-append", "console=ttyS0 panic=-1"))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("console.log").toFile()).start();
            boolean exited = qemu.waitFor(600, TimeUnit.SECONDS);
            if (!exited) qemu.destroyForcibly().waitFor();
            String console = Files.readString(dir.resolve("console.log"), StandardCharsets.ISO_8859_1);
            assertTrue(exited, "QEMU still running after 600 s:\n" + console);
            assertEquals(0, qemu.exitValue(), console);
            VhostUserGuest.assertReadAndWritten(console, image);
            server.join(30_000);
            assertTrue(!server.isAlive(), "the back end's connection must end when QEMU exits");
            assertNull(ended.get(), "QEMU's disconnect is a clean end");
        }
    }
}
