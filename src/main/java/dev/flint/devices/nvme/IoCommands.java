package dev.flint.devices.nvme;

import dev.flint.devices.virtio.block.IoBatch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.logging.Logger;

import static dev.flint.devices.nvme.NvmeSpec.*;

/**
 * The NVM command set Linux uses: Read, Write, Flush, Write Zeroes and Dataset Management (deallocate).
 * Data moves directly between the image and guest RAM (views of guest memory handed to the file
 * channel), never through a host copy. Runs on the I/O thread under the controller's lock.
 */
final class IoCommands {
    private static final Logger LOG = Logger.getLogger(IoCommands.class.getName());
    private static final int DSM_RANGE = 16;
    private static final int DSM_DEALLOCATE = 1 << 2;
    private final NvmeController c;
    private final PrpList prp = new PrpList();
    private final byte[] ranges = new byte[256 * DSM_RANGE];
    private boolean hostErrorLogged;

    IoCommands(NvmeController controller) {
        this.c = controller;
    }

    /**
     * Runs {@code cmd} from {@code sq}: its status, or {@link NvmeSpec#DEFERRED} when its data transfer
     * joined the batch, to be posted by {@link #finishBatch}.
     */
    int execute(Submission cmd, SubmissionQueue sq) {
        this.sq = sq;
        return execute(cmd);
    }

    private SubmissionQueue sq;

    int execute(Submission cmd) {
        if (cmd.fuse != 0 || cmd.psdt != 0) return SC_INVALID_FIELD; // no fused commands, no SGLs
        if (cmd.opcode == IO_FLUSH && cmd.nsid == -1) return flushAll();
        NvmeNamespace ns = c.namespace(cmd.nsid);
        if (ns == null) return SC_INVALID_NAMESPACE;
        return switch (cmd.opcode) {
            case IO_READ -> transfer(cmd, ns, false);
            case IO_WRITE -> transfer(cmd, ns, true);
            case IO_FLUSH -> flush(ns);
            case IO_WRITE_ZEROES -> writeZeroes(cmd, ns);
            case IO_DSM -> datasetManagement(cmd, ns);
            default -> SC_INVALID_OPCODE;
        };
    }

    private int transfer(Submission cmd, NvmeNamespace ns, boolean write) {
        long lba = cmd.startingLba();
        int blocks = cmd.blocks();
        if (!ns.inRange(lba, blocks)) return SC_LBA_OUT_OF_RANGE;
        long bytes = (long) blocks << LBA_SHIFT;
        if (bytes > MAX_TRANSFER) return SC_INVALID_FIELD;
        if (write && ns.readOnly()) return SC_WRITE_PROTECTED;
        int status = prp.map(c.memory, cmd.prp1, cmd.prp2, bytes);
        if (status != SUCCESS) {
            if (status == SC_DATA_TRANSFER_ERROR) c.guestError("data buffer outside RAM");
            return status;
        }
        long position = lba << LBA_SHIFT;
        if (sq != null && !(write && (cmd.fua() || !c.features.writeCache)) && defer(cmd, ns, position, bytes, write)) {
            return DEFERRED;
        }
        try {
            for (int i = 0; i < prp.count(); i++) {
                ByteBuffer view = c.memory.slice(prp.address(i), prp.length(i)).asByteBuffer();
                if (write) ns.write(view, position);
                else ns.read(view, position);
                position += prp.length(i);
            }
            if (write && (cmd.fua() || !c.features.writeCache)) ns.image.flush();
        } catch (IOException e) {
            logHostError(e);
            return write ? SC_WRITE_FAULT : SC_READ_ERROR;
        }
        if (write) {
            c.counters.writes.increment();
            c.counters.writeBytes.add(bytes);
        } else {
            c.counters.reads.increment();
            c.counters.readBytes.add(bytes);
        }
        return SUCCESS;
    }

    // ---- batched reads and writes: one slot per deferred command, arrays reused for every batch ----

    private static final int SLOTS = IoBatch.CAPACITY;
    private final int[] slotCid = new int[SLOTS];
    private final long[] slotBytes = new long[SLOTS];
    private final boolean[] slotWrite = new boolean[SLOTS], slotFailed = new boolean[SLOTS];
    private final SubmissionQueue[] slotSq = new SubmissionQueue[SLOTS];
    private final NvmeNamespace[] slotNs = new NvmeNamespace[SLOTS];
    private int slots;
    private final IoBatch.Outcome outcome = (slot, ok) -> slotFailed[slot] |= !ok;

    /**
     * Queues the mapped transfer into the namespace's batch and reserves its completion entry; false when
     * it must run synchronously (no slot left, more pieces than a batch holds).
     */
    private boolean defer(Submission cmd, NvmeNamespace ns, long position, long bytes, boolean write) {
        if (slots == SLOTS || prp.count() > IoBatch.CAPACITY) return false;
        IoBatch batch = ns.image.batch();
        if (!batch.fits(prp.count())) batch.submit(outcome);
        int slot = slots++;
        slotCid[slot] = cmd.cid;
        slotBytes[slot] = bytes;
        slotWrite[slot] = write;
        slotFailed[slot] = false;
        slotSq[slot] = sq;
        slotNs[slot] = ns;
        sq.cq.reserved++;
        for (int i = 0; i < prp.count(); i++) {
            batch.add(slot, c.memory.segment(), c.memory.deviceAccess(prp.address(i), prp.length(i)), prp.length(i), position, write);
            position += prp.length(i);
        }
        return true;
    }

    /** Performs the queued transfers and posts each deferred command's completion (under the controller lock). */
    void finishBatch() {
        int n = slots;
        if (n == 0) return;
        for (int i = 0; i < n; i++) slotNs[i].image.batch().submit(outcome); // the first per namespace does the work
        slots = 0;
        for (int i = 0; i < n; i++) {
            SubmissionQueue q = slotSq[i];
            boolean ok = !slotFailed[i], write = slotWrite[i];
            if (ok && write) {
                c.counters.writes.increment();
                c.counters.writeBytes.add(slotBytes[i]);
            } else if (ok) {
                c.counters.reads.increment();
                c.counters.readBytes.add(slotBytes[i]);
            } else {
                c.counters.failed.increment();
            }
            q.cq.reserved--;
            q.cq.post(c.memory, 0, q.head, q.id, slotCid[i], ok ? SUCCESS : write ? SC_WRITE_FAULT : SC_READ_ERROR);
            slotSq[i] = null;
            slotNs[i] = null;
        }
    }

    private int flush(NvmeNamespace ns) {
        finishBatch(); // writes this batch completed before the flush are durable with it
        try {
            ns.image.flush();
        } catch (IOException e) {
            logHostError(e);
            return SC_WRITE_FAULT;
        }
        c.counters.flushes.increment();
        return SUCCESS;
    }

    /** Flush with the broadcast namespace ID: every namespace. */
    private int flushAll() {
        for (NvmeNamespace ns : c.namespaces) {
            if (ns == null) continue;
            int status = flush(ns);
            if (status != SUCCESS) return status;
        }
        return SUCCESS;
    }

    /** Always writes the zeroes (whether or not the driver allows deallocation), so the blocks read as 0. */
    private int writeZeroes(Submission cmd, NvmeNamespace ns) {
        long lba = cmd.startingLba();
        int blocks = cmd.blocks();
        if (!ns.inRange(lba, blocks)) return SC_LBA_OUT_OF_RANGE;
        if (ns.readOnly()) return SC_WRITE_PROTECTED;
        finishBatch(); // in order with the writes before it
        try {
            ns.image.writeZeroes(lba << LBA_SHIFT, (long) blocks << LBA_SHIFT);
            if (cmd.fua() || !c.features.writeCache) ns.image.flush();
        } catch (IOException e) {
            logHostError(e);
            return SC_WRITE_FAULT;
        }
        c.counters.writeZeroes.increment();
        return SUCCESS;
    }

    /** Up to 256 ranges; only the deallocate attribute does anything (the access hints need nothing). */
    private int datasetManagement(Submission cmd, NvmeNamespace ns) {
        if ((cmd.cdw11 & DSM_DEALLOCATE) == 0) return SUCCESS;
        if (ns.readOnly()) return SC_WRITE_PROTECTED;
        int count = (cmd.cdw10 & 0xFF) + 1;
        int status = prp.map(c.memory, cmd.prp1, cmd.prp2, (long) count * DSM_RANGE);
        if (status != SUCCESS) {
            if (status == SC_DATA_TRANSFER_ERROR) c.guestError("dataset management ranges outside RAM");
            return status;
        }
        byte[] list = count == 256 ? ranges : new byte[count * DSM_RANGE];
        prp.copyOut(c.memory, list);
        ByteBuffer b = ByteBuffer.wrap(list).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) { // all ranges are checked before any is deallocated
            if (!ns.inRange(b.getLong(i * DSM_RANGE + 8), b.getInt(i * DSM_RANGE + 4) & 0xFFFF_FFFFL)) return SC_LBA_OUT_OF_RANGE;
        }
        finishBatch();
        for (int i = 0; i < count; i++) ns.deallocate(b.getLong(i * DSM_RANGE + 8), b.getInt(i * DSM_RANGE + 4) & 0xFFFF_FFFFL);
        c.counters.discards.increment();
        return SUCCESS;
    }

    private void logHostError(IOException e) {
        if (!hostErrorLogged) LOG.warning("nvme: image I/O failed: " + e.getMessage() + " (reported to the guest as a media error)");
        hostErrorLogged = true;
    }
}
