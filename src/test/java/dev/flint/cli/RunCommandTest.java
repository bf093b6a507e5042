package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.engine.Engine.Availability;
import dev.flint.guest.GuestAssets;
import dev.flint.machine.StopReason;
import dev.flint.vmm.Engines;
import dev.flint.vmm.FakeEngine;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flint run} end to end in-process: real VMM, boot loader and devices, a fake engine instead of a CPU. */
class RunCommandTest {
    private static Path kernel;

    @TempDir Path tmp;

    @BeforeAll
    static void debianKernel() {
        kernel = GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.err).kernel();
    }

    private static CliRunner withGuest(Consumer<FakeEngine.FakeVm> guest) {
        return new CliRunner(new Engines(List.of(
                () -> new FakeEngine("kvm", Availability.no("KVM here is PVM (no VT-x/AMD-V)"), vm -> {}),
                () -> new FakeEngine("emu", Availability.yes(), guest))));
    }

    @Test
    void defaultRunBootsTheFetchedGuestAndExitsZeroOnPowerOff() {
        CliRunner cli = new CliRunner(new Engines(List.of(() -> FakeEngine.printingThenPoweringOff("emu", "Debian GNU/Linux\n"))));
        CliRunner.Result result = cli.run("run");
        assertEquals("Debian GNU/Linux\n", result.stdout());
        assertEquals("", result.stderr());
        assertEquals(0, result.exitCode());
    }

    @Test
    void aGuestRebootAlsoEndsWithZero() {
        CliRunner.Result result = withGuest(vm -> vm.setup().portIo().write(0x64, 1, 0xFE)).run("run", "--kernel", kernel.toString());
        assertEquals(0, result.exitCode(), result.stderr());
    }

    @Test
    void tripleFaultIsOneLineAndExitOne() {
        CliRunner cli = withGuest(vm -> vm.setup().control().requestStop(new StopReason.TripleFault("RIP=ffffffff81000000")));
        CliRunner.Result result = cli.run("run", "--kernel", kernel.toString());
        assertEquals(List.of("flint: the guest triple-faulted (--debug shows the vCPU state)"), result.stderrLines());
        assertEquals(1, result.exitCode());
        CliRunner.Result debug = cli.run("--debug", "run", "--kernel", kernel.toString());
        assertTrue(debug.stderr().contains("RIP=ffffffff81000000"), debug.stderr());
    }

    @Test
    void engineErrorIsOneLineAndExitOne() {
        CliRunner cli = withGuest(vm -> vm.setup().control().requestStop(
                new StopReason.Error("vCPU 0: KVM_RUN failed: Bad address", new IllegalStateException("detail"))));
        CliRunner.Result result = cli.run("run", "--kernel", kernel.toString());
        assertEquals(List.of("flint: vCPU 0: KVM_RUN failed: Bad address"), result.stderrLines());
        assertEquals(1, result.exitCode());
    }

    @Test
    void nvmeControllersBuildsEmptyControllersAndRefusesANegativeCount() {
        CliRunner.Result ok = withGuest(vm -> vm.setup().portIo().write(0x64, 1, 0xFE))
                .run("run", "--kernel", kernel.toString(), "--nvme-controllers", "2");
        assertEquals(0, ok.exitCode(), ok.stderr());
        CliRunner.Result bad = withGuest(vm -> {}).run("run", "--kernel", kernel.toString(), "--nvme-controllers", "-1");
        assertEquals(List.of("flint: --nvme-controllers -1: cannot be negative"), bad.stderrLines());
        assertEquals(2, bad.exitCode());
    }

    @Test
    void aFileThatIsNoKernelIsRejectedInOneLine() throws Exception {
        Path text = Files.writeString(tmp.resolve("README"), "hello\n".repeat(1000));
        CliRunner.Result result = withGuest(vm -> {}).run("run", "--kernel", text.toString());
        assertEquals(2, result.exitCode());
        assertEquals(1, result.stderrLines().size(), result.stderr());
        assertTrue(result.stderr().startsWith("flint: ") && result.stderr().contains(text.toString()), result.stderr());
    }

    @Test
    void anInitrdLargerThanMemoryIsRejectedInOneLine() throws Exception {
        Path initrd = tmp.resolve("huge.img");
        try (RandomAccessFile f = new RandomAccessFile(initrd.toFile(), "rw")) {
            f.setLength(200L << 20); // sparse: costs no disk
        }
        CliRunner.Result result = withGuest(vm -> {}).run("run", "--kernel", kernel.toString(), "--initrd", initrd.toString(), "--memory", "128");
        assertEquals(2, result.exitCode());
        assertEquals(1, result.stderrLines().size(), result.stderr());
        assertTrue(result.stderr().startsWith("flint: initrd"), result.stderr());
    }

    @Test
    void autoOnAPvmHostRunsEmu() {
        CliRunner.Result result = withGuest(vm -> {
            vm.writeSerial("on emu\n");
            vm.setup().control().requestStop(new StopReason.PowerOff());
        }).run("run", "--kernel", kernel.toString(), "--cpus", "4", "--memory", "512");
        assertEquals("on emu\n", result.stdout());
        assertEquals(0, result.exitCode());
    }
}
