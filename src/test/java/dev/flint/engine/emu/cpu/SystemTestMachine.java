package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.GuestClock;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;

import java.util.HexFormat;

/** A 2 MiB machine with one CPU, for tests of system instructions; records port writes. */
final class SystemTestMachine implements AutoCloseable {
    static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, GDT = 0x500, TSS = 0x600, IDT = 0x4000;

    final GuestMemory memory = GuestMemory.allocate(2L << 20);
    final Bus ports = new Bus("pio");
    final StringBuilder portLog = new StringBuilder();
    final CpuState state = new CpuState();
    final Cpu cpu;

    SystemTestMachine() { this(CpuOptions.defaults()); }

    /** A machine whose CPU stops at a guest fault ({@link Cpu#lastFault}) instead of delivering it. */
    static SystemTestMachine stoppingAtFaults() { return new SystemTestMachine(CpuOptions.defaults().withStopOnFault(true)); }

    SystemTestMachine(CpuOptions options) { this(options, 1); }

    /** A machine whose one running CPU believes it has {@code cpuCount} siblings (they never start). */
    SystemTestMachine(CpuOptions options, int cpuCount) {
        ports.register(0x80, 1, new BusDevice() {
            @Override public long read(long offset, int size) { return 0; }
            @Override public void write(long offset, int size, long value) { portLog.append(Long.toHexString(value)).append(' '); }
        }, "post");
        Mmu mmu = new Mmu(state, new PhysicalMemory(memory, new Bus("mmio"), null));
        // -Dflint.emu.native=on runs these system tests over the native tier too (the options are explicit here).
        if (dev.flint.engine.emu.EmuTestRig.NATIVE_BY_PROPERTY) options = options.withNativeTier(true);
        cpu = new Cpu(state, mmu, ports, null, new GuestClock(), FpuUnit.none(), 0, cpuCount, options);
    }

    void load(long address, String hex) { memory.write(address, HexFormat.of().parseHex(hex)); }

    /** Identity-maps the first 2 MiB with one user-accessible, writable large page. */
    void identityMap() {
        memory.writeLong(PML4, PDPT | 7);
        memory.writeLong(PDPT, PD | 7);
        memory.writeLong(PD, 0x87);
    }

    /** Writes a 64-bit interrupt gate. */
    void gate64(int vector, long handler, int dpl) {
        long lo = (handler & 0xFFFF) | (0x08L << 16) | ((0x8EL | (dpl << 5)) << 40) | (((handler >>> 16) & 0xFFFF) << 48);
        memory.writeLong(IDT + vector * 16L, lo);
        memory.writeLong(IDT + vector * 16L + 8, handler >>> 32);
    }

    /** Runs until HLT or the budget ends; returns the number of instructions. */
    long runToHalt(long budget) {
        long start = cpu.statistics().instructions();
        while (!cpu.halted() && cpu.statistics().instructions() - start < budget) cpu.execute(Math.min(1000, budget));
        return cpu.statistics().instructions() - start;
    }

    @Override
    public void close() { memory.close(); }
}
