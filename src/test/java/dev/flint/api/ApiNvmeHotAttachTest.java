package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Flint's NVMe extensions for attaching volumes to a running microVM, against the fake VMM: empty
 * controllers from {@code nvme_controllers} in PUT /machine-config, and PUT /drives/{id} after InstanceStart.
 */
class ApiNvmeHotAttachTest extends ApiNvmeTestBase {
    private static String drive(String id, Path path, String extra) {
        return "{\"drive_id\": \"" + id + "\", \"path_on_host\": \"" + path + "\", \"is_root_device\": false" + extra + "}";
    }

    private void machineConfig(String body) throws Exception {
        var reply = client.sendRaw("PUT", "/machine-config", body);
        assertEquals(204, reply.status(), reply.body());
    }

    @Test
    void anEmptyControllerIsBuiltAndTakesADriveWhileRunning() throws Exception {
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"nvme_controllers\": 9}"),
                "nvme_controllers");
        machineConfig("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"nvme_controllers\": 1}");
        assertTrue(client.get("/machine-config").body().contains("\"nvme_controllers\":1"), client.get("/machine-config").body());
        start();
        assertEquals(1, api.backend.started.emptyNvmeControllers());
        assertEquals(1, api.backend.started.nvmeControllers());

        var reply = client.sendRaw("PUT", "/drives/vol1", drive("vol1", vol, ", \"is_read_only\": true, \"interface\": \"nvme\""));
        assertEquals(204, reply.status(), reply.body());
        assertEquals(List.of("start", "attach-nvme 0 vol1 " + vol + " ro"), api.backend.calls());
        assertTrue(client.get("/vm/config").body().contains("\"drive_id\":\"vol1\""), client.get("/vm/config").body());

        assertFault(client.sendRaw("PUT", "/drives/vol1", drive("vol1", vol, ", \"interface\": \"nvme\"")), "already attached");
        assertFault(client.sendRaw("PUT", "/drives/vol2", drive("vol2", vol, ", \"interface\": \"nvme\", \"nvme_controller\": 1")),
                "nvme_controller must be between 0 and 0");
        assertFault(client.sendRaw("PUT", "/drives/vol2", drive("vol2", vol, "")), "virtio-blk hot-plug is not supported");
        assertFault(client.sendRaw("PUT", "/drives/vol2", drive("vol2", vol, ", \"interface\": \"virtio\"")), "not supported");
        assertFault(client.sendRaw("PUT", "/drives/vol2", "{\"drive_id\": \"vol2\", \"path_on_host\": \"" + vol
                + "\", \"is_root_device\": true, \"interface\": \"nvme\"}"), "root device");
        assertFault(client.sendRaw("PUT", "/drives/vol2", drive("vol2", dir.resolve("missing.img"), ", \"interface\": \"nvme\"")),
                "missing.img");
        assertEquals(2, api.backend.calls().size(), "refused attaches never reach the VMM: " + api.backend.calls());
    }

    @Test
    void theControllerIndexCountsNvmeDrivesFirstThenEmptyControllers() throws Exception {
        Path boot = Files.write(dir.resolve("boot.img"), new byte[8192]);
        machineConfig("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"nvme_controllers\": 2}");
        assertEquals(204, client.sendRaw("PUT", "/drives/boot", drive("boot", boot, ", \"interface\": \"nvme\"")).status());
        assertFault(client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\", \"nvme_controller\": 1")),
                "is for a running microVM");
        start();
        assertEquals(3, api.backend.started.nvmeControllers());
        var reply = client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\", \"nvme_controller\": 2"));
        assertEquals(204, reply.status(), reply.body());
        assertEquals("attach-nvme 2 vol " + vol, api.backend.calls().getLast());
    }

    @Test
    void deleteDetachesHotAttachedAndBootNvmeDrivesButNotVirtioOnes() throws Exception {
        Path boot = Files.write(dir.resolve("boot.img"), new byte[8192]);
        Path blk = Files.write(dir.resolve("blk.img"), new byte[8192]);
        machineConfig("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"nvme_controllers\": 1}");
        assertEquals(204, client.sendRaw("PUT", "/drives/blk", drive("blk", blk, "")).status());
        assertEquals(204, client.sendRaw("PUT", "/drives/boot", drive("boot", boot, ", \"interface\": \"nvme\"")).status());
        start();
        assertEquals(204, client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\", \"nvme_controller\": 1")).status());
        assertEquals("attach-nvme 1 vol " + vol, api.backend.calls().getLast());

        assertEquals(204, client.sendRaw("DELETE", "/drives/vol", null).status());
        assertEquals("detach-nvme 1 1", api.backend.calls().getLast());
        assertTrue(!client.get("/vm/config").body().contains("\"drive_id\":\"vol\""), client.get("/vm/config").body());
        assertFault(client.sendRaw("DELETE", "/drives/vol", null), "no drive vol");
        assertEquals(204, client.sendRaw("DELETE", "/drives/boot", null).status());
        assertEquals("detach-nvme 0 1", api.backend.calls().getLast(), "a boot-time NVMe drive is namespace 1 of its own controller");
        assertFault(client.sendRaw("DELETE", "/drives/blk", null), "virtio-blk");
        // Detached, the id may be attached again (as a new namespace).
        assertEquals(204, client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\", \"nvme_controller\": 1")).status());
        assertEquals(5, api.backend.calls().size(), api.backend.calls().toString());
    }

    @Test
    void patchWithTheDrivesOwnPathRereadsAnNvmeDrivesSizeOnly() throws Exception {
        Path blk = Files.write(dir.resolve("blk2.img"), new byte[8192]);
        machineConfig("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"nvme_controllers\": 1}");
        assertEquals(204, client.sendRaw("PUT", "/drives/blk", drive("blk", blk, "")).status());
        start();
        assertEquals(204, client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\"")).status());
        assertEquals(204, client.sendRaw("PATCH", "/drives/vol", "{\"drive_id\": \"vol\", \"path_on_host\": \"" + vol + "\"}").status());
        assertEquals("resize-nvme 0 1", api.backend.calls().getLast(), "the same path on an NVMe drive: its size is read again");
        assertFault(client.sendRaw("PATCH", "/drives/vol", "{\"drive_id\": \"vol\", \"path_on_host\": \"" + blk + "\"}"),
                "path_on_host");
        assertEquals(204, client.sendRaw("PATCH", "/drives/blk", "{\"drive_id\": \"blk\", \"path_on_host\": \"" + blk + "\"}").status());
        assertEquals(List.of("start", "attach-nvme 0 vol " + vol, "resize-nvme 0 1"), api.backend.calls(),
                "a virtio-blk drive's size is not re-read; a refused PATCH reaches nothing");
    }

    @Test
    void aMachineWithoutNvmeRefusesAttachAndTheBackendsRefusalIsOneLine() throws Exception {
        start();
        assertFault(client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\"")), "no NVMe controller");
        assertEquals(List.of("start"), api.backend.calls());
    }

    @Test
    void aLockedImageIsRefusedAndNotRecorded() throws Exception {
        machineConfig("{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"nvme_controllers\": 1}");
        start();
        api.backend.refuseAttach = vol + " is in use by another VM (locked)";
        assertFault(client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\"")),
                "cannot attach drive vol: " + vol + " is in use by another VM");
        api.backend.refuseAttach = null;
        // Refused, so not attached: the same id can be attached once the image is free.
        assertEquals(204, client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"interface\": \"nvme\"")).status());
    }

    @Test
    void beforeBootDrivesAreConfiguredAsBefore() throws Exception {
        assertEquals(204, client.sendRaw("PUT", "/drives/vol", drive("vol", vol, "")).status());
        assertEquals(List.of(), api.backend.calls());
    }
}
