package dev.flint.devices.virtio;

/**
 * Where a "queue N has new buffers" notification goes. The notify register (a vCPU thread's MMIO write)
 * calls this and returns at once; the device's I/O thread does the work. Notifications an engine
 * delivers without a vCPU exit (KVM ioeventfd) do not come through here: they signal the I/O thread's
 * kick eventfd directly, see {@link VirtioPciDevice#useFastPaths}.
 */
@FunctionalInterface
public interface QueueNotifier {
    void queueNotified(int queue);
}
