package dev.flint.api;

import static dev.flint.api.ApiAssertions.assertFault;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.Drive;
import dev.flint.api.generated.model.EntropyDevice;
import dev.flint.api.generated.model.FirecrackerVersion;
import dev.flint.api.generated.model.FullVmConfiguration;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.InstanceInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.api.generated.model.NetworkInterface;
import dev.flint.api.generated.model.PartialDrive;
import dev.flint.api.generated.model.PartialNetworkInterface;
import dev.flint.api.generated.model.RateLimiter;
import dev.flint.api.generated.model.SerialDevice;
import dev.flint.api.generated.model.TokenBucket;
import dev.flint.api.generated.model.Vm;
import dev.flint.machine.StopReason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every implemented endpoint, driven with models generated from Firecracker's spec, against a fake VMM. */
class ApiEndpointsTest extends ApiTestBase {
    private UnixSocketClient client;

    @BeforeEach
    void client() {
        client = api.client;
    }

    private static InstanceActionInfo action(InstanceActionInfo.ActionTypeEnum type) {
        return new InstanceActionInfo().actionType(type);
    }

    private void bootSource() throws Exception {
        assertEquals(204, client.send("PUT", "/boot-source",
                new BootSource().kernelImagePath(api.kernel.toString()).bootArgs("console=ttyS0 quiet")).status());
    }

    private void start() throws Exception {
        bootSource();
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
    }

    @Test
    void describesTheInstanceAndVersion() throws Exception {
        var reply = client.get("/");
        assertEquals(200, reply.status());
        InstanceInfo info = reply.as(InstanceInfo.class);
        assertEquals("test-vm", info.getId());
        assertEquals(InstanceInfo.StateEnum.NOT_STARTED, info.getState());
        assertEquals("Flint", info.getAppName());
        assertNotNull(info.getVmmVersion());
        assertEquals(VmmController.API_VERSION, client.get("/version").as(FirecrackerVersion.class).getFirecrackerVersion());
    }

    @Test
    void machineConfigHasFirecrackerDefaultsAndPutResetsWhatPatchKeeps() throws Exception {
        MachineConfiguration initial = client.get("/machine-config").as(MachineConfiguration.class);
        assertEquals(1, initial.getVcpuCount());
        assertEquals(128, initial.getMemSizeMib());

        assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(2).memSizeMib(256)).status());
        assertEquals(204, client.sendRaw("PATCH", "/machine-config", "{\"mem_size_mib\": 512}").status());
        MachineConfiguration now = client.get("/machine-config").as(MachineConfiguration.class);
        assertEquals(2, now.getVcpuCount());
        assertEquals(512, now.getMemSizeMib());
        assertEquals(false, now.getSmt());
    }

    @Test
    void badMachineConfigIsRefusedAndChangesNothing() throws Exception {
        assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(2).memSizeMib(256)).status());
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 128}"), "vcpu_count");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 128}"), "vcpu_count");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2}"), "mem_size_mib");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}"), "vcpu_count");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}"), "vcpu_count");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": 1}"), "smt");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"turbo\": true}"), "turbo");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 128} {}"), "JSON");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2, \"vcpu_count\": 3, \"mem_size_mib\": 1}"), "vcpu_count");
        assertFault(client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2,"), "JSON");
        assertFault(client.sendRaw("PUT", "/machine-config", "null"), "object");
        assertFault(client.sendRaw("PUT", "/machine-config", "[]"), "");
        assertFault(client.sendRaw("PUT", "/machine-config", null), "body");
        assertFault(client.sendRaw("PATCH", "/machine-config", "{\"smt\": true}"), "not supported by Flint");
        assertFault(client.sendRaw("PATCH", "/machine-config", "{\"huge_pages\": \"1G\"}"), "huge_pages");
        assertFault(client.sendRaw("PATCH", "/machine-config", "{\"cpu_template\": \"T2\"}"), "not supported by Flint");
        MachineConfiguration now = client.get("/machine-config").as(MachineConfiguration.class);
        assertEquals(2, now.getVcpuCount());
        assertEquals(256, now.getMemSizeMib());
    }

    @Test
    void bootSourceNeedsAnExistingKernel() throws Exception {
        assertFault(client.send("PUT", "/boot-source", new BootSource().kernelImagePath(dir.resolve("nope").toString())), "no such file");
        assertFault(client.sendRaw("PUT", "/boot-source", "{\"boot_args\": \"quiet\"}"), "kernel_image_path");
        assertFault(client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())
                .initrdPath(dir.toString())), "initrd_path");
        bootSource();
        var config = client.get("/vm/config").as(FullVmConfiguration.class);
        assertEquals(api.kernel.toString(), config.getBootSource().getKernelImagePath());
        assertEquals("console=ttyS0 quiet", config.getBootSource().getBootArgs());
    }

    @Test
    void instanceStartBootsThroughTheBackendAndLocksTheConfiguration() throws Exception {
        assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(2).memSizeMib(256)).status());
        start();
        MachineSpec spec = api.backend.started;
        assertNotNull(spec);
        assertEquals(api.kernel, spec.kernel());
        assertEquals(2, spec.vcpus());
        assertEquals(256, spec.memoryMib());
        assertEquals("console=ttyS0 quiet", spec.cmdline());
        assertNull(spec.initrd());
        assertEquals(InstanceInfo.StateEnum.RUNNING, client.get("/").as(InstanceInfo.class).getState());

        // Pre-boot-only requests are refused, as Firecracker does, and change nothing.
        assertFault(client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(1).memSizeMib(128)),
                VmmController.NOT_AFTER_START);
        assertFault(client.sendRaw("PATCH", "/machine-config", "{\"vcpu_count\": 1}"), VmmController.NOT_AFTER_START);
        assertFault(client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())),
                VmmController.NOT_AFTER_START);
        assertFault(client.send("PUT", "/entropy", new EntropyDevice()), VmmController.NOT_AFTER_START);
        assertFault(client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)),
                VmmController.NOT_AFTER_START);
        assertEquals(List.of("start"), api.backend.calls());
        assertEquals(2, client.get("/vm/config").as(FullVmConfiguration.class).getMachineConfig().getVcpuCount());
        assertEquals(2, client.get("/machine-config").as(MachineConfiguration.class).getVcpuCount());
    }

    @Test
    void pauseResumeAndCtrlAltDelAreForARunningVm() throws Exception {
        assertFault(client.send("PATCH", "/vm", new Vm().state(Vm.StateEnum.PAUSED)), VmmController.NOT_BEFORE_START);
        assertFault(client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.SEND_CTRL_ALT_DEL)),
                VmmController.NOT_BEFORE_START);
        start();
        assertEquals(204, client.send("PATCH", "/vm", new Vm().state(Vm.StateEnum.PAUSED)).status());
        assertEquals(InstanceInfo.StateEnum.PAUSED, client.get("/").as(InstanceInfo.class).getState());
        assertEquals(204, client.send("PATCH", "/vm", new Vm().state(Vm.StateEnum.RESUMED)).status());
        assertEquals(InstanceInfo.StateEnum.RUNNING, client.get("/").as(InstanceInfo.class).getState());
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.SEND_CTRL_ALT_DEL)).status());
        assertFault(client.sendRaw("PATCH", "/vm", "{\"state\": \"Stopped\"}"), "state");
        assertFault(client.sendRaw("PUT", "/actions", "{\"action_type\": \"Reboot\"}"), "action_type");
        assertEquals(List.of("start", "pause", "resume", "ctrl-alt-del"), api.backend.calls());
    }

    @Test
    void startNeedsABootSourceAndReportsBackendRefusals() throws Exception {
        assertFault(client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)), "kernel");
        bootSource();
        api.backend.refuseStart = "not a kernel Flint can boot (neither bzImage, ELF nor Multiboot): " + api.kernel;
        assertFault(client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)), "not a kernel Flint can boot");
        assertEquals(InstanceInfo.StateEnum.NOT_STARTED, client.get("/").as(InstanceInfo.class).getState());
    }

    @Test
    void drivesAreValidatedAndKeptButStartRefusesWhatTheVmmCannotAttach() throws Exception {
        Path disk = Files.write(dir.resolve("rootfs.ext4"), new byte[8192]);
        Drive root = new Drive().driveId("rootfs").pathOnHost(disk.toString()).isRootDevice(true).isReadOnly(false);
        assertFault(client.send("PUT", "/drives/other", root), "does not match");
        assertFault(client.send("PUT", "/drives/rootfs", new Drive().driveId("rootfs").isRootDevice(true)
                .pathOnHost(dir.resolve("missing.img").toString())), "missing.img");
        assertFault(client.sendRaw("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\"}"),
                "is_root_device");
        assertFault(client.send("PUT", "/drives/rootfs", new Drive().driveId("rootfs").isRootDevice(true)
                .socket(dir.resolve("no-vhost.sock").toString())), "is not a Unix socket");
        assertFault(client.send("PUT", "/drives/rootfs", new Drive().driveId("rootfs").isRootDevice(true).pathOnHost(disk.toString())
                .rateLimiter(new RateLimiter().bandwidth(new TokenBucket().size(1000L)))), "rate_limiter.bandwidth.refill_time");
        assertEquals(204, client.send("PUT", "/drives/rootfs", root).status());
        assertEquals(204, client.send("PUT", "/drives/data", new Drive().driveId("data").pathOnHost(disk.toString())
                .isRootDevice(false).isReadOnly(true)).status());
        assertFault(client.send("PUT", "/drives/second", new Drive().driveId("second").pathOnHost(disk.toString())
                .isRootDevice(true)), "root block device already exists");
        assertFault(client.send("PATCH", "/drives/rootfs", new PartialDrive().driveId("rootfs").pathOnHost(disk.toString())),
                VmmController.NOT_BEFORE_START);

        List<Drive> drives = client.get("/vm/config").as(FullVmConfiguration.class).getDrives();
        assertEquals(List.of("rootfs", "data"), drives.stream().map(Drive::getDriveId).toList());

        bootSource();
        var refused = client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START));
        assertFault(refused, "block devices");
        assertTrue(refused.fault().contains("rootfs"), refused.fault());
        assertNull(api.backend.started, "nothing may boot with devices missing");

        api.backend.capabilities = new VmmBackend.Capabilities(true, false, false);
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
        MachineSpec spec = api.backend.started;
        assertEquals("rootfs", spec.drives().getFirst().id());
        assertTrue(spec.cmdline().endsWith("root=/dev/vda rw"), spec.cmdline());
        assertFault(client.send("PATCH", "/drives/rootfs", new PartialDrive().driveId("rootfs").pathOnHost(disk + ".new")),
                "not supported by Flint");
        assertFault(client.send("PATCH", "/drives/scratch", new PartialDrive().driveId("scratch")), "no drive with id scratch");
    }

    @Test
    void flintsInterfaceFieldMakesANvmeDriveAndTheRootDeviceFollows() throws Exception {
        Path disk = Files.write(dir.resolve("vol.img"), new byte[8192]);
        assertFault(client.sendRaw("PUT", "/drives/vol", "{\"drive_id\": \"vol\", \"path_on_host\": \"" + disk
                + "\", \"is_root_device\": true, \"interface\": \"scsi\"}"), "interface");
        assertEquals(204, client.sendRaw("PUT", "/drives/vol", "{\"drive_id\": \"vol\", \"path_on_host\": \"" + disk
                + "\", \"is_root_device\": true, \"interface\": \"nvme\"}").status());
        bootSource();
        api.backend.capabilities = new VmmBackend.Capabilities(true, false, false);
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
        MachineSpec spec = api.backend.started;
        assertTrue(spec.drives().getFirst().nvme());
        assertTrue(spec.cmdline().endsWith("root=/dev/nvme0n1 rw"), spec.cmdline());
    }

    @Test
    void networkInterfacesAreValidatedKeptAndBootOnlyWhereVirtioNetIs() throws Exception {
        NetworkInterface eth0 = new NetworkInterface().ifaceId("eth0").hostDevName("tap0").guestMac("06:00:AC:10:00:02");
        assertFault(client.send("PUT", "/network-interfaces/eth0", new NetworkInterface().ifaceId("eth0")
                .hostDevName("tap0").guestMac("06:00:AC:10:00")), "guest_mac");
        assertFault(client.send("PUT", "/network-interfaces/eth0", new NetworkInterface().ifaceId("eth0")
                .hostDevName("a-name-longer-than-ifnamsiz")), "host_dev_name");
        assertFault(client.send("PUT", "/network-interfaces/eth0", new NetworkInterface().ifaceId("eth0")
                .hostDevName("tap0").mtu(40)), "mtu");
        assertFault(client.sendRaw("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}"), "host_dev_name");
        assertEquals(204, client.send("PUT", "/network-interfaces/eth0", eth0).status());
        assertFault(client.send("PUT", "/network-interfaces/eth1", new NetworkInterface().ifaceId("eth1")
                .hostDevName("tap0")), "already used");
        assertFault(client.send("PATCH", "/network-interfaces/eth0", new PartialNetworkInterface().ifaceId("eth0")),
                VmmController.NOT_BEFORE_START);
        assertEquals("tap0", client.get("/vm/config").as(FullVmConfiguration.class).getNetworkInterfaces().getFirst().getHostDevName());
        bootSource();
        assertFault(client.send("PUT", "/network-interfaces/eth1", new NetworkInterface().ifaceId("eth1").hostDevName("tap1")
                .rxRateLimiter(new RateLimiter().bandwidth(new TokenBucket().size(-1L).refillTime(100L)))), "rx_rate_limiter.bandwidth");
        assertFault(client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)), "network interfaces");
        assertNull(api.backend.started);

        api.backend.capabilities = new VmmBackend.Capabilities(false, true, false);
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
        assertEquals(List.of(new MachineSpec.NetSpec("eth0", "tap0", "06:00:AC:10:00:02", null)),
                api.backend.started.networkInterfaces());
        assertEquals(204, client.send("PATCH", "/network-interfaces/eth0", new PartialNetworkInterface().ifaceId("eth0")
                .txRateLimiter(new RateLimiter())).status());
        assertFault(client.send("PUT", "/network-interfaces/eth1", new NetworkInterface().ifaceId("eth1").hostDevName("tap1")),
                VmmController.NOT_AFTER_START);
    }

    @Test
    void entropyAndSerialAreConfiguredBeforeBoot() throws Exception {
        assertEquals(204, client.send("PUT", "/serial", new SerialDevice().serialOutPath(dir.resolve("console.log").toString())).status());
        assertFault(client.send("PUT", "/serial", new SerialDevice().serialOutPath("/no/such/dir/console.log")), "no such directory");
        assertEquals(204, client.send("PUT", "/entropy", new EntropyDevice()).status());
        assertNotNull(client.get("/vm/config").as(FullVmConfiguration.class).getEntropy());
        bootSource();
        assertFault(client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)), "entropy");
        api.backend.capabilities = new VmmBackend.Capabilities(false, false, true);
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
        assertTrue(api.backend.started.entropy());
        assertEquals(dir.resolve("console.log"), api.backend.started.serialOut());
    }

    @Test
    void withoutBootArgsTheGuestGetsFlintsDefaultCommandLine() throws Exception {
        assertEquals(204, client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())).status());
        assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
        assertEquals("console=ttyS0 reboot=k panic=-1", api.backend.started.cmdline());
    }

    @Test
    void vmConfigCanBeFedBackAsAConfigFile() throws Exception {
        assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(4).memSizeMib(512)).status());
        start();
        byte[] exported = client.get("/vm/config").body().getBytes(java.nio.charset.StandardCharsets.UTF_8);

        FakeBackend second = new FakeBackend();
        try (VmmController replay = new VmmController("replay", second, false)) {
            replay.bootFrom(Json.parse(exported, dev.flint.api.model.FullVmConfiguration.class));
        }
        assertEquals(api.backend.started, second.started);
    }

    @Test
    void guestStopCompletesTheController() throws Exception {
        start();
        assertFalse(api.vmm.stopped().isDone());
        api.backend.running.complete(new StopReason.PowerOff());
        assertEquals(new StopReason.PowerOff(), api.vmm.stopped().get(5, TimeUnit.SECONDS));
    }
}
