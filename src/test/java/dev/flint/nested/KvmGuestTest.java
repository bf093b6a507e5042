package dev.flint.nested;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.api.ApiGuestBoot;
import dev.flint.boot.GuestVirtioChecks;
import dev.flint.engine.kvm.KvmEngine;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stock guest on the kvm engine, through both front ends: the virtio disk and entropy checks over
 * {@code flint run}, and the Firecracker API workflow (whose metrics must show ioeventfd and irqfd
 * carried the virtio traffic). Needs a KVM that runs stock kernels, so on this project's PVM hosts it is
 * skipped here and {@link NestedKvmTest} runs it inside L1, where nothing may be skipped.
 */
class KvmGuestTest {
    @BeforeAll
    static void needStockKvm() {
        var kvm = new KvmEngine().availability();
        if (!kvm.usable()) System.err.println("KvmGuestTest skipped here (NestedKvmTest runs it in L1): " + kvm.reason());
        assumeTrue(kvm.usable(), kvm.reason());
    }

    @Test
    void virtioDisksAndEntropyOverTheCli(@TempDir Path dir) throws Exception {
        GuestVirtioChecks.overTheCli("kvm", dir);
    }

    @Test
    void aGuestStartedOverTheApiBootsAndCtrlAltDelEndsIt(@TempDir Path dir) throws Exception {
        ApiGuestBoot.run("kvm", dir);
    }
}
