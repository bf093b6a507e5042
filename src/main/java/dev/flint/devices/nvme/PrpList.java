package dev.flint.devices.nvme;

import dev.flint.machine.GuestMemory;

/**
 * Where a command's data lives in guest memory, from its PRP entries: PRP1 (which may start inside a
 * page), then PRP2 as the second page or, for longer transfers, as a pointer to a list of page
 * addresses whose last entry chains to the next list page. The result is a run of (address, length)
 * segments, neighbours merged, each checked to be guest RAM in one piece. Reused per command; the
 * transfer is bounded by MDTS, so the walk is bounded too.
 */
final class PrpList {
    private static final int MAX_SEGMENTS = (int) (NvmeSpec.MAX_TRANSFER / NvmeSpec.PAGE) + 1;
    private static final long PAGE_MASK = NvmeSpec.PAGE - 1;

    private final long[] address = new long[MAX_SEGMENTS];
    private final long[] length = new long[MAX_SEGMENTS];
    private int count;

    int count() { return count; }
    long address(int i) { return address[i]; }
    long length(int i) { return length[i]; }

    /**
     * Maps {@code bytes} (1..MDTS) of data; returns {@link NvmeSpec#SUCCESS} or the status the command
     * fails with: a malformed entry (offsets where none are allowed), or an entry or list outside RAM.
     */
    int map(GuestMemory memory, long prp1, long prp2, long bytes) {
        count = 0;
        if (bytes <= 0 || bytes > NvmeSpec.MAX_TRANSFER) return NvmeSpec.SC_INVALID_FIELD;
        if ((prp1 & 3) != 0) return NvmeSpec.SC_INVALID_PRP_OFFSET;
        long first = Math.min(bytes, NvmeSpec.PAGE - (prp1 & PAGE_MASK));
        add(prp1, first);
        long remaining = bytes - first;
        if (remaining > 0 && remaining <= NvmeSpec.PAGE) {
            if ((prp2 & PAGE_MASK) != 0) return NvmeSpec.SC_INVALID_PRP_OFFSET;
            add(prp2, remaining);
        } else if (remaining > 0) {
            int status = walkList(memory, prp2, remaining);
            if (status != NvmeSpec.SUCCESS) return status;
        }
        for (int i = 0; i < count; i++) {
            if (!memory.isRam(address[i], length[i])) return NvmeSpec.SC_DATA_TRANSFER_ERROR;
        }
        return NvmeSpec.SUCCESS;
    }

    private int walkList(GuestMemory memory, long list, long remaining) {
        if ((list & 7) != 0) return NvmeSpec.SC_INVALID_PRP_OFFSET;
        long entry = list;
        while (remaining > 0) {
            boolean lastInPage = ((entry + 8) & PAGE_MASK) == 0;
            if (!memory.isRam(entry, 8)) return NvmeSpec.SC_DATA_TRANSFER_ERROR;
            long page = memory.readLong(entry);
            if (lastInPage && remaining > NvmeSpec.PAGE) { // the list goes on in another page
                if ((page & PAGE_MASK) != 0) return NvmeSpec.SC_INVALID_PRP_OFFSET;
                entry = page;
                continue;
            }
            if ((page & PAGE_MASK) != 0) return NvmeSpec.SC_INVALID_PRP_OFFSET;
            long n = Math.min(remaining, NvmeSpec.PAGE);
            add(page, n);
            remaining -= n;
            entry += 8;
        }
        return NvmeSpec.SUCCESS;
    }

    private void add(long at, long len) {
        if (count > 0 && address[count - 1] + length[count - 1] == at) {
            length[count - 1] += len;
        } else {
            address[count] = at;
            length[count] = len;
            count++;
        }
    }

    /** Copies {@code src} (at most the mapped length) into the mapped guest memory. */
    void copyIn(GuestMemory memory, byte[] src) {
        int at = 0;
        for (int i = 0; i < count && at < src.length; i++) {
            int n = (int) Math.min(length[i], src.length - at);
            memory.write(address[i], src, at, n);
            at += n;
        }
    }

    /** Copies the mapped guest memory into {@code dst} (at most its length). */
    void copyOut(GuestMemory memory, byte[] dst) {
        int at = 0;
        for (int i = 0; i < count && at < dst.length; i++) {
            int n = (int) Math.min(length[i], dst.length - at);
            memory.read(address[i], dst, at, n);
            at += n;
        }
    }
}
