package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The API contract of NVMe controllers hot-plugged on the PCI bus ({@code "nvme_controller": "new"}), over a
 * fake VMM: 204 on attach, 202 and {@code "hotplug_state": "detaching"} until the guest ejected, 204 with
 * {@code {"force": true}}, and the refusals.
 */
class ApiPciHotplugTest extends ApiNvmeTestBase {
    @BeforeEach
    void setUp() throws Exception {
        assertEquals(204, client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}").status());
    }

    private static String drive(String id, Path path, String extra) {
        return "{\"drive_id\": \"" + id + "\", \"path_on_host\": \"" + path + "\", \"is_root_device\": false, \"interface\": \"nvme\"" + extra + "}";
    }

    private String state(String id) throws Exception {
        var drives = Json.mapper().readTree(client.get("/vm/config").body()).path("drives");
        for (var d : drives) if (d.path("drive_id").asText().equals(id)) return d.path("hotplug_state").asText("none");
        return "gone";
    }

    @Test
    void aHotPluggedDriveIsDetachingUntilTheGuestEjectsIt() throws Exception {
        start();
        var added = client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"nvme_controller\": \"new\""));
        assertEquals(204, added.status(), added.body());
        assertEquals("hotplug 2 vol", api.backend.calls().getLast());
        assertEquals("attached", state("vol"));
        assertFault(client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"nvme_controller\": \"new\"")), "already attached");

        var detach = client.sendRaw("DELETE", "/drives/vol", null);
        assertEquals(202, detach.status(), detach.body());
        assertEquals("eject-request 2", api.backend.calls().getLast());
        assertEquals("detaching", state("vol"));
        assertEquals("detaching", state("vol"), "the guest has not ejected: still there");
        assertFault(client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"nvme_controller\": \"new\"")), "already attached");
        assertEquals(202, client.sendRaw("DELETE", "/drives/vol", null).status(), "asking again repeats the request");
        assertEquals("eject-request 2", api.backend.calls().getLast());

        api.backend.guestEjects(2);
        assertEquals("gone", state("vol"));
        assertFault(client.sendRaw("DELETE", "/drives/vol", null), "no drive vol");
        var again = client.sendRaw("PUT", "/drives/vol", drive("vol", vol, ", \"nvme_controller\": \"new\""));
        assertEquals(204, again.status(), "the id is free again: " + again.body());
    }

    @Test
    void aDriveInAHotPluggableSlotFromBootLeavesThroughTheGuestsEjectOrByForce() throws Exception {
        Path other = Files.write(dir.resolve("other.img"), new byte[8192]);
        var put = client.sendRaw("PUT", "/drives/launch", drive("launch", vol, ", \"nvme_controller\": \"new\""));
        assertEquals(204, put.status(), put.body());
        assertEquals(204, client.sendRaw("PUT", "/drives/second", drive("second", other, ", \"nvme_controller\": \"new\"")).status());
        assertEquals("none", state("launch"), "before InstanceStart nothing is plugged yet");
        start();
        assertEquals(List.of("start", "boot-hotplug 2 launch", "boot-hotplug 3 second"), api.backend.calls());
        assertTrue(api.backend.started.drives().stream().allMatch(MachineSpec.DriveSpec::hotpluggable));
        assertEquals(0, api.backend.started.nvmeControllers(), "no controller whose namespaces the API addresses by index");
        assertEquals("attached", state("launch"));

        // A plain DELETE waits for the guest, as for a drive hot-plugged while the guest runs.
        var detach = client.sendRaw("DELETE", "/drives/launch", null);
        assertEquals(202, detach.status(), detach.body());
        assertEquals("eject-request 2", api.backend.calls().getLast());
        assertEquals("detaching", state("launch"));
        api.backend.guestEjects(2);
        assertEquals("gone", state("launch"));

        // Force: a surprise removal, done when the answer comes.
        var forced = client.sendRaw("DELETE", "/drives/second", "{\"force\": true}");
        assertEquals(204, forced.status(), forced.body());
        assertEquals("force-remove 3", api.backend.calls().getLast());
        assertEquals("gone", state("second"));
    }

    @Test
    void aHotPluggableSlotBeforeBootIsForDataNvmeDrivesOnly() throws Exception {
        assertFault(client.sendRaw("PUT", "/drives/v", "{\"drive_id\": \"v\", \"path_on_host\": \"" + vol
                + "\", \"is_root_device\": false, \"nvme_controller\": \"new\"}"), "\"interface\": \"nvme\"");
        assertFault(client.sendRaw("PUT", "/drives/v", "{\"drive_id\": \"v\", \"path_on_host\": \"" + vol
                + "\", \"is_root_device\": true, \"interface\": \"nvme\", \"nvme_controller\": \"new\"}"), "root device");
        assertFault(client.sendRaw("PUT", "/drives/v", drive("v", vol, ", \"nvme_controller\": 0")), "can only be \"new\"");
        assertFault(client.sendRaw("PUT", "/drives/v", drive("v", vol, ", \"nvme_controller\": \"newer\"")), "can only be \"new\"");
        assertEquals("gone", state("v"), "refused: nothing configured");
        start();
        assertEquals(List.of("start"), api.backend.calls());
    }

    @Test
    void forceRemovesAtOnceEvenWhileAnEjectIsPending() throws Exception {
        start();
        assertEquals(204, client.sendRaw("PUT", "/drives/a", drive("a", vol, ", \"nvme_controller\": \"new\"")).status());
        var forced = client.sendRaw("DELETE", "/drives/a", "{\"force\": true}");
        assertEquals(204, forced.status(), forced.body());
        assertEquals("force-remove 2", api.backend.calls().getLast());
        assertEquals("gone", state("a"));

        assertEquals(204, client.sendRaw("PUT", "/drives/b", drive("b", vol, ", \"nvme_controller\": \"new\"")).status());
        assertEquals(202, client.sendRaw("DELETE", "/drives/b", "{\"force\": false}").status());
        assertEquals("detaching", state("b"));
        assertEquals(204, client.sendRaw("DELETE", "/drives/b", "{\"force\": true}").status());
        assertEquals("gone", state("b"));
        assertEquals(List.of("start", "hotplug 2 a", "force-remove 2", "hotplug 3 b", "eject-request 3", "force-remove 3"),
                api.backend.calls());
    }

    @Test
    void badRequestsChangeNothing() throws Exception {
        start();
        assertFault(client.sendRaw("PUT", "/drives/v", drive("v", vol, ", \"nvme_controller\": \"newer\"")), "controller index or \"new\"");
        assertFault(client.sendRaw("PUT", "/drives/v", drive("v", vol, ", \"nvme_controller\": \"new\", \"hotplug_state\": \"attached\"")),
                "read-only");
        assertFault(client.sendRaw("PUT", "/drives/v", "{\"drive_id\": \"v\", \"path_on_host\": \"" + vol
                + "\", \"is_root_device\": true, \"interface\": \"nvme\", \"nvme_controller\": \"new\"}"), "root device");
        api.backend.refuseAttach = "fake: locked by another VM";
        assertFault(client.sendRaw("PUT", "/drives/v", drive("v", vol, ", \"nvme_controller\": \"new\"")), "locked by another VM");
        api.backend.refuseAttach = null;
        assertEquals(204, client.sendRaw("PUT", "/drives/v", drive("v", vol, ", \"nvme_controller\": \"new\"")).status());
        assertEquals(400, client.sendRaw("DELETE", "/drives/v", "{\"force\": \"yes please\"}").status());
        assertEquals(400, client.sendRaw("DELETE", "/drives/v", "{\"forced\": true}").status());
        assertEquals("attached", state("v"), "a refused DELETE changes nothing");
        var patched = client.sendRaw("PATCH", "/drives/v", "{\"drive_id\": \"v\", \"path_on_host\": \"" + vol + "\"}");
        assertEquals(204, patched.status(), patched.body());
        assertEquals("resize-hotplugged 2", api.backend.calls().getLast());
        assertFalse(api.backend.calls().stream().anyMatch(c -> c.startsWith("hotplug") && !c.equals("hotplug 2 v")), api.backend.calls().toString());
    }
}
