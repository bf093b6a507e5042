package dev.flint.engine.emu;

/**
 * Run/pause/stop coordination shared by a VM's vCPU threads. vCPUs ask {@link #awaitRunnable()} at every
 * slice boundary; {@link #pause(Runnable)} returns once every running vCPU has stopped at one.
 */
final class VcpuGate {
    private boolean paused;
    private boolean stopped;
    private int running;
    private int parked;

    synchronized void register() { running++; }

    /** Blocks while paused; returns false once the VM is stopping. */
    synchronized boolean awaitRunnable() throws InterruptedException {
        if (!paused) return !stopped;
        parked++;
        notifyAll();
        try {
            while (paused && !stopped) wait();
        } finally {
            parked--;
        }
        return !stopped;
    }

    synchronized void exited() {
        running--;
        notifyAll();
    }

    synchronized void pause(Runnable kick) throws InterruptedException {
        paused = true;
        kick.run(); // after paused is set: a vCPU that comes back sees it
        while (parked < running && !stopped) wait(10);
    }

    /** Before the threads start: they park at their first slice boundary until {@link #resume}. */
    synchronized void holdAtStart() { paused = true; }

    /** Whether every running vCPU is held by a pause (what a snapshot needs). */
    synchronized boolean allParked() { return paused && parked == running; }

    synchronized void resume() {
        paused = false;
        notifyAll();
    }

    synchronized void stop() {
        stopped = true;
        notifyAll();
    }

    synchronized boolean isStopped() { return stopped; }

    /** vCPU threads held at a slice boundary by a pause. */
    synchronized int parked() { return parked; }
}
