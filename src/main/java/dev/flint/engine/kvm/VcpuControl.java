package dev.flint.engine.kvm;

/**
 * The requests the VMM side makes of all vCPU threads of one VM (run, pause, stop), and what those
 * threads report back. vCPU threads call {@link #awaitRunnable} before every KVM_RUN; the requester
 * changes the state here and then kicks every vCPU out of the guest so they look.
 */
final class VcpuControl {
    private final int threads;
    private boolean paused;
    private boolean stopping;
    private int parked;
    private int exited;

    VcpuControl(int threads) { this.threads = threads; }

    /**
     * Called by a vCPU thread; blocks while paused. False once the VM is stopping. A thread whose last exit
     * was port I/O or MMIO passes {@code exitPending}: KVM finishes that instruction only on the next KVM_RUN,
     * so it must not park before one more (immediate-exit) run; see {@link #pausing}.
     */
    synchronized boolean awaitRunnable(boolean exitPending) {
        if (paused && !stopping && !exitPending) {
            parked++;
            notifyAll();
            while (paused && !stopping) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    // vCPU threads are ended through the stop request, not interrupts; keep waiting.
                }
            }
            parked--;
        }
        return !stopping;
    }

    synchronized void exited() {
        exited++;
        notifyAll();
    }

    synchronized void requestPause() { paused = true; }

    /** A pause is requested (a vCPU with an exit pending then re-enters KVM only to complete it). */
    synchronized boolean pausing() { return paused && !stopping; }

    /** Every vCPU thread is parked by a pause: their state can be read and written. */
    synchronized boolean allParked() { return paused && !stopping && parked == threads; }

    /** vCPU threads held by a pause right now. */
    synchronized int parked() { return parked; }

    /** Waits until every vCPU thread is parked or gone (call after kicking them). */
    synchronized void awaitAllParked() throws InterruptedException {
        while (paused && !stopping && parked + exited < threads) wait();
    }

    synchronized void resume() {
        paused = false;
        notifyAll();
    }

    synchronized void requestStop() {
        stopping = true;
        notifyAll();
    }
}
