package dev.flint.engine.emu;

import dev.flint.engine.emu.cpu.Cpu;
import dev.flint.engine.emu.cpu.CpuOptions;
import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.engine.emu.cpu.FpuUnit;
import dev.flint.engine.emu.cpu.GuestFault;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

import java.util.Arrays;

/**
 * Runs a snippet of x86-64 code on the emu core in a fixed, minimal machine, for unit tests and the
 * differential tester (which runs the same snippet on real hardware and compares).
 *
 * <h2>The machine</h2>
 * <ul>
 *   <li>4 MiB of RAM, identity-mapped by 4-level paging with two 2 MiB pages that are present, writable
 *       and user-accessible (so CPL 3 can run the snippet); CR0.PE/PG/WP, CR4.PAE/PGE/OSFXSR,
 *       EFER.LME/LMA/NXE/SCE.</li>
 *   <li>Code at {@link #CODE_BASE}; the run starts at RIP = {@code initial.rip()} (normally CODE_BASE)
 *       and ends when RIP reaches CODE_BASE + code length.</li>
 *   <li>The data page at {@link #DATA_BASE} ({@link #DATA_SIZE} bytes) holds {@code data} before the
 *       run and is returned after it. A further page below {@link #STACK_TOP} is free for a stack.</li>
 *   <li>Flat 64-bit segments: CPL 0 uses CS=0x08/SS=0x10, CPL 3 uses CS=0x23/SS=0x1B; DS=ES=FS=GS=0
 *       with zero bases.</li>
 * </ul>
 *
 * <h2>Ending</h2>
 * The run stops when RIP reaches the end of the code ({@link Stop#END}), at the first fault
 * ({@link Stop#FAULT}: the vector and error code are in the result, RIP points at the faulting
 * instruction and nothing of it has been committed), at HLT ({@link Stop#HALT}), or after
 * {@code maxInstructions} ({@link Stop#BUDGET}).
 *
 * <p>{@code new EmuTestRig()} has no x87/SSE units (those instructions raise #UD, XMM registers are
 * plain storage); {@code new EmuTestRig(new SimdFpuUnit())} runs them with the real units. A rig can be
 * reused for many runs; each run builds a fresh machine.
 *
 * <pre>{@code
 * long[] gpr = new long[16]; gpr[0] = 5;
 * var r = new EmuTestRig().run(new byte[] {0x48, (byte) 0xFF, (byte) 0xC0},   // inc rax
 *         EmuTestRig.State.of(gpr, 0x2), new byte[0], 3);
 * assert r.state().gpr()[0] == 6;
 * }</pre>
 */
public final class EmuTestRig {
    public static final long CODE_BASE = 0x10_0000L;
    public static final long DATA_BASE = 0x20_0000L;
    public static final int DATA_SIZE = 4096;
    public static final long STACK_TOP = 0x30_0000L;
    private static final long RAM = 4L << 20;
    /** The rig's RAM is mapped here too, where a Linux kernel's text lives (negative addresses). */
    public static final long KERNEL_ALIAS = 0xFFFF_FFFF_8000_0000L;
    private static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, GDT = 0x4000;

    /** Why a run ended. */
    public enum Stop { END, FAULT, HALT, BUDGET }

    /**
     * Register state: 16 GPRs (RAX..R15 in encoding order), RFLAGS, RIP, and the 16 XMM registers as
     * 32 longs (low half then high half of XMM0, then XMM1, ...).
     */
    public record State(long[] gpr, long rflags, long rip, long[] xmm) {
        public State {
            if (gpr.length != 16 || xmm.length != 32) throw new IllegalArgumentException("16 GPRs, 16 XMMs");
            gpr = gpr.clone();
            xmm = xmm.clone();
        }

        /** GPRs and RFLAGS; RIP at CODE_BASE; XMM zero. */
        public static State of(long[] gpr, long rflags) {
            return new State(gpr, rflags, CODE_BASE, new long[32]);
        }
    }

    /** The outcome; {@code faultVector} is -1 unless {@code stop} is FAULT. */
    public record Result(State state, byte[] data, Stop stop, int faultVector, int errorCode, long instructions) {}

    private final FpuUnit fpu;
    /** Instructions per {@link Cpu#execute} call; 1 lets the rig stop exactly at the end of the code. */
    private int slice = 1;
    /** Run everything twice on the same CPU, so the second run replays decoded blocks; see {@link #replays}. */
    private boolean replays;
    /** Compile threshold for decoded blocks, or -1 for the CPU's default. */
    private long compileThreshold = -1;
    /**
     * Run whole-translated blocks as host code ({@link CpuOptions#nativeTier}); on by default when the test JVM has
     * {@code -Dflint.emu.native=on}, so that every test built on this rig (the differential groups among them) runs
     * over the native tier too when asked.
     */
    private boolean nativeTier = NATIVE_BY_PROPERTY;

    /** {@code -Dflint.emu.native=on} given to the test JVM (the engine reads it in {@link CpuOptions#fromSystemProperties}). */
    public static final boolean NATIVE_BY_PROPERTY = "on".equals(System.getProperty("flint.emu.native"));

    private Cpu lastCpu;
    /** Devices put on the port-I/O bus of every run's machine. */
    private final java.util.List<Bus.Range> portDevices = new java.util.ArrayList<>();

    /** Puts {@code device} on the port-I/O bus at [base, base + length) in every run. */
    public EmuTestRig portDevice(long base, long length, dev.flint.machine.bus.BusDevice device) {
        portDevices.add(new Bus.Range(base, length, device, "test device"));
        return this;
    }

    /** Devices put on the MMIO bus of every run's machine (see {@link #mmioDevice}). */
    private final java.util.List<Bus.Range> mmioDevices = new java.util.ArrayList<>();

    /** Where {@link #mmioDevice} devices live: the 2 MiB just past RAM, mapped (1:1) only when one is added. */
    public static final long MMIO_BASE = RAM;

    /**
     * Puts {@code device} on the MMIO bus at [MMIO_BASE + offset, + length) in every run; the page tables
     * then map [MMIO_BASE, MMIO_BASE + 2 MiB) 1:1 as well, so guest code reaches it at that address.
     */
    public EmuTestRig mmioDevice(long offset, long length, dev.flint.machine.bus.BusDevice device) {
        mmioDevices.add(new Bus.Range(MMIO_BASE + offset, length, device, "test mmio device"));
        return this;
    }

    /** What the last run's CPU ran (with {@link #replays}, the CPU of the block runs), or null before a run. */
    public dev.flint.engine.emu.cpu.CpuStatistics statistics() {
        return lastCpu == null ? null : lastCpu.statistics();
    }

    /** The last run's CPU (with {@link #replays}, the CPU of the block runs), or null before a run. */
    public Cpu cpu() { return lastCpu; }

    /** The hottest decoded blocks of the last run's CPU, as {@link Cpu#hotBlocks} lists them (benchmarks). */
    public java.util.List<String> hotBlocks(int limit) {
        return lastCpu == null ? java.util.List.of() : lastCpu.hotBlocks(limit);
    }

    /** A rig without FPU/SSE units (x87/SSE instructions raise #UD; XMM registers are plain storage). */
    public EmuTestRig() { this(FpuUnit.none()); }

    /** A rig using the given x87/MMX/SSE units. */
    public EmuTestRig(FpuUnit fpu) { this.fpu = fpu; }

    /**
     * Runs {@code n} instructions per {@link Cpu#execute} call, as the emu engine's vCPU threads do (so
     * decoded blocks run whole). The code must then end in HLT: the end of the code is only noticed
     * between calls.
     */
    public EmuTestRig slices(int n) {
        this.slice = n;
        return this;
    }

    /** Compiles decoded blocks to bytecode after {@code entries} runs (0 = never). */
    public EmuTestRig compileThreshold(long entries) {
        this.compileThreshold = entries;
        return this;
    }

    /** Runs decoded blocks that the native translator covers whole as host code (off by default). */
    public EmuTestRig nativeTier(boolean on) {
        this.nativeTier = on;
        return this;
    }

    /**
     * Runs each program four times from the same state: first on a CPU decoding every instruction
     * afresh (the reference), then three times on one CPU with decoded blocks, 64 instructions per slice:
     * the second run builds the blocks, the third replays them (each block's first entry since it was
     * built is a replay), the fourth runs them compiled to bytecode (threshold 2) where they can be. The
     * result is the last run's; if a run differs from the reference in any register, flag, data byte or
     * stop, {@link #run} throws: decoded blocks must be invisible, replayed and compiled alike.
     */
    public EmuTestRig replays(boolean on) {
        this.replays = on;
        return this;
    }

    /** The RFLAGS bits the block runs of {@link #replays} must agree on with the reference (all unless set). */
    private long tierFlagMask = -1L;

    /**
     * Compares only {@code mask}'s RFLAGS bits between the reference and the block runs of {@link #replays}. The
     * differential tests pass the flags the architecture defines for their sequence, the same mask they compare the
     * host CPU under: the native tier runs shifts, IMUL and their kin on the host, whose undefined flags are the
     * host's, not the interpreter's (docs/emu-native.md, "Undefined flags").
     */
    public EmuTestRig tierFlagMask(long mask) {
        this.tierFlagMask = mask;
        return this;
    }

    public Result run(byte[] code, State initial, byte[] data, int cpl) {
        return run(code, initial, data, cpl, 1_000_000);
    }

    public Result run(byte[] code, State initial, byte[] data, int cpl, long maxInstructions) {
        if (cpl != 0 && cpl != 3) throw new IllegalArgumentException("cpl must be 0 or 3");
        if (code.length > DATA_BASE - CODE_BASE - 2 || data.length > DATA_SIZE) throw new IllegalArgumentException("too big");
        try (GuestMemory mem = GuestMemory.allocate(RAM)) {
            buildMachine(mem);
            if (!mmioDevices.isEmpty()) mem.writeLong(PD + 16, MMIO_BASE | 0x7 | 0x80);
            mem.write(CODE_BASE, code);
            mem.write(DATA_BASE, data);
            CpuState st = new CpuState();
            setupState(st, initial, cpl);
            resetFpu(initial);
            Bus mmio = new Bus("mmio");
            for (Bus.Range d : mmioDevices) mmio.register(d.base(), d.length(), d.device(), d.name());
            Mmu mmu = new Mmu(st, new PhysicalMemory(mem, mmio, null));
            Bus ports = new Bus("pio");
            for (Bus.Range d : portDevices) ports.register(d.base(), d.length(), d.device(), d.name());
            CpuOptions options = CpuOptions.defaults().withStopOnFault(true);
            if (compileThreshold >= 0) options = options.withCompileThreshold(compileThreshold);
            if (nativeTier) options = options.withNativeTier(true);
            if (!replays) {
                Cpu cpu = new Cpu(st, mmu, ports, null, new GuestClock(), fpu, 0, 1, options);
                lastCpu = cpu;
                return runOnce(cpu, st, mem, code, data, maxInstructions, slice);
            }
            // UD2: a slice running past the end stops there with a fault at the end (at any CPL).
            mem.write(CODE_BASE + code.length, new byte[] {0x0F, 0x0B});
            Cpu decoding = new Cpu(st, mmu, ports, null, new GuestClock(), fpu, 0, 1, options.withBlockCache(false));
            Result reference = runOnce(decoding, st, mem, code, data, maxInstructions, 1);
            Cpu cpu = new Cpu(st, mmu, ports, null, new GuestClock(), fpu, 0, 1,
                    options.withBlockCache(true).withCompileThreshold(2));
            lastCpu = cpu;
            Result last = reference;
            for (String run : new String[] {"building blocks", "replaying blocks", "running compiled blocks"}) {
                mem.write(CODE_BASE, code);
                mem.write(DATA_BASE, data);
                setupState(st, initial, cpl);
                resetFpu(initial);
                cpu.modeChanged();
                last = runOnce(cpu, st, mem, code, data, maxInstructions, 64);
                if (!sameOutcome(reference, last, tierFlagMask)) {
                    throw new IllegalStateException(run + " changed the outcome: reference " + describe(reference)
                            + ", " + run + " " + describe(last));
                }
            }
            return last;
        }
    }

    /** A machine of this rig with {@code code} loaded and one CPU on it at {@code initial} (see {@link #session}). */
    public record Session(Cpu cpu, CpuState state, GuestMemory memory) {}

    /**
     * Builds the machine with {@code code} at {@link #CODE_BASE} and one CPU with this rig's options (no reference
     * run, no slicing) and hands it to {@code body}, which drives {@link Cpu#execute} itself: for tests that look
     * at the CPU between calls or change memory between runs. The memory is freed when {@code body} returns.
     */
    public <T> T session(byte[] code, State initial, int cpl, java.util.function.Function<Session, T> body) {
        if (cpl != 0 && cpl != 3) throw new IllegalArgumentException("cpl must be 0 or 3");
        try (GuestMemory mem = GuestMemory.allocate(RAM)) {
            buildMachine(mem);
            mem.write(CODE_BASE, code);
            CpuState st = new CpuState();
            setupState(st, initial, cpl);
            resetFpu(initial);
            Mmu mmu = new Mmu(st, new PhysicalMemory(mem, new Bus("mmio"), null));
            CpuOptions options = CpuOptions.defaults().withStopOnFault(true);
            if (compileThreshold >= 0) options = options.withCompileThreshold(compileThreshold);
            if (nativeTier) options = options.withNativeTier(true);
            Cpu cpu = new Cpu(st, mmu, new Bus("pio"), null, new GuestClock(), fpu, 0, 1, options);
            lastCpu = cpu;
            return body.apply(new Session(cpu, st, mem));
        }
    }

    /** Puts the state back at {@code initial} (registers, flags, RIP, segments) for another run on the same CPU. */
    public static void reset(Session s, State initial, int cpl) {
        setupState(s.state(), initial, cpl);
        s.cpu().modeChanged();
    }

    private void resetFpu(State initial) {
        fpu.reset();
        for (int i = 0; i < 16; i++) fpu.setXmm(i, initial.xmm()[2 * i], initial.xmm()[2 * i + 1]);
    }

    private Result runOnce(Cpu cpu, CpuState st, GuestMemory mem, byte[] code, byte[] data, long maxInstructions,
                           int slice) {
        long end = CODE_BASE + code.length;
        Stop stop = Stop.BUDGET;
        int vector = -1, error = 0;
        long n = 0;
        while (n < maxInstructions) {
            if (st.rip == end) { stop = Stop.END; break; }
            long before = cpu.statistics().instructions();
            int exit = cpu.execute(slice);
            // A sliced run ran past the end of the code: it faulted there (on the replay runs' UD2).
            if (exit == Cpu.EXIT_FAULT && slice > 1 && st.rip == end) { stop = Stop.END; break; }
            if (exit == Cpu.EXIT_FAULT) {
                GuestFault f = cpu.lastFault();
                stop = Stop.FAULT;
                vector = f.vector;
                error = f.errorCode;
                break;
            }
            if (exit == Cpu.EXIT_HALT) { stop = Stop.HALT; break; }
            n += Math.max(1, cpu.statistics().instructions() - before);
        }
        long[] xmm = new long[32];
        for (int i = 0; i < 16; i++) {
            xmm[2 * i] = fpu.xmm(i, 0);
            xmm[2 * i + 1] = fpu.xmm(i, 1);
        }
        byte[] out = new byte[DATA_SIZE];
        mem.read(DATA_BASE, out, 0, DATA_SIZE);
        if (data.length < DATA_SIZE) out = Arrays.copyOf(out, Math.max(data.length, DATA_SIZE));
        State fin = new State(st.gpr, st.flags.get(), st.rip, xmm);
        return new Result(fin, out, stop, vector, error, cpu.statistics().instructions());
    }

    private static boolean sameOutcome(Result a, Result b, long flagMask) {
        return Arrays.equals(a.state().gpr(), b.state().gpr()) && ((a.state().rflags() ^ b.state().rflags()) & flagMask) == 0
                && a.state().rip() == b.state().rip() && Arrays.equals(a.state().xmm(), b.state().xmm())
                && Arrays.equals(a.data(), b.data()) && a.stop() == b.stop() && a.faultVector() == b.faultVector()
                && a.errorCode() == b.errorCode();
    }

    private static String describe(Result r) {
        return r.stop() + " vector " + r.faultVector() + " rip " + Long.toHexString(r.state().rip()) + " rflags "
                + Long.toHexString(r.state().rflags()) + " gpr " + Arrays.toString(r.state().gpr());
    }

    private static void buildMachine(GuestMemory mem) {
        long flags = 0x7; // present, writable, user
        mem.writeLong(PML4, PDPT | flags);
        mem.writeLong(PDPT, PD | flags);
        mem.writeLong(PML4 + 511 * 8, PDPT | flags); // KERNEL_ALIAS: PML4[511], PDPT[510] -> the same PD
        mem.writeLong(PDPT + 510 * 8, PD | flags);
        mem.writeLong(PD, 0x0000_0000L | flags | 0x80);
        mem.writeLong(PD + 8, 0x0020_0000L | flags | 0x80);
        long[] gdt = {
                0,
                dev.flint.arch.x86.Segment.code64(0x08).toGdtEntry(),
                dev.flint.arch.x86.Segment.data(0x10).toGdtEntry(),
                userData(),
                userCode64(),
        };
        for (int i = 0; i < gdt.length; i++) mem.writeLong(GDT + 8L * i, gdt[i]);
        // The TSS (at 0, limit 0x67) has its I/O bitmap offset past the limit: no port is open at CPL 3,
        // as for a Linux process that never called ioperm().
        mem.writeShort(0x66, (short) 0x68);
    }

    private static long userData() { return dev.flint.arch.x86.Segment.data(0x18).toGdtEntry() | (3L << 45); }

    private static long userCode64() { return dev.flint.arch.x86.Segment.code64(0x20).toGdtEntry() | (3L << 45); }

    private static void setupState(CpuState st, State in, int cpl) {
        System.arraycopy(in.gpr(), 0, st.gpr, 0, 16);
        st.rip = in.rip();
        st.flags.load(in.rflags());
        st.cr0 = CpuState.CR0_PE | CpuState.CR0_MP | CpuState.CR0_ET | CpuState.CR0_NE | CpuState.CR0_WP | CpuState.CR0_PG;
        st.cr3 = PML4;
        st.cr4 = CpuState.CR4_PAE | CpuState.CR4_PGE | CpuState.CR4_OSFXSR | CpuState.CR4_OSXMMEXCPT;
        st.efer = CpuState.EFER_SCE | CpuState.EFER_LME | CpuState.EFER_LMA | CpuState.EFER_NXE;
        st.gdtBase = GDT;
        st.gdtLimit = 5 * 8 - 1;
        int code = cpl == 3 ? 0x23 : 0x08, stack = cpl == 3 ? 0x1B : 0x10;
        st.setSegment(CpuState.CS, withDpl(dev.flint.arch.x86.Segment.code64(code), cpl));
        st.setSegment(CpuState.SS, withDpl(dev.flint.arch.x86.Segment.data(stack), cpl));
        for (int sr : new int[] {CpuState.DS, CpuState.ES, CpuState.FS, CpuState.GS}) {
            st.setSegment(sr, dev.flint.arch.x86.Segment.unusable());
        }
        st.setSegment(CpuState.TR, dev.flint.arch.x86.Segment.tss(0));
        st.cpl = cpl;
    }

    private static dev.flint.arch.x86.Segment withDpl(dev.flint.arch.x86.Segment s, int dpl) {
        return new dev.flint.arch.x86.Segment(s.selector(), s.base(), s.limit(), s.type(), s.present(), dpl,
                s.db(), s.s(), s.l(), s.g());
    }
}
