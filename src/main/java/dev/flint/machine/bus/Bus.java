package dev.flint.machine.bus;

import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * Maps address ranges to devices. One instance serves port I/O (addresses 0..0xFFFF), another MMIO.
 * Both engines dispatch to the same buses: KVM from its I/O and MMIO exits, emu from IN/OUT and from
 * memory accesses that miss RAM.
 *
 * <p>Reads of unclaimed addresses return all ones (what an empty ISA/PCI bus gives); writes to them are
 * dropped. Lookups are lock-free: registration replaces an immutable sorted array.
 */
public final class Bus {
    /** One registered range. */
    public record Range(long base, long length, BusDevice device, String name) {
        boolean contains(long addr) { return addr >= base && addr - base < length; }
    }

    private final String name;
    private volatile Range[] ranges = new Range[0];
    /** Accesses dispatched (claimed or not): with KVM each is a vCPU exit; metrics report them. */
    private final LongAdder reads = new LongAdder();
    private final LongAdder writes = new LongAdder();

    public Bus(String name) { this.name = name; }

    public String name() { return name; }

    /** Registers {@code device} at [base, base+length); fails on overlap with an existing range. */
    public synchronized void register(long base, long length, BusDevice device, String deviceName) {
        if (length <= 0) throw new IllegalArgumentException("empty range for " + deviceName);
        for (Range r : ranges) {
            if (base < r.base + r.length && r.base < base + length) {
                throw new IllegalStateException(String.format("%s: %s at 0x%x+0x%x overlaps %s",
                        name, deviceName, base, length, r.name));
            }
        }
        Range[] next = Arrays.copyOf(ranges, ranges.length + 1);
        next[next.length - 1] = new Range(base, length, device, deviceName);
        Arrays.sort(next, (a, b) -> Long.compareUnsigned(a.base, b.base));
        ranges = next;
    }

    /** Reads dispatched through this bus since it was made. */
    public long reads() { return reads.sum(); }

    /** Writes dispatched through this bus since it was made. */
    public long writes() { return writes.sum(); }

    /** Removes the range starting at {@code base} (PCI BAR moves); no-op if none. */
    public synchronized void unregister(long base) {
        ranges = Arrays.stream(ranges).filter(r -> r.base != base).toArray(Range[]::new);
    }

    /** The range containing {@code addr}, or null. */
    public Range find(long addr) {
        Range[] rs = ranges;
        int lo = 0, hi = rs.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Range r = rs[mid];
            if (Long.compareUnsigned(addr, r.base) < 0) hi = mid - 1;
            else if (r.contains(addr)) return r;
            else lo = mid + 1;
        }
        return null;
    }

    /** Reads {@code size} bytes at {@code addr}; all ones if nothing is there. */
    public long read(long addr, int size) {
        reads.increment();
        Range r = find(addr);
        if (r == null) return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        return r.device.read(addr - r.base, size);
    }

    /** Writes {@code size} bytes at {@code addr}; dropped if nothing is there. Returns whether a device took it. */
    public boolean write(long addr, int size, long value) {
        writes.increment();
        Range r = find(addr);
        if (r == null) return false;
        r.device.write(addr - r.base, size, value);
        return true;
    }
}
