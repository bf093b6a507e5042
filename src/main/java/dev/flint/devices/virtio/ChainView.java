package dev.flint.devices.virtio;

import java.util.ArrayList;
import java.util.List;

/**
 * One request as the walk found it, in arrays reused for every chain: what a {@link DescriptorChain} holds, without
 * a record per buffer, a list and a chain record per request. The queue's device side owns one and refills it on
 * each {@link Virtqueue#popInto}; a device that answers a request from it ({@link VirtioDevice#serveInPlace}) must
 * not keep it (the next walk overwrites it): {@link #toChain} makes the lasting copy.
 *
 * <p>Buffer addresses are guest-physical and not validated here, as in {@link DescriptorChain}. Device-readable
 * buffers come first (the walk enforces that order): buffer {@code i} is writable when {@code i >= firstWritable()}.
 */
public final class ChainView {
    private int head, count, firstWritable;
    private long[] address = new long[8], length = new long[8];

    public int head() { return head; }
    public int count() { return count; }
    public long address(int i) { return address[i]; }
    /** The descriptor's unsigned 32-bit length. */
    public long length(int i) { return length[i]; }
    public boolean writable(int i) { return i >= firstWritable; }
    /** The index of the first device-writable buffer ({@link #count} when there is none). */
    public int firstWritable() { return firstWritable; }

    /** Starts a chain of no buffers (the walk, then {@link #add} per descriptor). */
    void start(int chainHead) {
        head = chainHead;
        count = 0;
        firstWritable = 0;
    }

    /** Appends a buffer; the caller has refused a readable buffer after a writable one. */
    void add(long bufferAddress, long bufferLength, boolean isWritable) {
        if (count == address.length) { // a long chain (a scattered request): the arrays grow once and stay
            address = java.util.Arrays.copyOf(address, count * 2);
            length = java.util.Arrays.copyOf(length, count * 2);
        }
        address[count] = bufferAddress;
        length[count] = bufferLength;
        count++;
        if (!isWritable) firstWritable = count;
    }

    /** Replaces the contents with {@code buffers} of the chain at {@code chainHead} (readable ones first). */
    public void set(int chainHead, List<DescriptorChain.Buffer> buffers) {
        start(chainHead);
        for (DescriptorChain.Buffer b : buffers) {
            if (!b.writable() && count > firstWritable) throw new IllegalArgumentException("device-readable buffer after a writable one");
            add(b.address(), b.length(), b.writable());
        }
    }

    /** The chain as a record that may be kept (what {@link VirtioDevice#handle} takes). */
    public DescriptorChain toChain() {
        List<DescriptorChain.Buffer> buffers = switch (count) {
            case 1 -> List.of(buffer(0));
            case 2 -> List.of(buffer(0), buffer(1));
            case 3 -> List.of(buffer(0), buffer(1), buffer(2));
            default -> {
                List<DescriptorChain.Buffer> list = new ArrayList<>(count);
                for (int i = 0; i < count; i++) list.add(buffer(i));
                yield list;
            }
        };
        return new DescriptorChain(head, buffers);
    }

    private DescriptorChain.Buffer buffer(int i) {
        return new DescriptorChain.Buffer(address[i], length[i], writable(i));
    }
}
