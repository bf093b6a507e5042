package dev.flint.engine.kvm;

import dev.flint.machine.DirtyPages;
import dev.flint.machine.GuestMemory;
import dev.flint.sys.FileDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * KVM's log of the pages the vCPUs wrote, for Diff snapshots. The memory slots are created with
 * {@code KVM_MEM_LOG_DIRTY_PAGES} (only when the machine tracks dirty pages: logging write-protects every
 * page, so each first write of an interval costs a fault in the host), and {@link #collectInto} reads each
 * slot's bitmap with {@code KVM_GET_DIRTY_LOG}, which also clears it and write-protects the pages again:
 * each call returns what was written since the previous one.
 *
 * <p>KVM's log holds only what the vCPUs (and KVM itself, for the kvmclock and steal-time pages it
 * updates) wrote; the devices' writes go through {@link GuestMemory}, which marks the machine's own log.
 * The two are merged there.
 */
final class KvmDirtyLog {
    /** One memory slot: its id, its first page in the RAM segment (= in the memory file), its page count. */
    record Slot(int id, long firstPage, long pages) {}

    private final FileDescriptor vm;
    private final List<Slot> slots;

    KvmDirtyLog(FileDescriptor vm, List<Slot> slots) {
        this.vm = vm;
        this.slots = List.copyOf(slots);
    }

    /**
     * The slots of {@code memory}'s regions as {@code KvmVm} numbers them (slot i is region i); a region's
     * page count is its size over 4 KiB (regions are page multiples).
     */
    static List<Slot> slotsOf(GuestMemory memory) {
        var regions = memory.regions();
        var list = new java.util.ArrayList<Slot>(regions.size());
        for (int i = 0; i < regions.size(); i++) {
            GuestMemory.Region r = regions.get(i);
            list.add(new Slot(i, r.hostOffset() / DirtyPages.PAGE_SIZE, r.size() / DirtyPages.PAGE_SIZE));
        }
        return list;
    }

    /**
     * Marks in {@code pages} every page KVM logged since the previous call (or since the slots were made),
     * and clears KVM's log. Returns how many pages KVM reported.
     */
    int collectInto(DirtyPages pages) {
        int reported = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Slot slot : slots) {
                // The bitmap is an array of unsigned longs, one bit per page, page n at bit n % 64 of word n / 64.
                long words = (slot.pages() + 63) / 64;
                MemorySegment bitmap = arena.allocate(words * 8, 8);
                MemorySegment log = arena.allocate(Layouts.DIRTY_LOG_SIZE, 8);
                log.set(JAVA_INT, Layouts.DIRTY_LOG_SLOT, slot.id());
                log.set(JAVA_LONG, Layouts.DIRTY_LOG_BITMAP, bitmap.address());
                vm.ioctl(KvmApi.GET_DIRTY_LOG, log);
                for (long w = 0; w < words; w++) {
                    long bits = bitmap.getAtIndex(JAVA_LONG, w);
                    while (bits != 0) {
                        long page = w * 64 + Long.numberOfTrailingZeros(bits);
                        bits &= bits - 1;
                        if (page >= slot.pages()) break; // bits past the slot's end are never set; do not trust them
                        pages.markPage(Math.toIntExact(slot.firstPage() + page));
                        reported++;
                    }
                }
            }
        }
        return reported;
    }
}
