package dev.flint.devices.virtio;

import java.util.ArrayList;
import java.util.List;

/**
 * One request as the driver laid it out: the head index (returned in the used ring) and its buffers in
 * order, device-readable ones first, then device-writable ones (the walk enforces that order). Buffer
 * addresses are guest-physical and NOT validated here: whoever touches them goes through
 * {@link dev.flint.machine.GuestMemory}, which refuses anything outside RAM.
 */
public record DescriptorChain(int head, List<Buffer> buffers) {
    /** One guest buffer; {@code length} is the descriptor's unsigned 32-bit length. */
    public record Buffer(long address, long length, boolean writable) { }

    public DescriptorChain {
        buffers = List.copyOf(buffers); // an immutable list (what the walk builds) is taken as it is, not copied
        for (int i = 1; i < buffers.size(); i++) {
            if (buffers.get(i - 1).writable() && !buffers.get(i).writable()) {
                throw new IllegalArgumentException("device-readable buffer after a writable one");
            }
        }
    }

    /** The device-readable buffers (they come first). */
    public List<Buffer> readable() {
        return buffers.subList(0, firstWritable());
    }

    /** The device-writable buffers (they come last). */
    public List<Buffer> writable() {
        return buffers.subList(firstWritable(), buffers.size());
    }

    private int firstWritable() {
        int i = 0;
        while (i < buffers.size() && !buffers.get(i).writable()) i++;
        return i;
    }

    public static long totalLength(List<Buffer> buffers) {
        long total = 0;
        for (Buffer b : buffers) total += b.length();
        return total;
    }

    /**
     * The bytes [{@code from}, {@code from + length}) of the concatenation of {@code buffers}, as buffers.
     * Requests often share a descriptor between header and data, so devices address them as one stream.
     */
    public static List<Buffer> range(List<Buffer> buffers, long from, long length) {
        List<Buffer> out = new ArrayList<>();
        long pos = 0;
        for (Buffer b : buffers) {
            long start = Math.max(from, pos), end = Math.min(from + length, pos + b.length());
            if (start < end) out.add(new Buffer(b.address() + (start - pos), end - start, b.writable()));
            pos += b.length();
            if (pos >= from + length) break;
        }
        return out;
    }
}
