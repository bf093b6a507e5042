package dev.flint.devices.vhostuser;

import dev.flint.devices.vhostuser.VhostUserMessage.MemoryRegion;
import dev.flint.machine.GuestMemory;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.SharedMapping;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A vhost-user front end's guest RAM as the back end sees it: every region of a SET_MEM_TABLE mapped
 * from the descriptor that came with it, laid out in one reservation the way {@link GuestMemory} lays
 * out RAM (guest-physical addresses below 3 GiB at their own offset, those from 4 GiB after them), so
 * the device models read and write it through the same bounds-checked accessors as in Flint's own VMM.
 * Gaps between regions are private zero pages of the reservation: a guest buffer pointing there reads
 * zeroes and its writes go nowhere, never outside the mapping.
 *
 * <p>The table is checked before anything is mapped: page-aligned regions, no overflow, no overlap (in
 * guest-physical or in the front end's address space), none in the 32-bit MMIO hole, each inside its
 * file. A front end that shrinks its file afterwards could still make an access fault; that is the
 * vhost-user trust model (the front end owns the memory), documented in docs/vhost-user.md.
 */
public final class FrontEndMemory implements AutoCloseable {
    /** Address space the reservation may take: far more than any guest Flint serves, far less than the host has. */
    static final long MAX_SPAN = 1L << 40;
    private static final long PAGE = 4096;

    private final SharedMapping mapping;
    private final GuestMemory memory;
    private final List<MemoryRegion> regions;

    private FrontEndMemory(SharedMapping mapping, List<MemoryRegion> regions) {
        this.mapping = mapping;
        this.memory = GuestMemory.wrap(mapping.segment());
        this.regions = List.copyOf(regions);
    }

    /** Maps {@code regions}, region i from {@code fds.get(i)}; the descriptors stay the caller's. */
    public static FrontEndMemory map(List<MemoryRegion> regions, List<FileDescriptor> fds) {
        if (regions.isEmpty() || regions.size() != fds.size()) throw new VhostUserException("memory table without regions");
        long span = validate(regions);
        SharedMapping mapping;
        try {
            mapping = SharedMapping.reserve(span);
        } catch (ErrnoException e) {
            throw new VhostUserException("cannot reserve " + span + " bytes for the front end's memory: " + e.getMessage());
        }
        try {
            for (int i = 0; i < regions.size(); i++) {
                MemoryRegion r = regions.get(i);
                int fd = fds.get(i).fd();
                long fileSize;
                try {
                    fileSize = SharedMapping.fileSize(fd);
                } catch (ErrnoException e) {
                    throw new VhostUserException("memory region " + i + ": its descriptor is not a file (" + e.getMessage() + ")");
                }
                if (r.mmapOffset() > fileSize || r.size() > fileSize - r.mmapOffset()) {
                    throw new VhostUserException("memory region " + i + " ends at " + (r.mmapOffset() + r.size())
                            + " of a file of " + fileSize + " bytes");
                }
                try {
                    mapping.map(offsetOf(r.guestPhys()), r.size(), fd, r.mmapOffset());
                } catch (ErrnoException e) {
                    throw new VhostUserException("memory region " + i + " cannot be mapped: " + e.getMessage());
                }
            }
            return new FrontEndMemory(mapping, regions);
        } catch (RuntimeException e) {
            mapping.close();
            throw e;
        }
    }

    /** Checks the table; returns the bytes the reservation needs. */
    static long validate(List<MemoryRegion> regions) {
        long lowEnd = 0, highEnd = 0;
        for (int i = 0; i < regions.size(); i++) {
            MemoryRegion r = regions.get(i);
            if (r.size() <= 0 || ((r.guestPhys() | r.size() | r.mmapOffset() | r.userAddr()) & (PAGE - 1)) != 0
                    || r.guestPhys() < 0 || r.mmapOffset() < 0 || r.userAddr() < 0) {
                throw new VhostUserException("memory region " + i + " is not a positive, page-aligned range: " + describe(r));
            }
            if (r.size() > MAX_SPAN || r.guestPhys() > Long.MAX_VALUE - r.size() || r.userAddr() > Long.MAX_VALUE - r.size()) {
                throw new VhostUserException("memory region " + i + " is too large: " + describe(r));
            }
            long end = r.guestPhys() + r.size();
            if (end <= GuestMemory.LOW_RAM_LIMIT) {
                lowEnd = Math.max(lowEnd, end);
            } else if (r.guestPhys() >= GuestMemory.HIGH_RAM_START && end - GuestMemory.HIGH_RAM_START <= MAX_SPAN - GuestMemory.LOW_RAM_LIMIT) {
                highEnd = Math.max(highEnd, end);
            } else {
                throw new VhostUserException("memory region " + i + " crosses the 32-bit MMIO hole or lies too high: " + describe(r));
            }
        }
        noOverlap(regions, Comparator.comparingLong(MemoryRegion::guestPhys), MemoryRegion::guestPhys, "guest-physical");
        noOverlap(regions, Comparator.comparingLong(MemoryRegion::userAddr), MemoryRegion::userAddr, "front end");
        return highEnd == 0 ? lowEnd : GuestMemory.LOW_RAM_LIMIT + (highEnd - GuestMemory.HIGH_RAM_START);
    }

    private static void noOverlap(List<MemoryRegion> regions, Comparator<MemoryRegion> order,
                                  java.util.function.ToLongFunction<MemoryRegion> start, String space) {
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(order);
        for (int i = 1; i < sorted.size(); i++) {
            MemoryRegion a = sorted.get(i - 1), b = sorted.get(i);
            if (start.applyAsLong(a) + a.size() > start.applyAsLong(b)) {
                throw new VhostUserException("memory regions overlap in the " + space + " address space: " + describe(a) + " and " + describe(b));
            }
        }
    }

    private static long offsetOf(long guestPhys) {
        return guestPhys < GuestMemory.LOW_RAM_LIMIT ? guestPhys : GuestMemory.LOW_RAM_LIMIT + (guestPhys - GuestMemory.HIGH_RAM_START);
    }

    private static String describe(MemoryRegion r) {
        return String.format("gpa 0x%x size 0x%x uaddr 0x%x offset 0x%x", r.guestPhys(), r.size(), r.userAddr(), r.mmapOffset());
    }

    /** The mapped RAM, addressed guest-physically. */
    public GuestMemory memory() { return memory; }

    /**
     * The guest-physical address of front-end address {@code userAddr} whose {@code length} bytes lie in
     * one region (ring addresses arrive that way).
     */
    public long guestPhysical(long userAddr, long length) {
        for (MemoryRegion r : regions) {
            if (userAddr >= r.userAddr() && userAddr - r.userAddr() < r.size() && length <= r.size() - (userAddr - r.userAddr())) {
                return r.guestPhys() + (userAddr - r.userAddr());
            }
        }
        throw new VhostUserException(String.format("ring address 0x%x (+%d bytes) is in no memory region", userAddr, length));
    }

    @Override
    public void close() { mapping.close(); }
}
