package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.engine.emu.EmuEngine;
import dev.flint.vmm.Engines;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flint vmm --debug-exit PORT}: the Firecracker-API VMM gets the isa-debug-exit device too, so a test
 * kernel booted from a config file ends {@code flint vmm} with its own exit status, as under {@code flint run}.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class VmmDebugExitTest {
    @TempDir Path tmp;

    private final CliRunner cli = new CliRunner(new Engines(List.of(EmuEngine::standard)));

    @Test
    void aMultibootKernelEndsFlintVmmWithItsDebugExitValue() throws Exception {
        Path kernel = new ProtectedModeKernel().add("hello-from-vmm", "nop").build(tmp);
        Path config = Files.writeString(tmp.resolve("vm.json"), """
                {"boot-source": {"kernel_image_path": "%s", "boot_args": "test"},
                 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
                """.formatted(kernel));
        CliRunner.Result r = cli.run("vmm", "--no-api", "--config-file", config.toString(), "--engine", "emu",
                "--debug-exit", "0xf4");
        assertEquals("hello-from-vmm ok\n", r.stdout(), r.stderr());
        assertEquals((ProtectedModeKernel.DONE << 1) | 1, r.exitCode(), r.stderr());
    }

    @Test
    void aPortOutsideTheIoSpaceIsAUsageError() throws Exception {
        CliRunner.Result bad = cli.run("vmm", "--no-api", "--config-file", tmp.resolve("none.json").toString(),
                "--debug-exit", "0x10000");
        assertEquals(2, bad.exitCode(), bad.stderr());
        assertEquals(1, bad.stderr().lines().count(), bad.stderr());
        assertTrue(bad.stderr().contains("--debug-exit"), bad.stderr());
    }
}
