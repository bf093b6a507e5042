package dev.flint.engine.emu.bench;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.X64Emitter;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;

/**
 * Issue 15's native-tier spike (docs/emu-speed.md, "Round eleven"): what x86-64 host code entered through an FFM
 * downcall would cost. Not a test, not part of the engine: run with
 * {@code java --enable-native-access=ALL-UNNAMED -Drounds=7 -cp target/classes:target/test-classes
 * dev.flint.engine.emu.bench.NativeTierSpike entry|calls|branchy}.
 *
 * <p>{@code entry}: ns per downcall into a few bytes of code (plain, {@code Linker.Option.critical}, with a native
 * and with a heap segment argument), measured on the calling thread's CPU clock, C2-compiled caller.
 *
 * <p>{@code calls} and {@code branchy}: InterpreterBenchmark's loops of the same names, translated by hand the
 * way a native tier would: guest registers in a native struct (loaded at entry, stored at exit, or with
 * {@code -Dspill=true} loaded and stored at every block boundary as a register-allocating-per-block translator
 * does), guest memory as a base register plus one bounds check per block (its stack range, hoisted), blocks chained
 * by direct host jumps, the ret's target checked against the one return address the call site pushed (an exit to
 * Java otherwise), a budget in instructions taken at each block's entry that returns to Java when it runs out.
 * With {@code -DexactFlags=true} (the default) the guest's flags stay exact: the block-entry checks keep them in
 * ax (LAHF/SETO ... SAHF); with false they are clobbered by the checks (the lower bound of a check's cost).
 * {@code -Dslice=N}: instructions per downcall (4096, the engine's slice, by default); {@code -Dtlb=true} (calls):
 * a software TLB probe per access instead of the hoisted check; {@code -Dret=lookup} (calls): RET through a table
 * of {guest RIP, host address}. Each round checks its final registers (and flags, when exact) against the
 * emulator's run of the same bytes.
 *
 * <p>{@code footprint}: a ring of {@code -Dblocks=N,...} five-instruction blocks (two memory accesses each) in a
 * shuffled order, natively and on the emulator, to see the cost per instruction as the code outgrows the host's
 * caches; {@code -Dindirect=true} sends every block through one shared indirect jump. {@code translate}: the cost
 * of emitting a block and of the mmap/mprotect calls a code cache would make.
 */
public final class NativeTierSpike {
    // The state struct: 16 GPRs, then RIP, RFLAGS (arithmetic bits), the budget, guest memory's base address
    static final int RIP = 128, FLAGS = 136, BUDGET = 144, MEMBASE = 152, RESUME = 160;
    /** With -Dtlb=true: a direct-mapped software TLB of 256 entries {tag, addend} in the struct, QEMU's shape. */
    static final int TLB = 256, TLB_ENTRIES = 256;
    /** With -Dret=lookup: RET's target found in a 1,024-entry table {guest RIP, host address} (QEMU's
     *  lookup_and_goto_ptr shape, without the helper call) instead of the inline check of one return address. */
    static final int JUMPS = TLB + 16 * TLB_ENTRIES, JUMP_ENTRIES = 1024, STATE_BYTES = JUMPS + 16 * JUMP_ENTRIES;
    static final long RAM = 4L << 20;
    static final int EXIT_BUDGET = 1, EXIT_HALT = 2, EXIT_FAULT = 3, EXIT_INDIRECT = 4, EXIT_TLB_MISS = 5;
    static final long ARITH_FLAGS = 0x8D5;
    /** Guest register -> host register (-1: not used by these loops). rax, r10, r11 scratch; r13 budget, r14
     *  memory base, r15 the state struct. */
    static final int[] HOST = new int[16];
    static {
        Arrays.fill(HOST, -1);
        HOST[0] = R9; HOST[1] = RCX; HOST[2] = RDX; HOST[3] = RBX; HOST[4] = R8; HOST[5] = RBP;
        HOST[7] = RDI; HOST[12] = R12; // guest rsi unmapped: host rsi is the TLB probe's third scratch
    }
    static final int G_RAX = 0, G_RCX = 1, G_RBX = 3, G_RSP = 4, G_RBP = 5, G_R12 = 12;

    private NativeTierSpike() {}

    /** One translated loop: its code and the guest address of each block, for the entry's dispatch. */
    record Translation(byte[] code, long[] guestRips, int[] hostOffsets, int entryOffset) {}

    /** Emits blocks the way a native tier would; see the class comment. */
    static final class Translator {
        final X64Emitter e = new X64Emitter();
        final boolean exactFlags, spill, tlb;
        boolean retLookup;
        final X64Emitter.Label common = new X64Emitter.Label();
        final List<Runnable> stubs = new ArrayList<>();

        Translator(boolean exactFlags, boolean spill, boolean tlb) {
            if (spill && tlb) throw new IllegalArgumentException("spill with tlb is not written");
            this.exactFlags = exactFlags;
            this.spill = spill;
            this.tlb = tlb;
        }

        /**
         * With the TLB: guest virtual address in r10 -> host address in r10 through the software TLB (index from
         * bits 12-19, tag = page | the access's low 3 bits so that a misaligned access misses, addend to the host
         * page), the guest's flags kept around it when exact. A miss leaves for Java (never taken in this bench:
         * its TLB is filled before the run; a tier would walk the tables there and go on).
         */
        void probe() {
            if (exactFlags) e.saveFlagsToAx();
            e.aluRR(MOV, true, R11, R10);
            e.shift(EXT_SHR, R11, 12);
            e.aluRI(EXT_AND, R11, TLB_ENTRIES - 1);
            e.shift(EXT_SHL, R11, 4);
            e.aluRR(MOV, true, RSI, R10);
            e.aluRI(EXT_AND, RSI, 0xFFFFF007);
            e.opIndexedDisp(0x3B, RSI, R15, R11, TLB);
            X64Emitter.Label miss = new X64Emitter.Label();
            e.jcc(CC_NZ, miss);
            e.opIndexedDisp(0x03, R10, R15, R11, TLB + 8);
            if (exactFlags) e.restoreFlagsFromAx();
            stubs.add(() -> {
                e.bind(miss);
                if (exactFlags) e.restoreFlagsFromAx();
                e.movImm32(R11, EXIT_TLB_MISS);
                e.jmp(common);
            });
        }

        /**
         * A block's entry: take {@code n} instructions from the budget (exit before the block when they are not
         * there), check its stack range [rsp + lo, rsp + hi) lies in guest RAM (hi > lo; none when equal), then
         * load the guest registers it reads when spilling.
         */
        void blockEntry(X64Emitter.Label at, long rip, int n, int lo, int hi, int... reads) {
            e.bind(at);
            if (exactFlags) e.saveFlagsToAx();
            e.aluRI(EXT_SUB, R13, n);
            X64Emitter.Label budget = new X64Emitter.Label();
            e.jcc(CC_L, budget);
            X64Emitter.Label fault = new X64Emitter.Label();
            if (hi > lo) {
                if (spill) e.load(HOST[G_RSP], R15, 8 * G_RSP);
                e.lea(R10, HOST[G_RSP], lo);
                e.aluRI(EXT_CMP, R10, (int) (RAM - (hi - lo)));
                e.jcc(CC_A, fault);
            }
            if (exactFlags) e.restoreFlagsFromAx();
            if (spill) for (int g : reads) if (g != G_RSP || hi == lo) e.load(HOST[g], R15, 8 * g);
            stubs.add(() -> exitStub(budget, rip, n, EXIT_BUDGET));
            if (hi > lo) stubs.add(() -> exitStub(fault, rip, n, EXIT_FAULT));
        }

        /** The block did not run: give its instructions back, restore the guest's flags, leave at its start. */
        private void exitStub(X64Emitter.Label at, long rip, int n, int reason) {
            e.bind(at);
            e.aluRI(EXT_ADD, R13, n);
            if (exactFlags) e.restoreFlagsFromAx();
            e.movImm32(R10, (int) rip);
            e.movImm32(R11, reason);
            e.jmp(common);
        }

        /** Block end when spilling: the guest registers it wrote go back to the struct (MOV keeps the flags). */
        void blockExit(int... writes) {
            if (spill) for (int g : writes) e.store(R15, 8 * g, HOST[g]);
        }

        void push(int g) {
            e.lea(HOST[G_RSP], HOST[G_RSP], -8);
            if (tlb) {
                e.aluRR(MOV, true, R10, HOST[G_RSP]);
                probe();
                e.store(R10, 0, HOST[g]);
            } else {
                e.storeIndexed(R14, HOST[G_RSP], HOST[g]);
            }
        }

        void pop(int g) {
            if (tlb) {
                e.aluRR(MOV, true, R10, HOST[G_RSP]);
                probe();
                e.load(HOST[g], R10, 0);
            } else {
                e.loadIndexed(HOST[g], R14, HOST[G_RSP]);
            }
            e.lea(HOST[G_RSP], HOST[G_RSP], 8);
        }

        /** call: the return address pushed, then a direct jump to the callee's block. */
        void call(long returnRip, X64Emitter.Label callee, int... writes) {
            e.lea(HOST[G_RSP], HOST[G_RSP], -8);
            if (tlb) {
                e.aluRR(MOV, true, R10, HOST[G_RSP]);
                probe();
                e.storeImm32(R10, 0, (int) returnRip);
            } else {
                e.movImm32(R10, (int) returnRip);
                e.storeIndexed(R14, HOST[G_RSP], R10);
            }
            blockExit(writes);
            e.jmp(callee);
        }

        /** ret: pop the target, go on directly when it is the expected return address, else leave for Java. */
        void ret(long expected, X64Emitter.Label next, int... writes) {
            if (tlb) {
                e.aluRR(MOV, true, R10, HOST[G_RSP]);
                probe();
                e.load(R10, R10, 0);
            } else {
                e.loadIndexed(R10, R14, HOST[G_RSP]);
            }
            e.lea(HOST[G_RSP], HOST[G_RSP], 8);
            blockExit(writes);
            if (exactFlags) e.saveFlagsToAx();
            X64Emitter.Label other = new X64Emitter.Label();
            if (retLookup) {
                e.aluRR(MOV, true, R11, R10);
                e.aluRI(EXT_AND, R11, JUMP_ENTRIES - 1);
                e.shift(EXT_SHL, R11, 4);
                e.opIndexedDisp(0x3B, R10, R15, R11, JUMPS);
                e.jcc(CC_NZ, other);
                if (exactFlags) e.restoreFlagsFromAx();
                e.opIndexedDisp(0xFF, 4, R15, R11, JUMPS + 8); // jmp [r15 + r11 + JUMPS + 8]
            } else {
                e.aluRI(EXT_CMP, R10, (int) expected);
                e.jcc(CC_NZ, other);
                if (exactFlags) e.restoreFlagsFromAx();
                e.jmp(next);
            }
            stubs.add(() -> {
                e.bind(other);
                if (exactFlags) e.restoreFlagsFromAx();
                e.movImm32(R11, EXIT_INDIRECT);
                e.jmp(common);
            });
        }

        /** hlt: leave for Java with RIP after it. */
        void hlt(long ripAfter) {
            e.movImm32(R10, (int) ripAfter);
            e.movImm32(R11, EXIT_HALT);
            e.jmp(common);
        }

        /** The stubs, the common exit, then the entry (which dispatches on the struct's RIP). */
        Translation finish(long[] rips, X64Emitter.Label[] blocks) {
            stubs.forEach(Runnable::run);
            e.bind(common);
            e.pushfq();
            e.pop(RAX);
            e.store(R15, FLAGS, RAX);
            e.store(R15, RIP, R10);
            e.store(R15, BUDGET, R13);
            if (!spill) for (int g = 0; g < 16; g++) if (HOST[g] >= 0) e.store(R15, 8 * g, HOST[g]);
            e.aluRR(MOV, true, RAX, R11);
            for (int r : new int[] {R15, R14, R13, R12, RBP, RBX}) e.pop(r);
            e.ret();
            int entry = e.position();
            for (int r : new int[] {RBX, RBP, R12, R13, R14, R15}) e.push(r);
            e.aluRR(MOV, true, R15, RDI);
            e.load(R14, R15, MEMBASE);
            e.load(R13, R15, BUDGET);
            if (!spill) for (int g = 0; g < 16; g++) if (HOST[g] >= 0) e.load(HOST[g], R15, 8 * g);
            e.load(R10, R15, RIP);
            for (int i = 0; i < rips.length; i++) {
                X64Emitter.Label no = new X64Emitter.Label();
                e.aluRI(EXT_CMP, R10, (int) rips[i]);
                e.jcc(CC_NZ, no);
                e.load(RAX, R15, FLAGS);
                e.popfqFrom(RAX);
                e.jmp(blocks[i]);
                e.bind(no);
            }
            e.movImm32(R11, EXIT_INDIRECT);
            e.jmp(common);
            int[] offsets = new int[blocks.length];
            for (int i = 0; i < blocks.length; i++) offsets[i] = blocks[i].position();
            return new Translation(e.bytes(), rips, offsets, entry);
        }
    }

    /** InterpreterBenchmark's calls: mov ecx, 2e6; L: call f; dec ecx; jnz L; hlt; f: 3 pushes, mov, add, 3 pops, ret. */
    static final String CALLS = "b980841e00" + "e805000000" + "ffc9" + "75f7" + "f4"
            + "53" + "55" + "4154" + "4889cb" + "4801d8" + "415c" + "5d" + "5b" + "c3";

    static Translation calls(boolean exactFlags, boolean spill, boolean tlb) {
        return calls(exactFlags, spill, tlb, false);
    }

    static Translation calls(boolean exactFlags, boolean spill, boolean tlb, boolean retLookup) {
        long base = EmuTestRig.CODE_BASE;
        Translator t = new Translator(exactFlags, spill, tlb);
        t.retLookup = retLookup;
        // With the TLB every access is probed; without it the block's stack range is checked once at its entry
        int s = tlb ? 0 : 1;
        X64Emitter e = t.e;
        var b0 = new X64Emitter.Label();
        var bl = new X64Emitter.Label();
        var b1 = new X64Emitter.Label();
        var bh = new X64Emitter.Label();
        var bf = new X64Emitter.Label();
        // 100000: mov ecx, 2000000; call f
        t.blockEntry(b0, base, 2, -8 * s, 0);
        e.movImm32(HOST[G_RCX], 2_000_000);
        t.call(base + 0xa, bf, G_RCX, G_RSP);
        // 100005: call f
        t.blockEntry(bl, base + 5, 1, -8 * s, 0);
        t.call(base + 0xa, bf, G_RSP);
        // 10000f: push rbx; push rbp; push r12; mov rbx, rcx; add rax, rbx; pop r12; pop rbp; pop rbx; ret
        t.blockEntry(bf, base + 0xf, 9, -24 * s, 8 * s, G_RBX, G_RBP, G_R12, G_RCX, G_RAX);
        t.push(G_RBX);
        t.push(G_RBP);
        t.push(G_R12);
        e.aluRR(MOV, true, HOST[G_RBX], HOST[G_RCX]);
        e.aluRR(ADD, true, HOST[G_RAX], HOST[G_RBX]);
        t.pop(G_R12);
        t.pop(G_RBP);
        t.pop(G_RBX);
        t.ret(base + 0xa, b1, G_RBX, G_RBP, G_R12, G_RAX, G_RSP);
        // 10000a: dec ecx; jnz L
        t.blockEntry(b1, base + 0xa, 2, 0, 0, G_RCX);
        e.dec32(HOST[G_RCX]);
        t.blockExit(G_RCX);
        e.jcc(CC_NZ, bl);
        e.jmp(bh);
        // 10000e: hlt
        t.blockEntry(bh, base + 0xe, 1, 0, 0);
        t.hlt(base + 0xf);
        return t.finish(new long[] {base, base + 5, base + 0xf, base + 0xa, base + 0xe},
                new X64Emitter.Label[] {b0, bl, bf, b1, bh});
    }

    /** InterpreterBenchmark's branchy: mov ecx, 1e7; xor eax, eax; L: test cl, 1; jz S; add eax, ecx; S: dec ecx; jnz L; hlt. */
    static final String BRANCHY = "b980969800" + "31c0" + "f6c101" + "7402" + "01c8" + "ffc9" + "75f5" + "f4";

    static Translation branchy(boolean exactFlags, boolean spill) {
        long base = EmuTestRig.CODE_BASE;
        Translator t = new Translator(exactFlags, spill, false);
        X64Emitter e = t.e;
        var b0 = new X64Emitter.Label();
        var bl = new X64Emitter.Label();
        var ba = new X64Emitter.Label();
        var bs = new X64Emitter.Label();
        var bh = new X64Emitter.Label();
        int rax = HOST[G_RAX], rcx = HOST[G_RCX];
        // 100000: mov ecx, 1e7; xor eax, eax; test cl, 1; jz S
        t.blockEntry(b0, base, 4, 0, 0);
        e.movImm32(rcx, 10_000_000);
        e.aluRR(XOR, false, rax, rax);
        e.testByte(rcx, 1);
        t.blockExit(G_RCX, G_RAX);
        e.jcc(CC_Z, bs);
        e.jmp(ba);
        // 100007: test cl, 1; jz S
        t.blockEntry(bl, base + 7, 2, 0, 0, G_RCX);
        e.testByte(rcx, 1);
        e.jcc(CC_Z, bs);
        e.jmp(ba);
        // 10000c: add eax, ecx; dec ecx; jnz L
        t.blockEntry(ba, base + 0xc, 3, 0, 0, G_RAX, G_RCX);
        e.aluRR(ADD, false, rax, rcx);
        e.dec32(rcx);
        t.blockExit(G_RAX, G_RCX);
        e.jcc(CC_NZ, bl);
        e.jmp(bh);
        // 10000e: dec ecx; jnz L
        t.blockEntry(bs, base + 0xe, 2, 0, 0, G_RCX);
        e.dec32(rcx);
        t.blockExit(G_RCX);
        e.jcc(CC_NZ, bl);
        e.jmp(bh);
        // 100012: hlt
        t.blockEntry(bh, base + 0x12, 1, 0, 0);
        t.hlt(base + 0x13);
        return t.finish(new long[] {base, base + 7, base + 0xc, base + 0xe, base + 0x12},
                new X64Emitter.Label[] {b0, bl, ba, bs, bh});
    }

    public static void main(String[] args) throws Throwable {
        String mode = args.length > 0 ? args[0] : "entry";
        if (!System.getProperty("os.arch").equals("amd64")) throw new IllegalStateException("x86-64 host code: amd64 only");
        int rounds = Integer.getInteger("rounds", 7);
        if (mode.equals("entry")) {
            entry(rounds);
            return;
        }
        if (mode.equals("translate")) {
            translate(rounds);
            return;
        }
        if (mode.equals("footprint")) {
            footprint(rounds);
            return;
        }
        boolean exact = Boolean.parseBoolean(System.getProperty("exactFlags", "true"));
        boolean spill = Boolean.getBoolean("spill");
        long slice = Long.getLong("slice", 4096);
        boolean critical = Boolean.getBoolean("critical");
        // -DcheckFlags=true on an inexact run shows the check can fail: the block-entry checks clobber CF
        boolean checkFlags = Boolean.parseBoolean(System.getProperty("checkFlags", Boolean.toString(exact)));
        boolean tlb = Boolean.getBoolean("tlb") && mode.equals("calls"); // branchy touches no memory
        boolean retLookup = System.getProperty("ret", "inline").equals("lookup") && mode.equals("calls");
        Translation tr = mode.equals("calls") ? calls(exact, spill, tlb, retLookup) : branchy(exact, spill);
        String guest = mode.equals("calls") ? CALLS : BRANCHY;
        if (Boolean.getBoolean("dump")) System.out.println(HexFormat.of().formatHex(tr.code()));
        EmuTestRig.Result reference = new EmuTestRig().slices(4096).run(HexFormat.of().parseHex(guest),
                EmuTestRig.State.of(initialGprs(), 2), new byte[0], 0, Long.MAX_VALUE);
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        try (NativeCode code = new NativeCode(tr.code()); Arena arena = Arena.ofConfined()) {
            MethodHandle run = critical
                    ? code.entry(tr.entryOffset(), FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                            Linker.Option.critical(false))
                    : code.entry(tr.entryOffset(), FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
            MemorySegment ram = arena.allocate(RAM, 4096);
            MemorySegment state = arena.allocate(STATE_BYTES, 64);
            double[] mips = new double[rounds];
            for (int round = 0; round < rounds; round++) {
                long[] gpr = initialGprs();
                for (int g = 0; g < 16; g++) state.setAtIndex(ValueLayout.JAVA_LONG, g, gpr[g]);
                state.set(ValueLayout.JAVA_LONG, RIP, EmuTestRig.CODE_BASE);
                state.set(ValueLayout.JAVA_LONG, FLAGS, 2);
                state.set(ValueLayout.JAVA_LONG, MEMBASE, ram.address());
                for (int i = 0; i < TLB_ENTRIES; i++) {
                    state.set(ValueLayout.JAVA_LONG, TLB + 16L * i, -1); // matches no address
                }
                // The stack page's entry, as a table walk would fill it (identity: guest page -> ram + page)
                long page = EmuTestRig.STACK_TOP - 4096;
                int slot = (int) ((page >>> 12) & (TLB_ENTRIES - 1));
                state.set(ValueLayout.JAVA_LONG, TLB + 16L * slot, page);
                state.set(ValueLayout.JAVA_LONG, TLB + 16L * slot + 8, ram.address());
                for (int i = 0; i < JUMP_ENTRIES; i++) state.set(ValueLayout.JAVA_LONG, JUMPS + 16L * i, -1);
                for (int i = 0; i < tr.guestRips().length; i++) { // every block's entry, as a tier would keep them
                    long jslot = tr.guestRips()[i] & (JUMP_ENTRIES - 1);
                    state.set(ValueLayout.JAVA_LONG, JUMPS + 16 * jslot, tr.guestRips()[i]);
                    state.set(ValueLayout.JAVA_LONG, JUMPS + 16 * jslot + 8, code.address() + tr.hostOffsets()[i]);
                }
                long c0 = threads.getCurrentThreadCpuTime();
                long[] counts = runToHalt(run, state, slice);
                double cpu = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
                mips[round] = counts[0] / cpu / 1e6;
                String check = compare(state, reference, checkFlags);
                System.out.printf("round %d: %d instructions in %d downcalls, %.4f s CPU = %.1f MIPS per CPU second; %s%n",
                        round, counts[0], counts[1], cpu, mips[round], check);
            }
            double[] sorted = mips.clone();
            Arrays.sort(sorted);
            System.out.printf("%s exactFlags=%b spill=%b tlb=%b retLookup=%b slice=%d critical=%b: median %.1f MIPS per CPU second "
                    + "(%.2f ns per instruction), %d bytes of host code%n", mode, exact, spill, tlb, retLookup, slice, critical,
                    sorted[rounds / 2], 1e3 / sorted[rounds / 2], tr.code().length);
        }
    }

    private static long[] initialGprs() {
        long[] gpr = new long[16];
        gpr[4] = EmuTestRig.STACK_TOP;
        return gpr;
    }

    /** Downcalls until HLT, a budget of {@code slice} instructions each; returns {instructions, downcalls}. */
    private static long[] runToHalt(MethodHandle run, MemorySegment state, long slice) throws Throwable {
        long instructions = 0, calls = 0;
        long at = state.address();
        while (true) {
            state.set(ValueLayout.JAVA_LONG, BUDGET, slice);
            long reason = (long) run.invokeExact(at);
            calls++;
            instructions += slice - state.get(ValueLayout.JAVA_LONG, BUDGET);
            if (reason == EXIT_HALT) return new long[] {instructions, calls};
            if (reason != EXIT_BUDGET) {
                throw new IllegalStateException("exit " + reason + " at " + Long.toHexString(state.get(ValueLayout.JAVA_LONG, RIP)));
            }
        }
    }

    /** The emulator's registers, RIP and (when exact) arithmetic flags against the native run's. */
    private static String compare(MemorySegment state, EmuTestRig.Result reference, boolean exact) {
        StringBuilder diff = new StringBuilder();
        for (int g = 0; g < 16; g++) {
            long v = state.getAtIndex(ValueLayout.JAVA_LONG, g);
            if (v != reference.state().gpr()[g]) diff.append(" gpr").append(g).append('=').append(Long.toHexString(v))
                    .append(" want ").append(Long.toHexString(reference.state().gpr()[g]));
        }
        long rip = state.get(ValueLayout.JAVA_LONG, RIP);
        if (rip != reference.state().rip()) diff.append(" rip=").append(Long.toHexString(rip));
        long flags = state.get(ValueLayout.JAVA_LONG, FLAGS) & ARITH_FLAGS;
        long want = reference.state().rflags() & ARITH_FLAGS;
        if (exact && flags != want) diff.append(" flags=").append(Long.toHexString(flags)).append(" want ").append(Long.toHexString(want));
        if (!diff.isEmpty()) throw new IllegalStateException("native run differs from the emulator:" + diff);
        return exact ? "registers, RIP and flags as the emulator's" : "registers and RIP as the emulator's (flags not kept)";
    }

    // ---- code footprint: many blocks, as the kernel's path has ----

    static final int FOOT_LEN = 5;

    /** Block k's two data addresses: 64 pages, 16 bytes apart within a page, so the TLB probes hit 64 entries. */
    static long footData(int k) {
        return EmuTestRig.DATA_BASE + (k % 64) * 4096L + ((k / 64) % 64) * 16L;
    }

    /** A ring of {@code n} guest blocks in a shuffled order, 27 bytes each: add rax, rcx; mov rbx, [d]; xor rbx,
     *  rax; mov [d + 8], rbx; jmp next. Block 0 is at CODE_BASE. */
    static byte[] footGuest(int n, int[] next, boolean indirect) {
        int size = indirect ? 32 : 27;
        byte[] code = new byte[size * n + (indirect ? 2 : 0)];
        for (int k = 0; k < n; k++) {
            int at = size * k;
            long d = footData(k);
            // -Dindirect=true: mov edx, next; jmp R, where R (after the last block) is jmp rdx: one indirect jump
            // site with n targets, as a kernel function's RET has many callers
            String tail = indirect
                    ? "ba" + le32(EmuTestRig.CODE_BASE + (long) size * next[k]) + "e9" + le32((long) size * n - (at + size))
                    : "e9" + le32((long) size * next[k] - (at + size));
            byte[] b = HexFormat.of().parseHex("4801c8" + "488b1c25" + le32(d) + "4831c3" + "48891c25" + le32(d + 8) + tail);
            System.arraycopy(b, 0, code, at, size);
        }
        if (indirect) { code[size * n] = (byte) 0xff; code[size * n + 1] = (byte) 0xe2; }
        return code;
    }

    private static String le32(long v) {
        return String.format("%02x%02x%02x%02x", v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    }

    /**
     * The same ring in host code: per block a budget check, the ALU instructions on host registers, two TLB-probed
     * accesses, a direct jump to the next block. A budget exit stores the block's host address to resume at.
     * Returns the code; its entry is at offset {@code entry[0]}, block 0 at {@code entry[1]}.
     */
    static byte[] footHost(int n, int[] next, boolean exact, boolean indirect, int[] entry) {
        Translator t = new Translator(exact, false, true);
        X64Emitter e = t.e;
        X64Emitter.Label[] blocks = new X64Emitter.Label[n];
        for (int k = 0; k < n; k++) blocks[k] = new X64Emitter.Label();
        X64Emitter.Label shared = new X64Emitter.Label();
        int len = indirect ? FOOT_LEN + 1 : FOOT_LEN;
        int rax = HOST[G_RAX], rbx = HOST[G_RBX], rcx = HOST[G_RCX];
        for (int k = 0; k < n; k++) {
            X64Emitter.Label at = blocks[k];
            e.bind(at);
            if (exact) e.saveFlagsToAx();
            e.aluRI(EXT_SUB, R13, len);
            X64Emitter.Label out = new X64Emitter.Label();
            e.jcc(CC_L, out);
            if (exact) e.restoreFlagsFromAx();
            e.aluRR(ADD, true, rax, rcx);
            e.movImm32(R10, (int) footData(k));
            t.probe();
            e.load(rbx, R10, 0);
            e.aluRR(XOR, true, rbx, rax);
            e.movImm32(R10, (int) footData(k) + 8);
            t.probe();
            e.store(R10, 0, rbx);
            if (indirect) {
                e.movImm32(HOST[2], (int) (EmuTestRig.CODE_BASE + 32L * next[k]));
                e.jmp(shared);
            } else {
                e.jmp(blocks[next[k]]);
            }
            t.stubs.add(() -> {
                e.bind(out);
                e.aluRI(EXT_ADD, R13, len);
                if (exact) e.restoreFlagsFromAx();
                e.leaRip(R10, at);
                e.movImm32(R11, EXIT_BUDGET);
                e.jmp(t.common);
            });
        }
        if (indirect) {
            // jmp rdx: the target's host address from a table indexed by guest RIP (r14 holds its base here)
            e.bind(shared);
            if (exact) e.saveFlagsToAx();
            e.aluRI(EXT_SUB, R13, 1);
            X64Emitter.Label out = new X64Emitter.Label();
            e.jcc(CC_L, out);
            e.aluRR(MOV, true, R11, HOST[2]);
            e.shift(EXT_SHR, R11, 5);
            e.aluRI(EXT_AND, R11, 0xffff);
            e.shift(EXT_SHL, R11, 4);
            e.opIndexedDisp(0x3B, HOST[2], R14, R11, 0);
            X64Emitter.Label miss = new X64Emitter.Label();
            e.jcc(CC_NZ, miss);
            if (exact) e.restoreFlagsFromAx();
            e.opIndexedDisp(0xFF, 4, R14, R11, 8);
            t.stubs.add(() -> {
                e.bind(out);
                e.aluRI(EXT_ADD, R13, 1);
                if (exact) e.restoreFlagsFromAx();
                e.leaRip(R10, shared);
                e.movImm32(R11, EXIT_BUDGET);
                e.jmp(t.common);
                e.bind(miss);
                if (exact) e.restoreFlagsFromAx();
                e.movImm32(R11, EXIT_INDIRECT);
                e.jmp(t.common);
            });
        }
        t.stubs.forEach(Runnable::run);
        e.bind(t.common);
        e.pushfq();
        e.pop(RAX);
        e.store(R15, FLAGS, RAX);
        e.store(R15, RESUME, R10);
        e.store(R15, BUDGET, R13);
        for (int g : new int[] {G_RAX, G_RBX, G_RCX, 2}) e.store(R15, 8 * g, HOST[g]);
        e.aluRR(MOV, true, RAX, R11);
        for (int r : new int[] {R15, R14, R13, R12, RBP, RBX}) e.pop(r);
        e.ret();
        entry[0] = e.position();
        for (int r : new int[] {RBX, RBP, R12, R13, R14, R15}) e.push(r);
        e.aluRR(MOV, true, R15, RDI);
        e.load(R13, R15, BUDGET);
        for (int g : new int[] {G_RAX, G_RBX, G_RCX, 2}) e.load(HOST[g], R15, 8 * g);
        e.load(R14, R15, MEMBASE);
        e.load(RAX, R15, FLAGS);
        e.popfqFrom(RAX);
        e.jmpMem(R15, RESUME);
        entry[1] = blocks[0].position();
        for (int k = 0; k < n; k++) entry[2 + k] = blocks[k].position();
        return e.bytes();
    }

    /**
     * {@code footprint}: the ring of -Dblocks=N blocks (default a series 16 ... 32768) run for -Dinstructions
     * (default 20 M) natively (exact flags unless -DexactFlags=false) and on the emulator (replayed and compiled):
     * ns per instruction as the code's footprint outgrows the host's caches, as the kernel's ~7 K blocks do.
     */
    private static void footprint(int rounds) throws Throwable {
        boolean exact = Boolean.parseBoolean(System.getProperty("exactFlags", "true"));
        long total = Long.getLong("instructions", 20_000_000L);
        String list = System.getProperty("blocks", "16,256,2048,8192,32768");
        boolean emu = Boolean.parseBoolean(System.getProperty("emu", "true"));
        boolean indirect = Boolean.getBoolean("indirect");
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (String s : list.split(",")) {
            int n = Integer.parseInt(s.trim());
            int[] next = new int[n];
            java.util.List<Integer> order = new ArrayList<>();
            for (int k = 1; k < n; k++) order.add(k);
            java.util.Collections.shuffle(order, new java.util.Random(n));
            int prev = 0;
            for (int k : order) { next[prev] = k; prev = k; }
            next[prev] = 0;
            int[] entry = new int[2 + n];
            byte[] host = footHost(n, next, exact, indirect, entry);
            double[] nat = new double[rounds];
            try (NativeCode code = new NativeCode(host); Arena arena = Arena.ofConfined()) {
                MethodHandle run = code.entry(entry[0], FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                MemorySegment ram = arena.allocate(RAM, 4096);
                MemorySegment state = arena.allocate(STATE_BYTES, 64);
                for (int i = 0; i < TLB_ENTRIES; i++) state.set(ValueLayout.JAVA_LONG, TLB + 16L * i, -1);
                for (int p = 0; p < 64; p++) {
                    long page = EmuTestRig.DATA_BASE + p * 4096L;
                    int slot = (int) ((page >>> 12) & (TLB_ENTRIES - 1));
                    state.set(ValueLayout.JAVA_LONG, TLB + 16L * slot, page);
                    state.set(ValueLayout.JAVA_LONG, TLB + 16L * slot + 8, ram.address());
                }
                state.set(ValueLayout.JAVA_LONG, 8 * G_RCX, 3);
                state.set(ValueLayout.JAVA_LONG, FLAGS, 2);
                state.set(ValueLayout.JAVA_LONG, RESUME, code.address() + entry[1]);
                // The indirect jump's table: guest RIP -> host address of every block (a tier keeps it as it
                // translates); r14 points at it
                MemorySegment jumps = arena.allocate(16L * 65536, 64);
                for (int i = 0; i < 65536; i++) jumps.set(ValueLayout.JAVA_LONG, 16L * i, -1);
                for (int k = 0; k < n; k++) {
                    long rip = EmuTestRig.CODE_BASE + 32L * k;
                    long slot = (rip >>> 5) & 0xffff;
                    jumps.set(ValueLayout.JAVA_LONG, 16 * slot, rip);
                    jumps.set(ValueLayout.JAVA_LONG, 16 * slot + 8, code.address() + entry[2 + k]);
                }
                state.set(ValueLayout.JAVA_LONG, MEMBASE, jumps.address());
                // First a check: 25 slices natively against the emulator's run of as many guest instructions
                long checked = 0;
                for (int i = 0; i < 25; i++) {
                    state.set(ValueLayout.JAVA_LONG, BUDGET, 4095);
                    if ((long) run.invokeExact(state.address()) != EXIT_BUDGET) throw new IllegalStateException();
                    checked += 4095 - state.get(ValueLayout.JAVA_LONG, BUDGET);
                }
                long[] gpr0 = initialGprs();
                gpr0[G_RCX] = 3;
                EmuTestRig.Result ref = new EmuTestRig().slices(4095).run(footGuest(n, next, indirect), EmuTestRig.State.of(gpr0, 2),
                        new byte[0], 0, checked);
                for (int g : new int[] {G_RAX, G_RBX, G_RCX, 2}) {
                    if (ref.instructions() != checked || ref.state().gpr()[g] != state.get(ValueLayout.JAVA_LONG, 8 * g)) {
                        throw new IllegalStateException("native ring differs from the emulator: gpr" + g + " "
                                + Long.toHexString(state.get(ValueLayout.JAVA_LONG, 8 * g)) + " want "
                                + Long.toHexString(ref.state().gpr()[g]) + " after " + checked + "/" + ref.instructions());
                    }
                }
                for (int round = 0; round < rounds; round++) {
                    long done = 0;
                    long c0 = threads.getCurrentThreadCpuTime();
                    while (done < total) {
                        state.set(ValueLayout.JAVA_LONG, BUDGET, 4095);
                        long reason = (long) run.invokeExact(state.address());
                        if (reason != EXIT_BUDGET) throw new IllegalStateException("exit " + reason);
                        done += 4095 - state.get(ValueLayout.JAVA_LONG, BUDGET);
                    }
                    nat[round] = (threads.getCurrentThreadCpuTime() - c0) / (double) done;
                }
            }
            String emuFigures = "";
            if (emu) {
                byte[] guest = footGuest(n, next, indirect);
                long[] gpr = initialGprs();
                gpr[G_RCX] = 3;
                for (long threshold : new long[] {0, -1}) {
                    double[] ns = new double[rounds];
                    for (int round = 0; round < rounds; round++) {
                        EmuTestRig rig = new EmuTestRig().slices(4096);
                        if (threshold >= 0) rig.compileThreshold(threshold);
                        long c0 = threads.getCurrentThreadCpuTime();
                        EmuTestRig.Result r = rig.run(guest, EmuTestRig.State.of(gpr, 2), new byte[0], 0, total);
                        ns[round] = (threads.getCurrentThreadCpuTime() - c0) / (double) r.instructions();
                    }
                    Arrays.sort(ns);
                    emuFigures += String.format(", emulator %s %.2f ns", threshold == 0 ? "replayed" : "default threshold",
                            ns[rounds / 2]);
                }
            }
            Arrays.sort(nat);
            System.out.printf("%6d blocks (%d KiB host code, %d KiB guest code): native %.2f ns per instruction%s"
                    + " (registers as the emulator's after %d instructions)%n",
                    n, host.length / 1024, (indirect ? 32 : 27) * n / 1024, nat[rounds / 2], emuFigures, total > 0 ? 25 * 4095 : 0);
        }
    }

    // ---- translation cost ----

    /**
     * What making host code costs: emitting the calls loop's five blocks (this hand translator, no decoding:
     * a floor for a real translator's emit step), and putting code into an executable mapping (mmap RW, copy,
     * mprotect RX, munmap: the syscalls a W^X code cache pays per batch of new blocks). Thread CPU, medians.
     */
    private static void translate(int rounds) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        int n = Integer.getInteger("translations", 20_000);
        double[] emit = new double[rounds], map = new double[rounds], patch = new double[rounds], cached = new double[rounds],
                cold = new double[rounds], created = new double[rounds];
        long bytes = 0;
        for (int round = 0; round < rounds + 2; round++) {
            long c0 = threads.getCurrentThreadCpuTime();
            for (int i = 0; i < n; i++) bytes += calls(true, false, true).code().length;
            long c1 = threads.getCurrentThreadCpuTime();
            byte[] code = calls(true, false, true).code();
            for (int i = 0; i < n / 10; i++) {
                try (NativeCode c = new NativeCode(code)) {
                    bytes += c.hashCode() & 1;
                }
            }
            long c2 = threads.getCurrentThreadCpuTime();
            try (NativeCode c = new NativeCode(new byte[1 << 20])) {
                for (int i = 0; i < n / 10; i++) c.patch((i * 1454L) % ((1 << 20) - 2048), code);
            }
            long c3 = threads.getCurrentThreadCpuTime();
            // The engine's code cache: the same bytes written through the RW view of its memfd (no syscall),
            // 16 MiB so that some rounds also pay a flush.
            // A new cache's pages are first touched by these writes (page faults on the memfd: "cold"); after a
            // pass over the whole cache and a flush they are all present ("warm", the steady state).
            long cc = threads.getCurrentThreadCpuTime();
            try (CodeCache cache = CodeCache.create(16 << 20)) {
                if (round >= 2) created[round - 2] = (threads.getCurrentThreadCpuTime() - cc) / 1e3;
                int fill = (int) (cache.capacity() / ((code.length + 15) & -16));
                long c4 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < fill; i++) cache.write(cache.reserve(code.length), code);
                long c5 = threads.getCurrentThreadCpuTime();
                cache.flush();
                for (int i = 0; i < fill; i++) cache.write(cache.reserve(code.length), code);
                long c6 = threads.getCurrentThreadCpuTime();
                if (round >= 2) {
                    cold[round - 2] = (c5 - c4) / 1e3 / fill;
                    cached[round - 2] = (c6 - c5) / 1e3 / fill;
                }
                bytes += cache.flushes();
            }
            if (round >= 2) {
                patch[round - 2] = (c3 - c2) / 1e3 / (n / 10);
                emit[round - 2] = (c1 - c0) / 1e3 / n / 5; // five blocks
                map[round - 2] = (c2 - c1) / 1e3 / (n / 10);
            }
        }
        Arrays.sort(emit);
        Arrays.sort(map);
        Arrays.sort(patch);
        Arrays.sort(cached);
        Arrays.sort(cold);
        Arrays.sort(created);
        System.out.printf("emit: median %.2f us per block (calls loop, TLB probes, exact flags; %d bytes)%n",
                emit[rounds / 2], calls(true, false, true).code().length);
        System.out.printf("mmap RW + copy + mprotect RX + munmap: median %.2f us per code buffer (%d)%n", map[rounds / 2], bytes & 1);
        System.out.printf("mprotect RW + copy + mprotect RX into a 1 MiB code buffer: median %.2f us per patch%n", patch[rounds / 2]);
        System.out.printf("CodeCache reserve + write (dual-mapped memfd, %d bytes): median %.3f us per install on fresh"
                + " pages, %.3f us on pages already present%n", calls(true, false, true).code().length, cold[rounds / 2],
                cached[rounds / 2]);
        System.out.printf("CodeCache.create(16 MiB): median %.1f us%n", created[rounds / 2]);
    }

    // ---- entry cost ----

    private static final FunctionDescriptor LONG_LONG = FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG);
    private static final FunctionDescriptor LONG_ADDR = FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS);

    private static void entry(int rounds) throws Throwable {
        // 0: mov rax, rdi; ret    4: mov rax, [rdi]; ret
        byte[] bytes = HexFormat.of().parseHex("4889f8c3" + "488b07c3");
        try (NativeCode code = new NativeCode(bytes); Arena arena = Arena.ofConfined();
             CodeCache cache = CodeCache.create(1 << 16)) {
            X64Emitter identity = new X64Emitter();
            identity.aluRR(MOV, true, RAX, RDI);
            identity.ret();
            long identityAt = cache.install(identity);
            MethodHandle cached = cache.entry(identityAt, LONG_LONG);
            MethodHandle plain = code.entry(0, LONG_LONG);
            MethodHandle critical = code.entry(0, LONG_LONG, Linker.Option.critical(false));
            MethodHandle plainSeg = code.entry(4, LONG_ADDR);
            MethodHandle criticalSeg = code.entry(4, LONG_ADDR, Linker.Option.critical(false));
            MethodHandle heapSeg = code.entry(4, LONG_ADDR, Linker.Option.critical(true));
            MemorySegment nativeState = arena.allocate(64, 64);
            nativeState.set(ValueLayout.JAVA_LONG, 0, 7);
            MemorySegment heapState = MemorySegment.ofArray(new long[] {7, 0, 0, 0});
            int n = Integer.getInteger("calls", 20_000_000);
            String[] names = {"plain long", "critical long", "plain native segment", "critical native segment",
                    "critical(heap) heap segment", "CodeCache handle per block", "CodeCache.enter (one stub)",
                    "Java static call (baseline)"};
            double[][] ns = new double[names.length][rounds];
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            for (int round = 0; round < rounds + 2; round++) {
                for (int k = 0; k < names.length; k++) {
                    long c0 = threads.getCurrentThreadCpuTime();
                    long sum = switch (k) {
                        case 0 -> loopLong(plain, n);
                        case 1 -> loopLong(critical, n);
                        case 2 -> loopSeg(plainSeg, nativeState, n);
                        case 3 -> loopSeg(criticalSeg, nativeState, n);
                        case 4 -> loopSeg(heapSeg, heapState, n);
                        case 5 -> loopLong(cached, n);
                        case 6 -> loopEnter(cache, identityAt, n);
                        default -> loopJava(n);
                    };
                    double per = (threads.getCurrentThreadCpuTime() - c0) / (double) n;
                    if (sum == 42) System.out.println(); // keeps the sums alive
                    if (round >= 2) ns[k][round - 2] = per; // two warm-up rounds: C2 has the loops by then
                }
            }
            for (int k = 0; k < names.length; k++) {
                double[] s = ns[k].clone();
                Arrays.sort(s);
                System.out.printf("%-30s median %.2f ns per call (min %.2f, max %.2f; %d rounds of %d calls)%n",
                        names[k], s[rounds / 2], s[0], s[rounds - 1], rounds, n);
            }
        }
    }

    private static long loopEnter(CodeCache cache, long offset, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += cache.enter(offset, i);
        return sum;
    }

    private static long loopLong(MethodHandle h, int n) throws Throwable {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += (long) h.invokeExact((long) i);
        return sum;
    }

    private static long loopSeg(MethodHandle h, MemorySegment s, int n) throws Throwable {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += (long) h.invokeExact(s);
        return sum;
    }

    private static long identity(long v) { return v ^ 1; }

    private static long loopJava(int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += identity(i);
        return sum;
    }
}
