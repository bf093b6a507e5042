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

    /** Called by a vCPU thread; blocks while paused. False once the VM is stopping. */
    synchronized boolean awaitRunnable() {
        if (paused && !stopping) {
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
