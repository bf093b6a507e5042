package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.guest.GuestAssets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-net as a user of the default guest sees it on the emu engine: HTTP both ways over a TAP Flint
 * creates in a test network namespace ({@link GuestNetChecks}; {@code KvmGuestTest} runs the same on kvm,
 * nested), and the one-line errors for a TAP the host refuses.
 */
@Tag("guest")
class EmuNetTest {
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final String TAP = "flint0";

    @BeforeAll
    static void prerequisites() {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, "network namespaces unavailable: " + reason);
        GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.out);
    }

    @Test
    void hostAndGuestExchangeHttpBothWaysOverATapFlintCreatesAndRemoves(@TempDir Path dir) throws Exception {
        GuestNetChecks.overTheCli("emu", dir);
    }

    @Test
    void aTapTheHostRefusesIsOneLineAndExitStatusTwo() throws Exception {
        try (NetNamespace ns = NetNamespace.create()) {
            // Root without CAP_NET_ADMIN (dropped from the bounding set) may open /dev/net/tun but not create a TAP.
            List<String> unprivileged = new ArrayList<>(ns.wrapper());
            unprivileged.addAll(List.of("setpriv", "--bounding-set=-net_admin"));
            try (FlintProcess flint = FlintProcess.startUnder(unprivileged, "run", "--engine", "emu", "--net", "tap=" + TAP)) {
                assertEquals(2, flint.exitCode(STEP), flint.output());
                assertEquals("flint: no permission to create or attach TAP device " + TAP
                        + " (needs CAP_NET_ADMIN, or a persistent TAP owned by this user)", flint.output().strip());
            }
            // The namespace's own loopback (not the host's) is an interface that is not a TAP.
            try (FlintProcess flint = FlintProcess.startUnder(ns.wrapper(), "run", "--engine", "emu", "--net", "tap=lo")) {
                assertEquals(2, flint.exitCode(STEP), flint.output());
                assertEquals("flint: cannot use lo as a TAP device: an interface of that name exists and is not a"
                        + " single-queue TAP", flint.output().strip());
            }
        }
    }
}
