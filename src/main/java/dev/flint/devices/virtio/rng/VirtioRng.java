package dev.flint.devices.virtio.rng;

import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-rng (entropy device): fills each device-writable buffer the guest offers with bytes from the
 * host's non-blocking system source (/dev/urandom through SecureRandom). A request is capped so a guest
 * asking for gigabytes costs the host a bounded amount of work per chain.
 */
public final class VirtioRng implements VirtioDevice {
    public static final int TYPE = 4;
    static final int QUEUE_SIZE = 64;
    static final int MAX_BYTES_PER_REQUEST = 64 * 1024;

    private final GuestMemory memory;
    private final LongAdder bytes = new LongAdder();

    @Override
    public Map<String, Long> counters() { return Map.of("entropy_bytes", bytes.sum()); }
    private final SecureRandom random;
    private final byte[] chunk = new byte[4096];

    public VirtioRng(GuestMemory memory) {
        this.memory = memory;
        SecureRandom r;
        try {
            r = SecureRandom.getInstance("NativePRNGNonBlocking");
        } catch (NoSuchAlgorithmException e) {
            r = new SecureRandom();
        }
        this.random = r;
    }

    /** The one call the machine builder needs: the PCI function to add to the host bridge. */
    public static VirtioPciDevice pciDevice(GuestMemory memory, InterruptController irq) {
        return new VirtioPciDevice(new VirtioRng(memory), memory, irq);
    }

    @Override public int type() { return TYPE; }
    @Override public String name() { return "virtio-rng"; }
    @Override public String metricsGroup() { return "entropy"; }
    @Override public int pciClass() { return 0xFF0000; } // unclassified device
    @Override public long features() { return 0; }
    @Override public int queueCount() { return 1; }
    @Override public int maxQueueSize() { return QUEUE_SIZE; }
    @Override public int configSize() { return 0; }
    @Override public long readConfig(int offset, int size) { return 0; }

    @Override
    public int handle(int queue, DescriptorChain chain) {
        int written = 0;
        for (DescriptorChain.Buffer b : chain.writable()) {
            long length = Math.min(b.length(), MAX_BYTES_PER_REQUEST - written);
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(chunk.length, length - done);
                random.nextBytes(chunk);
                memory.write(b.address() + done, chunk, 0, n);
                done += n;
            }
            written += (int) length;
            if (written == MAX_BYTES_PER_REQUEST) break;
        }
        bytes.add(written);
        return written;
    }
}
