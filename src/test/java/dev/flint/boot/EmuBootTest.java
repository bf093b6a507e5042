package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Debian's stock kernel on Flint's own CPU, end to end through the CLI: what issue 3 promises a user on a
 * host without hardware virtualization. The guest assets come from the Debian registry (fetched once
 * into the normal cache).
 */
@Tag("guest")
class EmuBootTest {
    private static final Duration BOOT = Duration.ofMinutes(10);
    private static final String MARKER = "FLINT-EMU-BOOT-OK";
    private static GuestAssets assets;
    private static Path markerInitrd;

    @BeforeAll
    static void fetchGuest() throws Exception {
        assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path dir = Files.createDirectories(Path.of("target", "emu-boot").toAbsolutePath());
        markerInitrd = dir.resolve("marker.cpio.gz");
        Initramfs.marker(MARKER, assets.busybox()).write(markerInitrd);
    }

    @ParameterizedTest(name = "--cpus {0}")
    @ValueSource(ints = {1, 2})
    void bootsTheStockKernelToTheMarkerAndPowersOff(int cpus) throws Exception {
        try (FlintProcess flint = FlintProcess.start("run", "--engine", "emu", "--boot-timer", "--cpus", Integer.toString(cpus),
                "--memory", "256", "--kernel", assets.kernel().toString(), "--initrd", markerInitrd.toString())
                .noInput()) {
            int code = flint.exitCode(BOOT);
            String out = flint.output();
            assertTrue(out.contains(MARKER), out);
            assertTrue(out.contains("cpus=" + cpus), "the guest must see " + cpus + " CPU(s):\n" + out);
            assertTrue(out.contains("Guest-boot-time = "), "the guest's boot-timer write must be reported:\n" + out);
            assertEquals(0, code, "poweroff in the guest must end flint with 0:\n" + out);
            assertFalse(out.contains("Marking TSC unstable"),
                    "the guest clock must stay on the TSC (guest time follows the host's clock):\n" + out);
        }
    }

    @Test
    void theDefaultGuestIsAShellThatAnswersATypedCommandAndPowerOffEndsFlint() throws Exception {
        try (FlintProcess flint = FlintProcess.start("run", "--engine", "emu", "--memory", "256")) {
            flint.await("Flint guest: busybox", BOOT);
            flint.await("# ", Duration.ofMinutes(2));
            flint.type("echo answer-$((6*7))");
            flint.await("answer-42", Duration.ofMinutes(2));
            flint.type("poweroff -f");
            assertEquals(0, flint.exitCode(Duration.ofMinutes(2)), flint.output());
        }
    }
}
