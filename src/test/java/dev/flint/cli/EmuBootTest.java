package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import dev.flint.vmm.Engines;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job, end to end: {@code flint run --engine emu} boots Debian's stock kernel on Flint's own CPU
 * with two vCPUs, the guest's init reports both CPUs online, and its power-off ends the run with exit 0.
 */
class EmuBootTest {
    @TempDir Path tmp;

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void stockKernelBootsToInitOnTwoCpusAndPowersOff() throws Exception {
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        guest.fetch(System.err);
        Path initrd = tmp.resolve("marker.cpio.gz");
        Initramfs.marker("FLINT_EMU_BOOT_OK", guest.busybox()).write(initrd);

        CliRunner.Result result = new CliRunner(Engines.standard()).run("run", "--engine", "emu",
                "--kernel", guest.kernel().toString(), "--initrd", initrd.toString(), "--cpus", "2", "--memory", "256",
                "--cmdline", "console=ttyS0 reboot=k panic=-1 quiet");

        assertTrue(result.stdout().contains("FLINT_EMU_BOOT_OK"), result.stdout());
        assertTrue(result.stdout().contains("cpus=2"), result.stdout());
        assertEquals("", result.stderr());
        assertEquals(0, result.exitCode());
    }
}
