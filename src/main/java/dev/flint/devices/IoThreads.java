package dev.flint.devices;

/** What every device I/O thread's owner does to stop it. */
public final class IoThreads {
    private IoThreads() {}

    /**
     * Wakes {@code thread} (it has seen its closed flag set by the caller) and waits up to 5 s for it to end.
     * Returns whether it ended: only then may the caller close the descriptors the thread polls, since a
     * descriptor number reused while the thread still waits on it would be worse than a leak.
     */
    public static boolean stop(Thread thread, Runnable wake) {
        wake.run();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }
}
