package dev.flint.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.testing.Await;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The pause handshake of KVM vCPU threads, without KVM: a thread with an I/O exit pending gets one more
 * run before it parks (KVM completes the instruction only then), and a snapshot sees all threads parked
 * only once each has parked.
 */
class VcpuControlTest {
    private static final Duration WAIT = Duration.ofMinutes(2);

    @Test
    void aVcpuWithAnExitPendingRunsOnceMoreBeforeItParks() throws Exception {
        VcpuControl control = new VcpuControl(1);
        control.requestPause();
        assertTrue(control.pausing());
        assertTrue(control.awaitRunnable(true), "a pending exit is completed first, not parked on");
        assertFalse(control.allParked());

        AtomicBoolean resumed = new AtomicBoolean();
        Thread vcpu = Thread.ofPlatform().start(() -> resumed.set(control.awaitRunnable(false)));
        control.awaitAllParked();
        assertTrue(control.allParked());
        assertEquals(1, control.parked());
        assertFalse(resumed.get(), "held while paused");

        control.resume();
        vcpu.join(WAIT.toMillis());
        assertTrue(resumed.get(), "runs again after resume");
        assertFalse(control.pausing());
        assertFalse(control.allParked());
    }

    @Test
    void aStopReleasesAParkedVcpuAndIsNotAPause() throws Exception {
        VcpuControl control = new VcpuControl(1);
        control.requestPause();
        AtomicBoolean runnable = new AtomicBoolean(true);
        Thread vcpu = Thread.ofPlatform().start(() -> runnable.set(control.awaitRunnable(false)));
        Await.until("the vCPU parks", WAIT, () -> control.parked() == 1);
        control.requestStop();
        vcpu.join(WAIT.toMillis());
        assertFalse(runnable.get(), "a stopping VM ends its vCPU threads");
        assertFalse(control.pausing());
        assertFalse(control.allParked(), "no snapshot of a stopping VM");
    }
}
