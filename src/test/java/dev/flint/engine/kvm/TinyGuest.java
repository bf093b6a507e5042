package dev.flint.engine.kvm;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import dev.flint.engine.VmSetup;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.StopReason;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;

import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A tiny machine for KVM engine tests: a little guest RAM, both buses, and a recording device, plus the
 * hand-assembled guest code and boot states the tests run (real mode, and long mode with page tables the
 * "VMM" — the test — built).
 */
final class TinyGuest implements AutoCloseable {
    /** Where test code is loaded; real mode CS=0, so IP = this address. */
    static final long CODE = 0x1000;
    static final long PML4 = 0x10000, PDPT = 0x11000, PD_LOW = 0x12000, PD_HOLE = 0x13000;

    final GuestMemory memory;
    final Bus portIo = new Bus("port-io");
    final Bus mmio = new Bus("mmio");
    final CompletableFuture<StopReason> stopped = new CompletableFuture<>();
    final KvmVm vm;

    TinyGuest(long ramBytes, int cpus) {
        this(ramBytes, cpus, false);
    }

    /** With {@code trackDirtyPages}, the machine logs written pages from creation on (Diff snapshots). */
    TinyGuest(long ramBytes, int cpus, boolean trackDirtyPages) {
        memory = GuestMemory.allocate(ramBytes);
        if (trackDirtyPages) memory.trackDirtyPages();
        vm = new KvmEngine(true).createVm(new VmSetup(memory, portIo, mmio, cpus, stopped::complete));
    }

    /** The port the test guests report through. */
    static final int PORT = 0x500;

    /** A recorder on ports {@link #PORT}..+3 whose reads answer {@code readValue}. */
    Recorder portDevice(long readValue) {
        var dev = new Recorder(readValue);
        portIo.register(PORT, 4, dev, "test-port");
        return dev;
    }

    /** Loads hex-encoded code at {@link #CODE} and starts vCPU 0 there in real mode. */
    void startRealMode(String hexCode) {
        load(CODE, hexCode);
        vm.start(realMode(CODE));
    }

    void load(long gpa, String hex) {
        memory.write(gpa, HexFormat.of().parseHex(hex.replace(" ", "")));
    }

    /** A real-mode vCPU at CS:IP = 0:rip with flat 64 KiB data segments at 0. */
    static CpuBootState realMode(long rip) {
        CpuBootState r = CpuBootState.reset();
        Segment code = Segment.real(0, 0xB);
        Segment data = Segment.real(0, 0x3);
        return new CpuBootState(0, 0, 0, 0, 0, 0, 0x8000, 0, rip, 0x2, code, data, data, data, data, data,
                r.tr(), r.ldt(), 0, 0xFFFF, 0, 0x3FF, 0x10, 0, 0, 0);
    }

    /**
     * A 64-bit vCPU at {@code rip}, with identity-mapped 2 MiB pages for the first 2 MiB of RAM and for
     * the 32-bit hole addresses the tests use (0xD0000000 for a test MMIO device, 0xFEE00000 for the LAPIC).
     */
    CpuBootState longMode(long rip) {
        memory.writeLong(PML4, PDPT | 3);
        memory.writeLong(PDPT, PD_LOW | 3);
        memory.writeLong(PDPT + 3 * 8, PD_HOLE | 3);
        memory.writeLong(PD_LOW, 0x83);                                   // 0 - 2 MiB, present, writable, large
        memory.writeLong(PD_HOLE + 0x80 * 8, 0xD000_0000L | 0x83);        // test MMIO device
        memory.writeLong(PD_HOLE + 0x1F7 * 8, 0xFEE0_0000L | 0x9B);       // LAPIC, uncached
        Segment data = Segment.data(0x10);
        return new CpuBootState(0, 0, 0, 0, 0, 0, 0x8000, 0, rip, 0x2,
                Segment.code64(0x8), data, data, data, data, data, Segment.tss(0x18), Segment.unusable(),
                0, 0, 0, 0,
                CpuBootState.CR0_PE | CpuBootState.CR0_ET | CpuBootState.CR0_NE | CpuBootState.CR0_PG,
                PML4, CpuBootState.CR4_PAE, CpuBootState.EFER_LME | CpuBootState.EFER_LMA);
    }

    /** Records every access; reads answer {@code readValue}. */
    static final class Recorder implements BusDevice {
        record Access(boolean write, long offset, int size, long value, String thread) {}

        final BlockingQueue<Access> accesses = new LinkedBlockingQueue<>();
        volatile long readValue;

        Recorder(long readValue) { this.readValue = readValue; }

        @Override
        public long read(long offset, int size) {
            accesses.add(new Access(false, offset, size, readValue, Thread.currentThread().getName()));
            return readValue;
        }

        @Override
        public void write(long offset, int size, long value) {
            accesses.add(new Access(true, offset, size, value, Thread.currentThread().getName()));
        }

        Access next() throws InterruptedException {
            Access a = accesses.poll(10, TimeUnit.SECONDS);
            if (a == null) throw new AssertionError("the guest did not reach the device within 10 s");
            return a;
        }

        List<Access> drain() {
            var list = new java.util.ArrayList<Access>();
            accesses.drainTo(list);
            return list;
        }
    }

    @Override
    public void close() {
        vm.close();
        memory.close();
    }
}
