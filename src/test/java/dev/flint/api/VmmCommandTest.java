package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.FullVmConfiguration;
import dev.flint.api.generated.model.InstanceInfo;
import dev.flint.machine.StopReason;
import dev.flint.testing.Await;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code flint vmm} in-process, with a fake VMM: config-file boots, option checks, exit codes. */
class VmmCommandTest {
    @TempDir
    Path dir;

    private record Run(CompletableFuture<Integer> exit, StringWriter err) {}

    private Run launch(FakeBackend backend, String... args) {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new VmmCommand(engine -> backend).spec()).setErr(new PrintWriter(err, true));
        return new Run(CompletableFuture.supplyAsync(() -> cli.execute(args), r -> Thread.ofPlatform().daemon().start(r)), err);
    }

    private static void awaitSocket(Path socket) {
        Await.until("a socket exists at " + socket, () -> Files.exists(socket));
    }

    @Test
    void configFileBootsWithoutAnyApiCallAndVmConfigReportsIt() throws Exception {
        Path kernel = Files.write(dir.resolve("vmlinuz"), new byte[64]);
        Path config = Files.writeString(dir.resolve("vm.json"), """
                {
                  "boot-source": {"kernel_image_path": "%s", "boot_args": "console=ttyS0 panic=-1"},
                  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
                  "logger": {"log_path": "%s", "level": "Debug"},
                  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap7", "guest_mac": "06:00:ac:10:00:07"}]
                }""".formatted(kernel, dir.resolve("vm.log")));
        Path socket = dir.resolve("vm.sock");
        FakeBackend backend = new FakeBackend();
        backend.capabilities = new VmmBackend.Capabilities(false, true, false);
        Run run = launch(backend, "--api-sock", socket.toString(), "--config-file", config.toString(), "--id", "vm-7");
        awaitSocket(socket);
        try (UnixSocketClient client = new UnixSocketClient(socket)) {
            Await.until("the instance runs", () -> client.get("/").as(InstanceInfo.class).getState() == InstanceInfo.StateEnum.RUNNING);
            InstanceInfo info = client.get("/").as(InstanceInfo.class);
            assertEquals("vm-7", info.getId());
            FullVmConfiguration running = client.get("/vm/config").as(FullVmConfiguration.class);
            assertEquals(2, running.getMachineConfig().getVcpuCount());
            assertEquals("console=ttyS0 panic=-1", running.getBootSource().getBootArgs());
            assertEquals(dir.resolve("vm.log").toString(), running.getLogger().getLogPath());
            assertEquals("tap7", running.getNetworkInterfaces().getFirst().getHostDevName());
        }
        assertNotNull(backend.started);
        assertEquals(List.of(new MachineSpec.NetSpec("eth0", "tap7", "06:00:ac:10:00:07", null)), backend.started.networkInterfaces());
        backend.running.complete(new StopReason.PowerOff());
        assertEquals(0, run.exit().get(10, TimeUnit.SECONDS), run.err().toString());
        assertTrue(Files.notExists(socket), "the socket is removed on exit");
    }

    @Test
    void noApiRunsFromTheConfigFileAloneAndAFailedGuestExitsNonZero() throws Exception {
        Path kernel = Files.write(dir.resolve("vmlinuz"), new byte[64]);
        Path config = Files.writeString(dir.resolve("vm.json"),
                "{\"boot-source\": {\"kernel_image_path\": \"" + kernel + "\"}}");
        FakeBackend backend = new FakeBackend();
        Run run = launch(backend, "--no-api", "--config-file", config.toString(), "--api-sock", dir.resolve("s").toString());
        Await.until("the backend booted from the file", () -> backend.started != null);
        assertTrue(Files.notExists(dir.resolve("s")), "--no-api serves nothing");
        backend.running.complete(new StopReason.TripleFault("rip=0"));
        assertEquals(1, run.exit().get(10, TimeUnit.SECONDS));
        assertTrue(run.err().toString().contains("triple fault"), run.err().toString());
    }

    @Test
    void badInvocationsFailWithOneLine() throws Exception {
        FakeBackend backend = new FakeBackend();
        Run noApi = launch(backend, "--no-api");
        assertEquals(1, noApi.exit().get(10, TimeUnit.SECONDS));
        assertEquals("flint vmm: --no-api needs --config-file (nothing could start the microVM)", noApi.err().toString().strip());

        Run tinyMmds = launch(backend, "--mmds-size-limit", "1", "--api-sock", dir.resolve("m").toString());
        assertEquals(1, tinyMmds.exit().get(10, TimeUnit.SECONDS));
        assertEquals("flint vmm: --mmds-size-limit must be at least 2", tinyMmds.err().toString().strip());

        Path cpuConfig = Files.writeString(dir.resolve("cpu.json"), "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"cpu-config\": {}}");
        Run unknown = launch(backend, "--no-api", "--config-file", cpuConfig.toString());
        assertEquals(1, unknown.exit().get(10, TimeUnit.SECONDS));
        assertTrue(unknown.err().toString().contains("unknown field `cpu-config`"), unknown.err().toString());

        Path noKernel = Files.writeString(dir.resolve("nokernel.json"), "{\"boot-source\": {\"kernel_image_path\": \"/no/such/kernel\"}}");
        Run missing = launch(backend, "--no-api", "--config-file", noKernel.toString());
        assertEquals(1, missing.exit().get(10, TimeUnit.SECONDS));
        assertTrue(missing.err().toString().contains("/no/such/kernel: no such file"), missing.err().toString());
        assertEquals(1, missing.err().toString().strip().lines().count());
    }

    @Test
    void aLiveSocketIsNotTakenOver() throws Exception {
        try (ApiFixture live = new ApiFixture(dir)) {
            Run second = launch(new FakeBackend(), "--api-sock", live.socket.toString());
            assertEquals(1, second.exit().get(10, TimeUnit.SECONDS));
            String err = second.err().toString().strip();
            assertTrue(err.startsWith("flint vmm: API socket") && err.contains("in use"), err);
            assertEquals(1, err.lines().count(), err);
            assertEquals(200, live.client.get("/").status());
        }
    }
}
