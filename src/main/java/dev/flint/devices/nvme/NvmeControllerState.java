package dev.flint.devices.nvme;

import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;

/**
 * An NVMe controller's snapshot: its registers, features, every queue's place and position, the doorbells
 * as last written, the driver's outstanding Asynchronous Event Requests and pending namespace notices, the
 * shadow doorbell pages, and each namespace's rate limiter. Nothing in flight needs keeping: a pause lets the
 * I/O thread end its pass, so every command it took is completed in guest memory. The namespaces themselves
 * are the configuration's drives, opened again by the restoring VMM; a controller whose namespaces changed
 * while it ran (hot attach or detach) is refused, since the new VMM could not rebuild it.
 */
final class NvmeControllerState {
    static final int VERSION = 1;

    private NvmeControllerState() {}

    static void save(NvmeController c, StateWriter.Section out) {
        c.lock.lock();
        try {
            out.putInt(VERSION);
            out.putInt(c.cc).putInt(c.aqa).putLong(c.asq).putLong(c.acq).putInt(c.csts);
            NvmeFeatures f = c.features;
            out.putInts(new int[] {f.arbitration, f.powerState, f.errorRecovery, f.coalescing, f.writeAtomicity, f.asyncEvents,
                    f.overTemperature, f.underTemperature, f.writeCache ? 1 : 0, f.grantedSq, f.grantedCq});
            out.putInts(f.vectorConfig);
            out.putInt(c.cqs.length);
            for (int q = 0; q < c.cqs.length; q++) {
                CompletionQueue cq = c.cqs[q];
                out.putBoolean(cq != null);
                if (cq != null) {
                    out.putLong(cq.base).putInt(cq.size).putInt(cq.vector).putBoolean(cq.interrupts).putInt(cq.tail)
                            .putBoolean(cq.phase).putBoolean(cq.needsInterrupt);
                }
                SubmissionQueue sq = c.sqs[q];
                out.putBoolean(sq != null);
                if (sq != null) out.putLong(sq.base).putInt(sq.size).putInt(sq.cq.id).putInt(sq.head);
                out.putInt(c.doorbells.sqTail(q)).putInt(c.doorbells.cqHead(q));
            }
            out.putInts(c.outstandingEvents.stream().mapToInt(Integer::intValue).toArray());
            out.putInts(c.changedNamespaces.stream().mapToInt(Integer::intValue).toArray());
            out.putBoolean(c.namespaceEventPending).putBoolean(c.namespaceEventMasked);
            out.putBoolean(c.shadow != null);
            if (c.shadow != null) out.putLong(c.shadow.doorbells).putLong(c.shadow.eventIndexes);
            var ids = c.activeNamespaceIds();
            out.putInt(ids.size());
            for (int nsid : ids) {
                out.putInt(nsid);
                c.namespace(nsid).limiter.save(out);
            }
        } finally {
            c.lock.unlock();
        }
    }

    /** On a controller built with the snapshot's namespaces, before the guest runs; then the I/O thread is woken. */
    static void restore(NvmeController c, StateReader.Section in) {
        int version = in.getInt();
        if (version != VERSION) {
            throw new SnapshotException("nvme " + c.identity.serial() + ": the snapshot's state is version " + version
                    + ", this Flint reads version " + VERSION);
        }
        c.lock.lock();
        try {
            c.cc = in.getInt();
            c.aqa = in.getInt();
            c.asq = in.getLong();
            c.acq = in.getLong();
            c.csts = in.getInt();
            NvmeFeatures f = c.features;
            int[] v = in.getInts(11);
            f.arbitration = v[0];
            f.powerState = v[1];
            f.errorRecovery = v[2];
            f.coalescing = v[3];
            f.writeAtomicity = v[4];
            f.asyncEvents = v[5];
            f.overTemperature = v[6];
            f.underTemperature = v[7];
            f.writeCache = v[8] != 0;
            f.grantedSq = check(v[9], 0, c.maxIoQueues, "granted queues");
            f.grantedCq = check(v[10], 0, c.maxIoQueues, "granted queues");
            in.readInts(f.vectorConfig);
            if (in.getInt() != c.cqs.length) throw bad(c, "its queue count differs");
            CompletionQueue[] cqs = new CompletionQueue[c.cqs.length];
            SubmissionQueue[] sqs = new SubmissionQueue[c.sqs.length];
            int[][] sqLinks = new int[c.sqs.length][];
            for (int q = 0; q < cqs.length; q++) {
                if (in.getBoolean()) {
                    long base = in.getLong();
                    int size = check(in.getInt(), 2, NvmeSpec.MAX_QUEUE_ENTRIES, "queue size");
                    int vector = check(in.getInt(), 0, 0xFFFF, "vector");
                    boolean interrupts = in.getBoolean();
                    if (interrupts && vector >= c.vectors) throw bad(c, "a completion queue names vector " + vector);
                    inRam(c, base, (long) size * NvmeSpec.CQ_ENTRY);
                    CompletionQueue cq = new CompletionQueue(q, base, size, vector, interrupts);
                    cq.tail = check(in.getInt(), 0, size - 1, "queue tail");
                    cq.phase = in.getBoolean();
                    cq.needsInterrupt = in.getBoolean();
                    cqs[q] = cq;
                }
                if (in.getBoolean()) {
                    long base = in.getLong();
                    int size = check(in.getInt(), 2, NvmeSpec.MAX_QUEUE_ENTRIES, "queue size");
                    int cqid = check(in.getInt(), 0, cqs.length - 1, "completion queue");
                    int head = check(in.getInt(), 0, size - 1, "queue head");
                    inRam(c, base, (long) size * NvmeSpec.SQ_ENTRY);
                    sqLinks[q] = new int[] {cqid, head, size};
                    sqs[q] = new SubmissionQueue(q, base, size, null);
                }
                c.doorbells.setSqTail(q, in.getInt() & 0xFFFF);
                c.doorbells.setCqHead(q, in.getInt() & 0xFFFF);
            }
            for (int q = 0; q < sqs.length; q++) {
                if (sqs[q] == null) continue;
                CompletionQueue cq = cqs[sqLinks[q][0]];
                if (cq == null) throw bad(c, "submission queue " + q + " posts to a missing completion queue");
                SubmissionQueue sq = new SubmissionQueue(q, sqs[q].base, sqs[q].size, cq);
                sq.head = sqLinks[q][1];
                cq.submissionQueues++;
                sqs[q] = sq;
            }
            System.arraycopy(cqs, 0, c.cqs, 0, cqs.length);
            System.arraycopy(sqs, 0, c.sqs, 0, sqs.length);
            c.outstandingEvents.clear();
            int events = in.getInt();
            check(events, 0, 256, "outstanding event requests");
            for (int i = 0; i < events; i++) c.outstandingEvents.add(in.getInt());
            c.changedNamespaces.clear();
            int changed = check(in.getInt(), 0, NvmeSpec.MAX_NAMESPACES, "changed namespaces");
            for (int i = 0; i < changed; i++) c.changedNamespaces.add(check(in.getInt(), 1, NvmeSpec.MAX_NAMESPACES, "namespace"));
            c.namespaceEventPending = in.getBoolean();
            c.namespaceEventMasked = in.getBoolean();
            if (in.getBoolean()) {
                long doorbells = in.getLong(), indexes = in.getLong();
                if (!ShadowDoorbells.valid(c.memory, doorbells, indexes)) throw bad(c, "its shadow doorbells are not in RAM");
                c.shadow = new ShadowDoorbells(c.memory, doorbells, indexes);
                c.shadowListener.accept(true);
            }
            int count = in.getInt();
            if (count != c.activeNamespaceIds().size()) throw bad(c, "it had " + count + " namespaces, this one has "
                    + c.activeNamespaceIds().size());
            for (int i = 0; i < count; i++) {
                NvmeNamespace ns = c.namespace(in.getInt());
                if (ns == null) throw bad(c, "its namespaces differ");
                ns.limiter.restore(in);
                if (ns.limiter.limits()) c.rateLimited = true;
            }
        } finally {
            c.lock.unlock();
        }
        in.end();
        c.wake.run();
    }

    private static int check(int value, int min, int max, String what) {
        if (value < min || value > max) throw new SnapshotException("nvme: the snapshot's " + what + " " + value + " is out of range");
        return value;
    }

    private static void inRam(NvmeController c, long base, long bytes) {
        if ((base & (NvmeSpec.PAGE - 1)) != 0 || !c.memory.isRam(base, bytes)) throw bad(c, "a queue lies outside RAM");
    }

    private static SnapshotException bad(NvmeController c, String why) {
        return new SnapshotException("nvme " + c.identity.serial() + ": the snapshot's controller does not fit: " + why);
    }
}
