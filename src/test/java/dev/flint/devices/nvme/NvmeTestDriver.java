package dev.flint.devices.nvme;

import dev.flint.arch.x86.Layout;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A host-side NVMe driver for tests, doing what Linux's nvme driver does through PCI configuration
 * cycles, BAR registers, doorbells and queues in guest RAM: probe, enable with an admin queue pair, create
 * I/O queue pairs, submit commands and wait for their completions (by the phase bit, as a driver polls).
 */
final class NvmeTestDriver {
    static final long BAR = 0xE000_0000L;
    static final long ADMIN_SQ = 0x10000, ADMIN_CQ = 0x11000, IO_QUEUES = 0x20000;
    static final int ADMIN_ENTRIES = 32, IO_ENTRIES = 64;

    final Bus io, mmio;
    final GuestMemory memory;
    final int slot;
    int msixCap, msixTable;
    Queue admin;
    /** Where {@link Queue#poll} sleeps between looks at the CQ: null, 20 µs naps; else the interrupt. */
    dev.flint.devices.RecordingInterrupts sleepOn;

    NvmeTestDriver(Bus io, Bus mmio, GuestMemory memory, int slot) {
        this.io = io;
        this.mmio = mmio;
        this.memory = memory;
        this.slot = slot;
    }

    long cfgRead(int reg, int size) {
        io.write(Layout.PCI_CONFIG_ADDRESS_PORT, 4, 0x8000_0000L | (slot << 11) | (reg & 0xFC));
        return io.read(Layout.PCI_CONFIG_DATA_PORT + (reg & 3), size);
    }

    void cfgWrite(int reg, int size, long value) {
        io.write(Layout.PCI_CONFIG_ADDRESS_PORT, 4, 0x8000_0000L | (slot << 11) | (reg & 0xFC));
        io.write(Layout.PCI_CONFIG_DATA_PORT + (reg & 3), size, value);
    }

    /** Places BAR0, turns on memory decode and bus mastering, enables MSI-X with vector v sending data 0x40 + v. */
    NvmeTestDriver probe() {
        if (cfgRead(0x08, 4) >>> 8 != 0x010802) throw new IllegalStateException("not an NVMe controller");
        for (int ptr = (int) cfgRead(0x34, 1); ptr != 0; ptr = (int) cfgRead(ptr + 1, 1)) {
            if (cfgRead(ptr, 1) == 0x11) {
                msixCap = ptr;
                msixTable = (int) cfgRead(ptr + 4, 4) & ~7;
            }
        }
        cfgWrite(0x10, 4, BAR & 0xFFFF_FFFFL);
        cfgWrite(0x14, 4, BAR >>> 32);
        cfgWrite(0x04, 2, cfgRead(0x04, 2) | 0x2 | 0x4);
        int vectors = (int) (cfgRead(msixCap + 2, 2) & 0x7FF) + 1;
        for (int v = 0; v < vectors; v++) {
            long entry = BAR + msixTable + 16L * v;
            mmio.write(entry, 4, 0xFEE0_0000L);
            mmio.write(entry + 4, 4, 0);
            mmio.write(entry + 8, 4, 0x40 + v);
            mmio.write(entry + 12, 4, 0);
        }
        cfgWrite(msixCap + 2, 2, 0x8000);
        return this;
    }

    long reg(int offset, int size) { return mmio.read(BAR + offset, size); }

    void setReg(int offset, int size, long value) { mmio.write(BAR + offset, size, value); }

    /** Disables, sets up the admin queue pair and enables, as nvme_pci_configure_admin_queue does. */
    NvmeTestDriver enable() {
        setReg(NvmeSpec.REG_CC, 4, 0);
        await(() -> (reg(NvmeSpec.REG_CSTS, 4) & 1) == 0, "CSTS.RDY clear");
        memory.write(ADMIN_SQ, new byte[ADMIN_ENTRIES * 64]);
        memory.write(ADMIN_CQ, new byte[ADMIN_ENTRIES * 16]);
        setReg(NvmeSpec.REG_AQA, 4, (ADMIN_ENTRIES - 1) << 16 | (ADMIN_ENTRIES - 1));
        setReg(NvmeSpec.REG_ASQ, 8, ADMIN_SQ);
        setReg(NvmeSpec.REG_ACQ, 8, ADMIN_CQ);
        setReg(NvmeSpec.REG_CC, 4, 4 << 20 | 6 << 16 | 1);
        await(() -> (reg(NvmeSpec.REG_CSTS, 4) & 3) == 1, "CSTS.RDY");
        admin = new Queue(0, ADMIN_SQ, ADMIN_CQ, ADMIN_ENTRIES);
        return this;
    }

    /** Number of Queues, then completion and submission queue {@code qid} (vector qid) in IO_QUEUES. */
    Queue createIoQueue(int qid) {
        long sq = IO_QUEUES + (qid - 1) * 0x2000L, cq = sq + 0x1000;
        memory.write(sq, new byte[IO_ENTRIES * 64]);
        memory.write(cq, new byte[IO_ENTRIES * 16]);
        expectSuccess(admin.run(Command.of(NvmeSpec.ADMIN_CREATE_CQ).prp1(cq).cdw10((IO_ENTRIES - 1) << 16 | qid).cdw11(qid << 16 | 3)));
        expectSuccess(admin.run(Command.of(NvmeSpec.ADMIN_CREATE_SQ).prp1(sq).cdw10((IO_ENTRIES - 1) << 16 | qid).cdw11(qid << 16 | 1)));
        return new Queue(qid, sq, cq, IO_ENTRIES);
    }

    static void expectSuccess(Completion c) {
        if (c.status() != 0) throw new AssertionError("command failed: " + c);
    }

    static void await(java.util.function.BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.onSpinWait();
        }
    }

    /** A completion: dword 0, SQ head, SQ ID, command ID, and the status (SC | SCT << 8 | DNR << 14). */
    record Completion(int dw0, int sqHead, int sqId, int cid, int status) {
        int code() { return status & 0x7FF; }
    }

    /** A submission queue entry being built. */
    static final class Command {
        final ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);

        static Command of(int opcode) {
            Command c = new Command();
            c.b.put(0, (byte) opcode);
            return c;
        }

        Command nsid(int v) { b.putInt(4, v); return this; }
        Command prp1(long v) { b.putLong(24, v); return this; }
        Command prp2(long v) { b.putLong(32, v); return this; }
        Command cdw0Flags(int v) { b.put(1, (byte) v); return this; }
        Command cdw10(int v) { b.putInt(40, v); return this; }
        Command cdw11(int v) { b.putInt(44, v); return this; }
        Command cdw12(int v) { b.putInt(48, v); return this; }
        Command cdw13(int v) { b.putInt(52, v); return this; }
        Command lba(long lba, int blocks) { return cdw10((int) lba).cdw11((int) (lba >>> 32)).cdw12(blocks - 1); }
    }

    /** One queue pair as the driver sees it. */
    final class Queue {
        final int id;
        final long sq, cq;
        final int size;
        int tail, head, cid;
        boolean phase = true;

        Queue(int id, long sq, long cq, int size) {
            this.id = id;
            this.sq = sq;
            this.cq = cq;
            this.size = size;
        }

        /** Writes the command at the tail (with a fresh command ID) without ringing; returns the ID. */
        int put(Command c) {
            int id = ++cid & 0xFFFF;
            c.b.putShort(2, (short) id);
            memory.write(sq + (long) tail * 64, c.b.array());
            tail = (tail + 1) % size;
            return id;
        }

        void ring() { ringTail(tail); }

        void ringTail(int value) { mmio.write(BAR + 0x1000 + 8L * id, 4, value); }

        /** The next completion, or null if none comes within {@code millis}; rings the CQ head doorbell. */
        Completion poll(long millis) {
            Completion c = take(millis);
            if (c != null) ringHead();
            return c;
        }

        /** Tells the controller how far the driver consumed the CQ (Linux rings once per interrupt's worth). */
        void ringHead() { mmio.write(BAR + 0x1000 + 8L * id + 4, 4, head); }

        /** The next completion, or null if none comes within {@code millis}, without ringing the CQ head doorbell. */
        Completion take(long millis) {
            long deadline = System.nanoTime() + millis * 1_000_000;
            long entry = cq + (long) head * 16;
            while (true) {
                long seen = sleepOn == null ? 0 : sleepOn.signals(); // before the look: a later interrupt wakes the sleep
                if (((memory.readInt(entry + 12) >>> 16) & 1) == (phase ? 1 : 0)) break;
                if (System.nanoTime() > deadline) return null;
                if (sleepOn != null) sleepOn.awaitAfter(seen, 1_000_000);
                else java.util.concurrent.locks.LockSupport.parkNanos(20_000); // as a driver sleeping for its interrupt: the CPU is the device's
            }
            int dw3 = memory.readInt(entry + 12), dw2 = memory.readInt(entry + 8);
            Completion c = new Completion(memory.readInt(entry), dw2 & 0xFFFF, dw2 >>> 16, dw3 & 0xFFFF,
                    ((dw3 >>> 17) & 0xFF) | ((dw3 >>> 25) & 7) << 8 | ((dw3 >>> 31) & 1) << 14);
            if (++head == size) {
                head = 0;
                phase = !phase;
            }
            return c;
        }

        /** Submits one command and waits for its completion. */
        Completion run(Command c) {
            int id = put(c);
            ring();
            Completion done = poll(10_000);
            if (done == null) throw new AssertionError("no completion for command " + id + " on queue " + this.id);
            if (done.cid() != id) throw new AssertionError("completion for " + done.cid() + ", expected " + id);
            return done;
        }
    }
}
