package dev.flint.devices;

/**
 * Holds a device's I/O thread between passes while the VM is paused (Firecracker's PATCH /vm Paused):
 * once {@link #pause} returns, the thread touches neither guest memory nor the device's queues until
 * {@link #resume}, so a snapshot taken meanwhile sees no request half done. Notifications arriving while
 * paused stay pending in the thread's own bookkeeping and are served after resume.
 */
public final class IoPause {
    private boolean requested;
    private boolean holding;
    private boolean released;

    /**
     * The I/O thread, between passes: returns at once unless a pause is requested; otherwise waits until
     * {@link #resume} or {@link #release}.
     */
    public synchronized void holdIfPaused() {
        if (!requested || released) return;
        holding = true;
        notifyAll();
        try {
            while (requested && !released) wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            holding = false;
        }
    }

    /** Whether a pause is requested (the thread should go to {@link #holdIfPaused} rather than serve). */
    public synchronized boolean requested() { return requested && !released; }

    /**
     * Asks the thread to stop between passes and waits until it does. {@code wake} gets it out of its
     * poll; a thread that has ended (closed, or failed) does not hold anything up.
     */
    public void pause(Thread thread, Runnable wake) {
        synchronized (this) {
            requested = true;
        }
        wake.run();
        synchronized (this) {
            try {
                while (!holding && !released && thread.isAlive()) wait(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public synchronized void resume() {
        requested = false;
        notifyAll();
    }

    /** For close: lets a held thread go for good, so it can see its closed flag and end. */
    public synchronized void release() {
        released = true;
        notifyAll();
    }
}
