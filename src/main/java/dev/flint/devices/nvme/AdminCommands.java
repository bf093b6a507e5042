package dev.flint.devices.nvme;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.flint.devices.nvme.NvmeSpec.*;

/**
 * The admin command set a Linux driver uses: queue creation and deletion, Identify, Get Log Page,
 * Get/Set Features, Abort and Asynchronous Event Request. Runs on the I/O thread under the controller's
 * lock; returns the completion status (or {@link NvmeSpec#DEFERRED}) and leaves dword 0 in
 * {@link NvmeController#resultDw0}. Everything the command names is the guest's and checked.
 */
final class AdminCommands {
    private final NvmeController c;
    private final PrpList prp = new PrpList();

    AdminCommands(NvmeController controller) {
        this.c = controller;
    }

    int execute(Submission cmd) {
        c.counters.admin.increment();
        if (cmd.fuse != 0 || cmd.psdt != 0) return SC_INVALID_FIELD; // no fused commands, no SGLs
        return switch (cmd.opcode) {
            case ADMIN_CREATE_CQ -> createCq(cmd);
            case ADMIN_CREATE_SQ -> createSq(cmd);
            case ADMIN_DELETE_SQ -> deleteSq(cmd);
            case ADMIN_DELETE_CQ -> deleteCq(cmd);
            case ADMIN_IDENTIFY -> identify(cmd);
            case ADMIN_GET_LOG_PAGE -> getLogPage(cmd);
            case ADMIN_SET_FEATURES -> setFeatures(cmd);
            case ADMIN_GET_FEATURES -> getFeatures(cmd);
            case ADMIN_ABORT -> {
                c.resultDw0 = 1; // not aborted: commands complete as they are fetched, none is left to abort
                yield SUCCESS;
            }
            case ADMIN_ASYNC_EVENT -> asyncEventRequest(cmd);
            case ADMIN_DOORBELL_BUFFER_CONFIG -> c.useShadowDoorbells(cmd.prp1, cmd.prp2) ? SUCCESS : SC_INVALID_FIELD;
            default -> SC_INVALID_OPCODE;
        };
    }

    // ---- queues ----

    private int createCq(Submission cmd) {
        int qid = cmd.cdw10 & 0xFFFF, size = (cmd.cdw10 >>> 16) + 1;
        boolean contiguous = (cmd.cdw11 & 1) != 0, interrupts = (cmd.cdw11 & 2) != 0;
        int vector = cmd.cdw11 >>> 16;
        if (qid == 0 || qid > c.features.grantedCq || c.cqs[qid] != null) return SC_INVALID_QUEUE_ID;
        if (size < 2 || size > MAX_QUEUE_ENTRIES) return SC_INVALID_QUEUE_SIZE;
        if (!c.ioEntrySizesValid()) return SC_INVALID_QUEUE_SIZE;
        if (interrupts && vector >= c.vectors) return SC_INVALID_VECTOR;
        if (!contiguous || (cmd.prp1 & (PAGE - 1)) != 0) return SC_INVALID_FIELD;
        if (!c.memory.isRam(cmd.prp1, (long) size * CQ_ENTRY)) {
            c.guestError("CQ " + qid + " outside RAM");
            return SC_INVALID_FIELD;
        }
        c.cqs[qid] = new CompletionQueue(qid, cmd.prp1, size, vector, interrupts);
        c.doorbells.clearCq(qid);
        return SUCCESS;
    }

    private int createSq(Submission cmd) {
        int qid = cmd.cdw10 & 0xFFFF, size = (cmd.cdw10 >>> 16) + 1, cqid = cmd.cdw11 >>> 16;
        boolean contiguous = (cmd.cdw11 & 1) != 0;
        if (qid == 0 || qid > c.features.grantedSq || c.sqs[qid] != null) return SC_INVALID_QUEUE_ID;
        if (cqid == 0 || cqid >= c.cqs.length || c.cqs[cqid] == null) return SC_INVALID_CQ;
        if (size < 2 || size > MAX_QUEUE_ENTRIES) return SC_INVALID_QUEUE_SIZE;
        if (!c.ioEntrySizesValid()) return SC_INVALID_QUEUE_SIZE;
        if (!contiguous || (cmd.prp1 & (PAGE - 1)) != 0) return SC_INVALID_FIELD;
        if (!c.memory.isRam(cmd.prp1, (long) size * SQ_ENTRY)) {
            c.guestError("SQ " + qid + " outside RAM");
            return SC_INVALID_FIELD;
        }
        CompletionQueue cq = c.cqs[cqid];
        c.sqs[qid] = new SubmissionQueue(qid, cmd.prp1, size, cq);
        cq.submissionQueues++;
        c.doorbells.clearSq(qid);
        return SUCCESS;
    }

    private int deleteSq(Submission cmd) {
        int qid = cmd.cdw10 & 0xFFFF;
        if (qid == 0 || qid >= c.sqs.length || c.sqs[qid] == null) return SC_INVALID_QUEUE_ID;
        c.sqs[qid].cq.submissionQueues--;
        c.sqs[qid] = null;
        c.doorbells.clearSq(qid);
        return SUCCESS;
    }

    private int deleteCq(Submission cmd) {
        int qid = cmd.cdw10 & 0xFFFF;
        if (qid == 0 || qid >= c.cqs.length || c.cqs[qid] == null) return SC_INVALID_QUEUE_ID;
        if (c.cqs[qid].submissionQueues > 0) return SC_INVALID_QUEUE_DELETION;
        c.cqs[qid] = null;
        c.doorbells.clearCq(qid);
        return SUCCESS;
    }

    // ---- Identify ----

    private int identify(Submission cmd) {
        int cns = cmd.cdw10 & 0xFF, csi = cmd.cdw11 >>> 24;
        byte[] data;
        switch (cns) {
            case CNS_CONTROLLER -> data = IdentifyData.controller(c.identity, 1);
            case CNS_NAMESPACE -> {
                if (cmd.nsid == 0 || Integer.compareUnsigned(cmd.nsid, MAX_NAMESPACES) > 0) return SC_INVALID_NAMESPACE;
                NvmeNamespace ns = c.namespace(cmd.nsid);
                data = ns == null ? new byte[IdentifyData.SIZE] : IdentifyData.namespace(ns); // inactive: all zero
            }
            case CNS_ACTIVE_NAMESPACES -> {
                if (Integer.compareUnsigned(cmd.nsid, 0xFFFF_FFFE) >= 0) return SC_INVALID_NAMESPACE;
                data = IdentifyData.activeNamespaces(c.activeNamespaceIds(), cmd.nsid);
            }
            case CNS_NAMESPACE_DESCRIPTORS -> {
                NvmeNamespace ns = c.namespace(cmd.nsid);
                if (ns == null) return SC_INVALID_NAMESPACE;
                data = IdentifyData.namespaceDescriptors(ns);
            }
            case CNS_CSI_CONTROLLER -> {
                if (csi != 0) return SC_INVALID_FIELD;
                data = IdentifyData.nvmCommandSetController();
            }
            default -> {
                return SC_INVALID_FIELD;
            }
        }
        return toHost(cmd, data, data.length);
    }

    /** Copies {@code data} into the command's buffer of {@code bytes}. */
    private int toHost(Submission cmd, byte[] data, long bytes) {
        int status = prp.map(c.memory, cmd.prp1, cmd.prp2, bytes);
        if (status != SUCCESS) {
            if (status == SC_DATA_TRANSFER_ERROR) c.guestError("admin data buffer outside RAM");
            return status;
        }
        prp.copyIn(c.memory, data);
        return SUCCESS;
    }

    // ---- Get Log Page ----

    private int getLogPage(Submission cmd) {
        int lid = cmd.cdw10 & 0xFF;
        boolean retainEvent = (cmd.cdw10 & (1 << 15)) != 0;
        long dwords = ((long) (cmd.cdw11 & 0xFFFF) << 16 | cmd.cdw10 >>> 16) + 1;
        long offset = (cmd.cdw12 & 0xFFFF_FFFFL) | (long) cmd.cdw13 << 32;
        long bytes = dwords * 4;
        if ((offset & 3) != 0 || bytes > MAX_TRANSFER) return SC_INVALID_FIELD;
        byte[] log = switch (lid) {
            case LOG_ERROR -> new byte[64]; // no error has been logged: entry 0 has error count 0
            case LOG_SMART -> {
                if (cmd.nsid != 0 && cmd.nsid != -1) yield null; // no per-namespace health (LPA bit 0 clear)
                yield smartLog();
            }
            case LOG_FIRMWARE_SLOT -> firmwareSlotLog();
            case LOG_CHANGED_NAMESPACES -> changedNamespaceLog(retainEvent);
            default -> null;
        };
        if (log == null) return lid == LOG_SMART ? SC_INVALID_FIELD : SC_INVALID_LOG_PAGE;
        if (offset >= log.length) return SC_INVALID_FIELD;
        byte[] window = new byte[(int) bytes];
        System.arraycopy(log, (int) offset, window, 0, (int) Math.min(bytes, log.length - offset));
        return toHost(cmd, window, bytes);
    }

    /**
     * SMART / Health Information: no warnings, all spare left, nothing worn, and the controller's real
     * traffic (data units of 1,000 512-byte blocks, rounded up; commands). A virtual disk has no
     * temperature sensor: the composite temperature is a nominal 20 C (293 K).
     */
    private byte[] smartLog() {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(1, (short) 293);
        b.put(3, (byte) 100);  // available spare
        b.put(4, (byte) 10);   // available spare threshold
        long unit = 1000L * LBA_SIZE;
        b.putLong(32, (c.counters.readBytes.sum() + unit - 1) / unit);
        b.putLong(48, (c.counters.writeBytes.sum() + unit - 1) / unit);
        b.putLong(64, c.counters.reads.sum());
        b.putLong(80, c.counters.writes.sum());
        b.putLong(112, 1);     // power cycles: this one
        return b.array();
    }

    private byte[] firmwareSlotLog() {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) 1);    // the active firmware is in slot 1
        IdentifyData.ascii(b, 8, c.identity.firmware(), 8);
        return b.array();
    }

    /** Namespaces attached since the last read (read clears it); more than 1024 reads as 0xFFFFFFFF. */
    private byte[] changedNamespaceLog(boolean retainEvent) {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        if (c.changedNamespaces.size() > 1024) {
            b.putInt(0, -1);
        } else {
            int at = 0;
            for (int nsid : c.changedNamespaces) {
                b.putInt(at, nsid);
                at += 4;
            }
        }
        c.changedNamespaces.clear();
        if (!retainEvent) c.namespaceEventMasked = false;
        return b.array();
    }

    // ---- features ----

    private int setFeatures(Submission cmd) {
        int fid = cmd.cdw10 & 0xFF;
        if ((cmd.cdw10 & (1 << 31)) != 0) return SC_NOT_SAVEABLE;
        NvmeFeatures f = c.features;
        int v = cmd.cdw11;
        switch (fid) {
            case FEAT_ARBITRATION -> f.arbitration = v;
            case FEAT_POWER -> {
                if ((v & 0x1F) != 0) return SC_INVALID_FIELD; // one power state (NPSS 0)
                f.powerState = v & 0xFF;
            }
            case FEAT_TEMPERATURE -> {
                if (((v >>> 16) & 0xF) != 0 || ((v >>> 20) & 3) > 1) return SC_INVALID_FIELD; // composite only
                if (((v >>> 20) & 3) == 0) f.overTemperature = v & 0xFFFF;
                else f.underTemperature = v & 0xFFFF;
            }
            case FEAT_ERROR_RECOVERY -> f.errorRecovery = v & 0xFFFF;
            case FEAT_WRITE_CACHE -> f.writeCache = (v & 1) != 0;
            case FEAT_QUEUES -> {
                int sq = v & 0xFFFF, cq = v >>> 16;
                if (sq == 0xFFFF || cq == 0xFFFF) return SC_INVALID_FIELD;
                for (int q = 1; q < c.sqs.length; q++) if (c.sqs[q] != null || c.cqs[q] != null) return SC_SEQUENCE_ERROR;
                f.grantedSq = Math.min(sq + 1, c.maxIoQueues);
                f.grantedCq = Math.min(cq + 1, c.maxIoQueues);
                c.resultDw0 = (f.grantedCq - 1) << 16 | (f.grantedSq - 1);
            }
            case FEAT_IRQ_COALESCING -> f.coalescing = v & 0xFFFF;
            case FEAT_IRQ_CONFIG -> {
                int vector = v & 0xFFFF;
                if (vector >= c.vectors) return SC_INVALID_FIELD;
                f.vectorConfig[vector] = v & 0x1FFFF;
            }
            case FEAT_WRITE_ATOMICITY -> f.writeAtomicity = v & 1;
            case FEAT_ASYNC_EVENTS -> f.asyncEvents = v & NvmeSpec.AEN_NAMESPACE_ATTRIBUTE; // the only event it sends
            default -> {
                return SC_INVALID_FIELD;
            }
        }
        return SUCCESS;
    }

    private int getFeatures(Submission cmd) {
        int fid = cmd.cdw10 & 0xFF, select = (cmd.cdw10 >>> 8) & 7;
        NvmeFeatures f = c.features;
        if (select == 3) { // capabilities: every feature here is changeable, none saveable or per namespace
            if (!knownFeature(fid)) return SC_INVALID_FIELD;
            c.resultDw0 = 0b100;
            return SUCCESS;
        }
        if (select > 3) return SC_INVALID_FIELD;
        c.resultDw0 = switch (fid) {
            case FEAT_ARBITRATION -> f.arbitration;
            case FEAT_POWER -> f.powerState;
            case FEAT_TEMPERATURE -> {
                int sel = (cmd.cdw11 >>> 16) & 0xF, thsel = (cmd.cdw11 >>> 20) & 3;
                if (sel != 0 || thsel > 1) yield -1;
                yield (thsel == 0 ? f.overTemperature : f.underTemperature) | thsel << 20;
            }
            case FEAT_ERROR_RECOVERY -> f.errorRecovery;
            case FEAT_WRITE_CACHE -> f.writeCache ? 1 : 0;
            case FEAT_QUEUES -> (f.grantedCq - 1) << 16 | (f.grantedSq - 1);
            case FEAT_IRQ_COALESCING -> f.coalescing;
            case FEAT_IRQ_CONFIG -> {
                int vector = cmd.cdw11 & 0xFFFF;
                yield vector < c.vectors ? f.vectorConfig[vector] : -1;
            }
            case FEAT_WRITE_ATOMICITY -> f.writeAtomicity;
            case FEAT_ASYNC_EVENTS -> f.asyncEvents;
            default -> -1;
        };
        if (c.resultDw0 == -1) {
            c.resultDw0 = 0;
            return SC_INVALID_FIELD;
        }
        return SUCCESS;
    }

    private static boolean knownFeature(int fid) {
        return fid >= FEAT_ARBITRATION && fid <= FEAT_ASYNC_EVENTS && fid != 0x03;
    }

    // ---- asynchronous events ----

    private int asyncEventRequest(Submission cmd) {
        if (c.outstandingEvents.size() >= AER_LIMIT) return SC_AER_LIMIT;
        c.outstandingEvents.addLast(cmd.cid);
        return DEFERRED;
    }
}
