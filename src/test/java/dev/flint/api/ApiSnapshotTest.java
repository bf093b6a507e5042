package dev.flint.api;

import static dev.flint.api.ApiAssertions.assertFault;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.InstanceInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

/** PUT /snapshot/create and /snapshot/load: Firecracker's state rules and body checks, against a fake VMM. */
class ApiSnapshotTest extends ApiTestBase {
    private static final String CREATE = "{\"snapshot_path\": \"/tmp/vm.state\", \"mem_file_path\": \"/tmp/vm.mem\"}";
    private static final String DIFF = "{\"snapshot_path\": \"/tmp/vm.state\", \"mem_file_path\": \"/tmp/d.mem\", "
            + "\"snapshot_type\": \"Diff\"}";
    private static final String LOAD = "{\"snapshot_path\": \"/tmp/vm.state\", \"mem_backend\": "
            + "{\"backend_type\": \"File\", \"backend_path\": \"/tmp/vm.mem\"}";

    private void start() throws Exception {
        assertEquals(204, api.client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())).status());
        assertEquals(204, api.client.send("PUT", "/actions",
                new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
    }

    @Test
    void createNeedsAPausedMicroVm() throws Exception {
        assertFault(api.client.sendRaw("PUT", "/snapshot/create", CREATE), VmmController.NOT_BEFORE_START);
        start();
        assertFault(api.client.sendRaw("PUT", "/snapshot/create", CREATE), "must be paused");
        assertEquals(204, api.client.sendRaw("PATCH", "/vm", "{\"state\": \"Paused\"}").status());
        assertFault(api.client.sendRaw("PUT", "/snapshot/create", "{\"snapshot_path\": \"/tmp/vm.state\"}"), "mem_file_path");
        assertFault(api.client.sendRaw("PUT", "/snapshot/create",
                "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\", \"snapshot_type\": \"Diff\"}"),
                "snapshot_type Diff needs dirty page tracking, which is off for this microVM: set \"track_dirty_pages\": true");
        assertFault(api.client.sendRaw("PUT", "/snapshot/create",
                "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\", \"snapshot_type\": \"Half\"}"), "snapshot_type");
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/create",
                "{\"snapshot_path\": \"/tmp/vm.state\", \"mem_file_path\": \"/tmp/vm.mem\", \"snapshot_type\": \"Full\"}").status());
        assertEquals(List.of("start", "pause", "snapshot /tmp/vm.state /tmp/vm.mem []"), api.backend.calls());
    }

    @Test
    void loadIsForAFreshVmmAndChecksItsBody() throws Exception {
        assertFault(api.client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\"}"), "exactly one of");
        assertFault(api.client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/m\", "
                + "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\"}}"), "exactly one of");
        assertFault(api.client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/s\", "
                + "\"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"/m\"}}"), "Uffd");
        assertFault(api.client.sendRaw("PUT", "/snapshot/load", LOAD + ", \"network_overrides\": "
                + "[{\"iface_id\": \"eth0\", \"host_dev_name\": \"no/slash\"}]}"), "host_dev_name");
        api.backend.refuseStart = "/tmp/vm.state is corrupted (its SHA-256 does not match its content)";
        assertFault(api.client.sendRaw("PUT", "/snapshot/load", LOAD + "}"), "is corrupted");
        assertEquals(InstanceInfo.StateEnum.NOT_STARTED, api.client.get("/").as(InstanceInfo.class).getState());
        api.backend.refuseStart = null;

        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/load", LOAD + ", \"network_overrides\": "
                + "[{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\"}]}").status());
        assertEquals(InstanceInfo.StateEnum.PAUSED, api.client.get("/").as(InstanceInfo.class).getState(), "not resumed unless asked");
        assertEquals(204, api.client.sendRaw("PATCH", "/vm", "{\"state\": \"Resumed\"}").status());
        assertEquals(InstanceInfo.StateEnum.RUNNING, api.client.get("/").as(InstanceInfo.class).getState());
        assertFault(api.client.sendRaw("PUT", "/snapshot/load", LOAD + "}"), VmmController.NOT_AFTER_START);
        assertEquals(List.of("load /tmp/vm.state /tmp/vm.mem {eth0=tap7}", "resume"), api.backend.calls());
    }

    @Test
    void loadWithResumeVmRunsAtOnceAndCannotFollowABoot() throws Exception {
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"/tmp/vm.state\", "
                + "\"mem_file_path\": \"/tmp/vm.mem\", \"resume_vm\": true}").status());
        assertEquals(InstanceInfo.StateEnum.RUNNING, api.client.get("/").as(InstanceInfo.class).getState());
        assertFault(api.client.send("PUT", "/actions",
                new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)), VmmController.NOT_AFTER_START);
        assertEquals(List.of("load /tmp/vm.state /tmp/vm.mem resume {}"), api.backend.calls());
    }

    @Test
    void diffNeedsDirtyPageTrackingFromMachineConfig() throws Exception {
        assertEquals(204, api.client.sendRaw("PUT", "/machine-config",
                "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": true}").status());
        assertTrue(api.client.get("/machine-config").body().contains("\"track_dirty_pages\":true"), api.client.get("/machine-config").body());
        start();
        assertTrue(api.backend.started.trackDirtyPages(), "the machine is built with tracking");
        assertFault(api.client.sendRaw("PUT", "/snapshot/create", DIFF), "must be paused");
        assertEquals(204, api.client.sendRaw("PATCH", "/vm", "{\"state\": \"Paused\"}").status());
        assertFault(api.client.sendRaw("PUT", "/snapshot/create",
                "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\", \"snapshot_type\": \"diff\"}"), "snapshot_type");
        assertFault(api.client.sendRaw("PUT", "/snapshot/create",
                "{\"snapshot_path\": \"/tmp/s\", \"snapshot_type\": \"Diff\"}"), "mem_file_path");
        assertFault(api.client.sendRaw("PUT", "/snapshot/create",
                "{\"snapshot_path\": \"/tmp/s\", \"mem_file_path\": \"/tmp/m\", \"snapshot_type\": 7}"), "snapshot_type");
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/create", CREATE).status());
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/create", DIFF).status());
        assertEquals(List.of("start", "pause", "snapshot /tmp/vm.state /tmp/vm.mem []", "snapshot-diff /tmp/vm.state /tmp/d.mem []"),
                api.backend.calls());
    }

    @Test
    void trackDirtyPagesOnLoadAllowsDiff() throws Exception {
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/load", LOAD + ", \"track_dirty_pages\": true}").status());
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/create", DIFF).status());
        assertEquals(List.of("load /tmp/vm.state /tmp/vm.mem track {}", "snapshot-diff /tmp/vm.state /tmp/d.mem []"),
                api.backend.calls());
    }

    @Test
    void aMicroVmLoadedWithoutTrackingRefusesDiff() throws Exception {
        assertEquals(204, api.client.sendRaw("PUT", "/snapshot/load", LOAD + ", \"enable_diff_snapshots\": false}").status());
        assertFault(api.client.sendRaw("PUT", "/snapshot/create", DIFF), "snapshot_type Diff needs dirty page tracking");
        assertEquals(List.of("load /tmp/vm.state /tmp/vm.mem {}"), api.backend.calls());
    }
}
