package dev.flint.devices.nvme;

import dev.flint.machine.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One 64-byte submission queue entry as the I/O thread reads it. A single instance is reused for every
 * command (no allocation per request); the entry is copied out of guest memory first, so a guest that
 * rewrites it while the command runs changes nothing.
 */
final class Submission {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final byte[] raw = new byte[NvmeSpec.SQ_ENTRY];
    private final MemorySegment view = MemorySegment.ofArray(raw);

    int opcode, fuse, psdt, cid, nsid;
    long prp1, prp2;
    int cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;

    /** Copies the entry at {@code address}; a {@link dev.flint.machine.GuestMemoryException} if it is not RAM. */
    void load(GuestMemory memory, long address) {
        memory.read(address, raw, 0, raw.length);
        int cdw0 = view.get(INT, 0);
        opcode = cdw0 & 0xFF;
        fuse = (cdw0 >>> 8) & 3;
        psdt = (cdw0 >>> 14) & 3;
        cid = cdw0 >>> 16;
        nsid = view.get(INT, 4);
        prp1 = view.get(LONG, 24);
        prp2 = view.get(LONG, 32);
        cdw10 = view.get(INT, 40);
        cdw11 = view.get(INT, 44);
        cdw12 = view.get(INT, 48);
        cdw13 = view.get(INT, 52);
        cdw14 = view.get(INT, 56);
        cdw15 = view.get(INT, 60);
    }

    /** Starting LBA of Read, Write and Write Zeroes (CDW10-11). */
    long startingLba() { return (cdw10 & 0xFFFF_FFFFL) | (long) cdw11 << 32; }

    /** Number of logical blocks (CDW12 bits 15:0 are 0-based). */
    int blocks() { return (cdw12 & 0xFFFF) + 1; }

    /** Force Unit Access: the data is durable when the command completes. */
    boolean fua() { return (cdw12 & (1 << 30)) != 0; }
}
