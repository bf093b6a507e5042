package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.engine.Engine.Availability;
import dev.flint.vmm.Engines;
import dev.flint.vmm.FakeEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's contract with its user: help, one-line errors, exit codes. */
class MainTest {
    private static final String NO_KVM = "/dev/kvm does not exist (no KVM on this host)";

    @TempDir Path tmp;

    /** A host like ours without /dev/kvm: kvm unusable, emu usable (both fake: no CPU runs here). */
    private final CliRunner cli = new CliRunner(new Engines(List.of(
            () -> new FakeEngine("kvm", Availability.no(NO_KVM), vm -> {}),
            () -> FakeEngine.printingThenPoweringOff("emu", "hello\n"))));

    private static void assertOneLineError(CliRunner.Result result, int exitCode, String line) {
        assertEquals(List.of(line), result.stderrLines(), "stderr");
        assertEquals(exitCode, result.exitCode(), "exit code");
        assertEquals("", result.stdout(), "stdout");
    }

    @Test
    void helpListsTheCommandsAndExitsZero() {
        CliRunner.Result help = cli.run("--help");
        assertEquals(0, help.exitCode());
        assertTrue(help.stdout().startsWith("Usage: flint"), help.stdout());
        for (String command : List.of("run ", "guest ", "image ", "vmm ")) assertTrue(help.stdout().contains(command), help.stdout());
        assertEquals("", help.stderr());
    }

    @Test
    void theTopLevelUsageFromCommandSummariesIsTheWholeTreesUsage() {
        // `flint --help` (and `flint` alone) build only each command's name and description; every other
        // command line builds the whole tree, whose top-level usage must read the same.
        CliContext context = new CliContext(System.in, System.out, System.err, () -> false, Engines.standard(), tmp);
        String whole = Main.commandLine(new String[] {"run"}, context, new FlintCommand(context)).getUsageMessage();
        for (String[] args : List.of(new String[] {"--help"}, new String[] {}, new String[] {"--debug", "-h"})) {
            assertEquals(whole, Main.commandLine(args, context, new FlintCommand(context)).getUsageMessage(), String.join(" ", args));
        }
        assertTrue(whole.contains("\n  snapshot  "), whole);
        assertEquals(Main.COMMANDS.size() + 1, new java.util.HashSet<>(Main.commandLine(new String[] {"run"}, context,
                new FlintCommand(context)).getSubcommands().values()).size(), "COMMANDS lists every command of the whole tree but vmm");
    }

    @Test
    void eachCommandHasItsOwnHelp() {
        CliRunner.Result run = cli.run("run", "--help");
        assertEquals(0, run.exitCode());
        for (String option : List.of("--engine", "--kernel", "--initrd", "--cmdline", "--cpus", "--memory", "--debug")) {
            assertTrue(run.stdout().contains(option), option + " in " + run.stdout());
        }
        CliRunner.Result vmm = cli.run("vmm", "--help");
        assertEquals(0, vmm.exitCode());
        assertTrue(vmm.stdout().contains("--api-sock"), vmm.stdout());
        CliRunner.Result fetch = cli.run("guest", "fetch", "--help");
        assertEquals(0, fetch.exitCode());
        assertTrue(fetch.stdout().startsWith("Usage: flint guest fetch"), fetch.stdout());
    }

    @Test
    void vmmParsesAloneYetBehavesAsAnyCommand() {
        // `flint vmm` is built without the other commands (start-up time); its options, the global --debug
        // and its errors must not notice.
        CliRunner.Result help = cli.run("--debug", "vmm", "--help");
        assertEquals(0, help.exitCode());
        assertTrue(help.stdout().startsWith("Usage: flint vmm"), help.stdout());
        assertOneLineError(cli.run("vmm", "--no-such-option"), 2,
                "flint: Unknown option: '--no-such-option' (see 'flint vmm --help')");
        assertTrue(Main.runsVmm(new String[] {"--debug", "vmm"}));
        assertFalse(Main.runsVmm(new String[] {"run", "vmm"}));
    }

    @Test
    void imageBuildRefusesBadInputWithOneLineAndKeepsAnExistingFile() throws Exception {
        Path existing = java.nio.file.Files.writeString(tmp.resolve("mine.ext4"), "the user's data");
        assertOneLineError(cli.run("image", "build", "--output", existing.toString()), 2,
                "flint: " + existing + " exists; pass --force to replace it");
        assertEquals("the user's data", java.nio.file.Files.readString(existing));
        assertOneLineError(cli.run("image", "build", "--rootfs", "alpine", "--output", tmp.resolve("a.ext4").toString()), 2,
                "flint: --rootfs must be busybox or debian, not 'alpine'");
        assertOneLineError(cli.run("image", "build", "--size", "4", "--output", tmp.resolve("b.ext4").toString()), 2,
                "flint: --size 4 MiB is too small: at least 16 MiB");
        CliRunner.Result help = cli.run("image", "build", "--help");
        assertEquals(0, help.exitCode());
        assertTrue(help.stdout().contains("--rootfs") && help.stdout().contains("root=/dev/vda"), help.stdout());
    }

    @Test
    void noCommandIsAUsageError() {
        CliRunner.Result result = cli.run();
        assertEquals(2, result.exitCode());
        assertEquals("flint: no command given", result.stderrLines().getFirst());
    }

    @Test
    void badValuesGetOneLineAndExitCodeTwo() {
        assertOneLineError(cli.run("run", "--cpus", "two"), 2,
                "flint: Invalid value for option '--cpus': 'two' is not an int (see 'flint run --help')");
        assertOneLineError(cli.run("run", "--memory", "1G"), 2,
                "flint: Invalid value for option '--memory': '1G' is not a long (see 'flint run --help')");
        assertOneLineError(cli.run("run", "--cpus", "0"), 2, "flint: --cpus 0: a VM needs at least 1 vCPU");
        assertOneLineError(cli.run("run", "--memory", "16"), 2, "flint: guest memory 16 MiB is too small: at least 64 MiB needed");
        assertOneLineError(cli.run("run", "--engine", "tcg"), 2, "flint: unknown engine 'tcg' (choose one of auto, kvm, emu)");
        assertOneLineError(cli.run("run", "--turbo"), 2, "flint: Unknown option: '--turbo' (see 'flint run --help')");
        assertOneLineError(cli.run("run", "--drive", "disk.img,rw"), 2, "flint: Invalid value for option '--drive' (PATH[,ro][,if=virtio|nvme]): "
                + "--drive: unknown option 'rw' (options: ro, if=virtio|nvme|vhost-user, serial=ID, bandwidth=SIZE/MS[/BURST], ops=SIZE/MS[/BURST]): "
                + "disk.img,rw (see 'flint run --help')");
        assertOneLineError(cli.run("run", "--net", "tap=tap0,mac=06:00:0a:00:00"), 2, "flint: Invalid value for option '--net' "
                + "(tap=NAME[,mac=MAC]): mac: '06:00:0a:00:00' is not a MAC address like 06:00:ac:10:00:02 (see 'flint run --help')");
        assertOneLineError(cli.run("run", "--net", "tap=a-very-long-tap-name"), 2, "flint: Invalid value for option '--net' "
                + "(tap=NAME[,mac=MAC]): TAP name 'a-very-long-tap-name' is too long: at most 15 bytes (see 'flint run --help')");
        assertOneLineError(cli.run("launch"), 2, "flint: Unmatched argument at index 0: 'launch' (see 'flint --help')");
    }

    @Test
    void missingFilesAreNamed() throws Exception {
        Path missing = tmp.resolve("vmlinuz");
        assertOneLineError(cli.run("run", "--kernel", missing.toString()), 2, "flint: kernel not found: " + missing);
        Path kernel = Files.writeString(tmp.resolve("kernel"), "not really");
        assertOneLineError(cli.run("run", "--kernel", kernel.toString(), "--initrd", tmp.resolve("initrd").toString()), 2,
                "flint: initrd not found: " + tmp.resolve("initrd"));
    }

    @Test
    void askingForKvmWhereItCannotRunGivesItsReason() {
        assertOneLineError(cli.run("run", "--engine", "kvm"), 1, "flint: engine kvm: " + NO_KVM);
    }

    @Test
    void debugAddsTheStackTrace() {
        CliRunner.Result result = cli.run("--debug", "run", "--cpus", "0");
        assertEquals(2, result.exitCode());
        assertEquals("flint: --cpus 0: a VM needs at least 1 vCPU", result.stderrLines().getFirst());
        assertTrue(result.stderr().contains("at dev.flint.vmm.VmConfig.checkMachine"), result.stderr());
        // --debug is global: it also works after the subcommand.
        assertTrue(cli.run("run", "--cpus", "0", "--debug").stderr().contains("\tat "));
    }
}
