package dev.flint.devices.virtio;

/**
 * Where a "queue N has new buffers" notification goes. The notify register (a vCPU thread's MMIO write)
 * calls this and returns at once; the device's I/O thread does the work. An engine that can deliver
 * notifications without a vCPU exit (KVM ioeventfd at {@link VirtioPciDevice#notifyOffset}) calls the
 * same method from its own thread.
 */
@FunctionalInterface
public interface QueueNotifier {
    void queueNotified(int queue);
}
