package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.GuestClock;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native tier's memory forms ({@link NativeMemoryForms}) against the interpreter, over a paged guest: 4 KiB
 * pages of data of which one is not present and one read-only, a code page holding a decoded block (stores into
 * it must go through Java), and a code page of the block itself. Random blocks of memory forms (every form, size,
 * addressing shape: base, base + index, RIP-relative, absolute, RSP/R15/R13 as base) mixed with register forms
 * run on a CPU with the native tier (decoded on a first run, then run three times natively, once after a TLB
 * flush so that every access misses first) and on the interpreter; registers, RIP, RFLAGS, the stop (fault
 * vector, error code) and the RAM bytes must be equal. {@code -Dflint.native.mem.cases=N} sets the number of
 * blocks.
 */
class NativeMemoryFormsTest {
    private static final long RAM = 4L << 20;
    private static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, GDT = 0x4000, PT = 0x5000;
    /** The block under test, and the page where a small decoded block ({@link #ENTRY}) jumps to it. */
    static final long CODE = 0x10_0000L, ENTRY = 0x18_0000L, HALT = 0x1F_0000L;
    /** 16 data pages at DATA; page 13 is not present, page 14 read-only. */
    static final long DATA = 0x20_0000L, STACK = 0x3F_0000L;
    static final int UNMAPPED = 13, READ_ONLY = 14, PAGES = 16;
    /**
     * All the random group's accesses fall here (its pointers, displacements up to 64 KiB + 256 and index * 8 from
     * either the data pages or ENTRY's page): restored before each run and compared after it.
     */
    static final long REACH = 0x17_0000L, REACH_END = 0x22_1000L;

    /** One machine: RAM, paging, the CPU. */
    static final class Machine implements AutoCloseable {
        final GuestMemory mem = GuestMemory.allocate(RAM);
        final CpuState st = new CpuState();
        final Mmu mmu;
        final Cpu cpu;

        Machine(boolean nativeTier, boolean blockCache) {
            mem.writeLong(PML4, PDPT | 3);
            mem.writeLong(PDPT, PD | 3);
            mem.writeLong(PD, 0x83); // 0-2 MiB: one supervisor 2 MiB page (code, tables)
            mem.writeLong(PD + 8, PT | 3);
            for (int i = 0; i < 512; i++) {
                long page = 0x20_0000L + 4096L * i;
                mem.writeLong(PT + 8L * i, i == UNMAPPED ? 0 : i == READ_ONLY ? page | 1 : page | 3);
            }
            long[] gdt = {0, dev.flint.arch.x86.Segment.code64(0x08).toGdtEntry(),
                    dev.flint.arch.x86.Segment.data(0x10).toGdtEntry()};
            for (int i = 0; i < gdt.length; i++) mem.writeLong(GDT + 8L * i, gdt[i]);
            mmu = new Mmu(st, new PhysicalMemory(mem, new Bus("mmio"), null));
            CpuOptions o = CpuOptions.defaults().withStopOnFault(true).withBlockCache(blockCache).withNativeTier(nativeTier);
            cpu = new Cpu(st, mmu, new Bus("pio"), null, new GuestClock(), FpuUnit.none(), 0, 1, o);
        }

        void reset(long[] gpr, long rflags, long rip) {
            System.arraycopy(gpr, 0, st.gpr, 0, 16);
            st.rip = rip;
            st.halted = false;
            st.flags.load(rflags);
            st.cr0 = CpuState.CR0_PE | CpuState.CR0_MP | CpuState.CR0_ET | CpuState.CR0_NE | CpuState.CR0_WP | CpuState.CR0_PG;
            st.cr3 = PML4;
            st.cr4 = CpuState.CR4_PAE | CpuState.CR4_PGE;
            st.efer = CpuState.EFER_SCE | CpuState.EFER_LME | CpuState.EFER_LMA | CpuState.EFER_NXE;
            st.gdtBase = GDT;
            st.gdtLimit = 3 * 8 - 1;
            st.setSegment(CpuState.CS, dev.flint.arch.x86.Segment.code64(0x08));
            st.setSegment(CpuState.SS, dev.flint.arch.x86.Segment.data(0x10));
            for (int sr : new int[] {CpuState.DS, CpuState.ES, CpuState.FS, CpuState.GS}) {
                st.setSegment(sr, dev.flint.arch.x86.Segment.unusable());
            }
            st.setSegment(CpuState.TR, dev.flint.arch.x86.Segment.tss(0));
            st.cpl = 0;
            cpu.modeChanged();
        }

        /** Runs to HLT or the first fault; the outcome as a comparable line. */
        String run(int slice) {
            String stop = "budget";
            for (int n = 0; n < 1000; n++) {
                int exit = cpu.execute(slice);
                if (exit == Cpu.EXIT_HALT) { stop = "halt"; break; }
                if (exit == Cpu.EXIT_FAULT) {
                    GuestFault f = cpu.lastFault();
                    stop = "fault " + f.vector + " error " + f.errorCode;
                    break;
                }
            }
            byte[] ram = new byte[(int) (REACH_END - REACH)];
            mem.read(REACH, ram, 0, ram.length);
            return stop + " rip " + Long.toHexString(st.rip) + " rflags " + Long.toHexString(st.flags.get()) + " gpr "
                    + Arrays.toString(st.gpr) + " ram " + Arrays.hashCode(ram);
        }

        @Override
        public void close() { mem.close(); }
    }

    // ------------------------------------------------------------------ stores into code, faults

    private static final byte[] ADD_RDX_1 = {0x48, (byte) 0x83, (byte) 0xC2, 0x01};  // add rdx, 1
    private static final byte[] STORE_CL = {(byte) 0x88, 0x0B};                       // mov [rbx], cl

    private static byte[] jmp(long from, long to) {
        long rel = to - (from + 5);
        return new byte[] {(byte) 0xE9, (byte) rel, (byte) (rel >> 8), (byte) (rel >> 16), (byte) (rel >> 24)};
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.write(p, 0, p.length);
        return out.toByteArray();
    }

    /** Runs from {@code rip} with {@code gpr}; returns the instructions run natively. */
    private static long runFrom(Machine m, long[] gpr, long rip) {
        m.reset(gpr, 0x2, rip);
        long before = m.cpu.statistics().nativeInstructions();
        m.run(64);
        return m.cpu.statistics().nativeInstructions() - before;
    }

    /**
     * A native store into the page of another decoded block (B: mov eax, imm32; jmp A) exits to Java, which
     * stores and bumps the page's version: B's next run is decoded again and loads the new immediate.
     */
    @Test
    void aNativeStoreIntoADecodedBlockIsSeenByThatBlocksNextRun() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        try (Machine m = new Machine(true, true)) {
            m.mem.write(ENTRY, concat(new byte[] {(byte) 0xB8, 0, 0, 0, 0}, jmp(ENTRY + 5, CODE)));
            m.mem.write(CODE, concat(ADD_RDX_1, STORE_CL, jmp(CODE + 6, HALT)));
            m.mem.write(HALT, new byte[] {(byte) 0xF4});
            long stored = 0, nativeRan = 0;
            for (int run = 0; run < 6; run++) {
                long[] gpr = new long[16];
                gpr[3] = ENTRY + 1; // rbx: B's immediate
                gpr[1] = 0x40 + run;
                nativeRan += runFrom(m, gpr, ENTRY);
                assertEquals(stored, m.st.gpr[0], "run " + run + ": eax is the byte the run before stored");
                assertEquals(1, m.st.gpr[2], "run " + run + ": rdx");
                stored = 0x40 + run;
            }
            assertTrue(nativeRan >= 4, "A ran natively up to its store: " + nativeRan);
        }
    }

    /**
     * A block whose store hits its own code (A: add; mov [rbx], cl; mov eax, imm32; jmp): after three native runs
     * storing elsewhere, a run storing into A's own immediate exits at the store, and the instruction after it
     * already runs with the new byte.
     */
    @Test
    void aNativeStoreIntoTheRunningBlockIsSeenByItsNextInstruction() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        try (Machine m = new Machine(true, true)) {
            byte[] a = concat(ADD_RDX_1, STORE_CL, new byte[] {(byte) 0xB8, 0x11, 0x22, 0x33, 0x44});
            m.mem.write(CODE, concat(a, jmp(CODE + a.length, HALT)));
            m.mem.write(HALT, new byte[] {(byte) 0xF4});
            long[] gpr = new long[16];
            gpr[3] = DATA + 0x100;
            gpr[1] = 0x99;
            // A write entry for the code's page, taken before the page holds decoded code: the store below then
            // hits the TLB natively, and only the page's code mark sends it to Java.
            m.reset(gpr, 0x2, CODE);
            m.mmu.write1(CODE + 0x800, 0);
            for (int run = 0; run < 3; run++) runFrom(m, gpr, CODE);
            long warm = runFrom(m, gpr, CODE);
            assertEquals(4, warm, "the whole block ran natively");
            assertEquals(0x44332211L, m.st.gpr[0]);
            gpr[3] = CODE + ADD_RDX_1.length + STORE_CL.length + 1; // the low byte of its own mov's immediate
            long ran = runFrom(m, gpr, CODE);
            assertEquals(1, ran, "the add ran natively, the store exited");
            assertEquals(0x44332299L, m.st.gpr[0], "the mov after the store ran with the byte just stored");
            assertEquals(HALT + 1, m.st.rip);
        }
    }

    /**
     * Accesses that fault: the native block exits at the instruction, Java's access raises #PF with the
     * interpreter's error code, RIP at the instruction, the instructions before it done, flags exact.
     */
    @Test
    void aFaultAfterANativeExitHasTheInterpretersErrorCodeRipAndState() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] load = {0x48, (byte) 0x8B, 0x03};  // mov rax, [rbx]
        byte[] store = {0x48, (byte) 0x89, 0x0E}; // mov [rsi], rcx
        byte[] a = concat(ADD_RDX_1, load, store);
        byte[] code = concat(a, jmp(CODE + a.length, HALT));
        long ok = DATA + 0x200, unmapped = DATA + 4096L * UNMAPPED + 0x10, readOnly = DATA + 4096L * READ_ONLY + 0x10;
        long[][] targets = {{unmapped, ok}, {ok, readOnly}, {ok, unmapped}};
        String[] expected = {"fault 14 error 0 rip " + Long.toHexString(CODE + 4), "fault 14 error 3 rip "
                + Long.toHexString(CODE + 7), "fault 14 error 2 rip " + Long.toHexString(CODE + 7)};
        for (int k = 0; k < targets.length; k++) {
            long[] gpr = new long[16];
            gpr[2] = -1; // rdx: the add gives 0 with CF ZF PF AF set
            gpr[1] = 0x1234;
            String want;
            try (Machine ref = new Machine(false, false)) {
                ref.mem.write(CODE, code);
                ref.mem.write(HALT, new byte[] {(byte) 0xF4});
                gpr[3] = targets[k][0];
                gpr[6] = targets[k][1];
                ref.reset(gpr, 0x2, CODE);
                want = ref.run(1);
            }
            try (Machine m = new Machine(true, true)) {
                m.mem.write(CODE, code);
                m.mem.write(HALT, new byte[] {(byte) 0xF4});
                long[] warm = gpr.clone();
                warm[3] = ok;
                warm[6] = ok;
                for (int run = 0; run < 3; run++) runFrom(m, warm, CODE);
                assertEquals(4, runFrom(m, warm, CODE), "the whole block ran natively");
                gpr[3] = targets[k][0];
                gpr[6] = targets[k][1];
                m.mem.write(DATA, new byte[PAGES * 4096]); // as the reference's RAM: the warm runs stored
                m.reset(gpr, 0x2, CODE);
                long before = m.cpu.statistics().nativeInstructions();
                String got = m.run(64);
                assertTrue(m.cpu.statistics().nativeInstructions() - before >= 1, "the add ran natively");
                assertTrue(got.startsWith(expected[k] + " "), got);
                assertEquals(want, got);
                assertEquals(0, m.st.gpr[2]);
            }
        }
    }

    // ------------------------------------------------------------------ the random group

    static final int[] VALUE = {0, 1, 2, 5, 8, 9, 10, 11, 14}; // RAX RCX RDX RBP R8-R11 R14
    static final int[] POINTER = {3, 6, 12, 13, 4, 15};         // RBX RSI R12 R13 RSP R15
    static final int INDEX = 7;                                 // RDI
    static final long ARITH = Flags.ARITH;

    @Test
    void randomMemoryBlocksMatchTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.mem.cases", 6_000);
        long seed = Long.getLong("flint.native.mem.seed", 20261207L);
        long nativeInstructions = 0, faults = 0, nativeFaults = 0;
        List<String> divergences = new ArrayList<>();
        int first = Integer.getInteger("flint.native.mem.first", 0);
        for (int c = first; c < first + cases; c++) {
            Random rnd = new Random(seed * 1_000_003L + c);
            byte[] code = block(rnd);
            long[] gpr = new long[16];
            for (int r : VALUE) gpr[r] = value(rnd);
            for (int r : POINTER) gpr[r] = pointer(rnd);
            gpr[INDEX] = rnd.nextInt(64);
            long rflags = 0x2 | (rnd.nextLong() & ARITH);
            byte[] data = new byte[PAGES * 4096];
            rnd.nextBytes(data);
            String want;
            try (Machine ref = new Machine(false, false)) {
                load(ref, code, data);
                ref.reset(gpr, rflags, ENTRY);
                want = ref.run(1);
            }
            if (want.startsWith("fault")) faults++;
            long[] ran = new long[3];
            String[] got = runs(true, code, data, gpr, rflags, ran);
            for (int run = 0; run < 3; run++) {
                nativeInstructions += ran[run];
                if (ran[run] > 0 && got[run].startsWith("fault")) nativeFaults++;
                if (got[run].equals(want)) continue;
                // For the diagnosis: the same runs with the native tier off (the JVM tiers' replay).
                String replayed = runs(false, code, data, gpr, rflags, null)[run];
                divergences.add("case " + c + " run " + run + " code " + java.util.HexFormat.of().formatHex(code)
                        + "\n  native " + got[run] + "\n  interp " + want + "\n  replay " + replayed
                        + (replayed.equals(got[run]) ? " (the replay without the native tier gives the same)" : ""));
                break;
            }
        }
        String summary = String.format("NATIVE_MEM: %d cases, %d instructions run natively, %d cases fault on the "
                + "interpreter, %d native runs ended by a fault Java raised after a native exit, %d divergences (seed %d)",
                cases, nativeInstructions, faults, nativeFaults, divergences.size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", divergences.stream().limit(5).toList()), summary);
        assertTrue(nativeInstructions >= 100_000 || cases < 6_000, summary);
        assertTrue(nativeFaults > 0, summary);
    }

    /**
     * Decodes the blocks (a first run), then runs the case three times on the same CPU (the second time after a
     * TLB flush); the outcomes, and the instructions each run ran natively into {@code ran} (if not null).
     */
    private static String[] runs(boolean nativeTier, byte[] code, byte[] data, long[] gpr, long rflags, long[] ran) {
        String[] out = new String[3];
        try (Machine m = new Machine(nativeTier, true)) {
            load(m, code, data);
            byte[] initial = new byte[(int) (REACH_END - REACH)];
            m.mem.read(REACH, initial, 0, initial.length);
            m.reset(gpr, rflags, ENTRY);
            m.run(64);
            if (nativeTier && Boolean.getBoolean("flint.native.mem.trace")) {
                DecodedInsn[] insns = m.cpu.cachedInstructions(CODE);
                NativeTranslator.Translation t = insns == null ? null : NativeTranslator.translate(insns, true, m.mmu.nativeTlb().address());
                int n = t == null ? 0 : t.instructions();
                System.out.println("decoded " + (insns == null ? -1 : insns.length) + " translated " + n
                        + (insns != null && n < insns.length ? String.format(" stop %02x memOp %b seg %d ad %d", insns[n].opcode, insns[n].memOp, insns[n].seg, insns[n].adSize) : ""));
            }
            for (int run = 0; run < 3; run++) {
                m.mem.write(REACH, initial); // the same bytes where code is: no version changes
                if (run == 1) m.mmu.flushAll();
                m.reset(gpr, rflags, ENTRY);
                long before = m.cpu.statistics().nativeInstructions();
                out[run] = m.run(64);
                if (ran != null) ran[run] = m.cpu.statistics().nativeInstructions() - before;
            }
        }
        return out;
    }

    static void load(Machine m, byte[] code, byte[] data) {
        m.mem.write(CODE, code);
        m.mem.write(DATA, data);
        // ENTRY: jmp CODE, so that ENTRY's page holds a decoded block (stores into its second half exit to Java).
        long rel = CODE - (ENTRY + 5);
        m.mem.write(ENTRY, new byte[] {(byte) 0xE9, (byte) rel, (byte) (rel >> 8), (byte) (rel >> 16), (byte) (rel >> 24)});
        m.mem.write(HALT, new byte[] {(byte) 0xF4});
    }

    static long value(Random r) {
        return switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> 0x8000_0000_0000_0000L;
            case 3 -> 0x7FFF_FFFFL + r.nextInt(3) - 1;
            case 4 -> r.nextInt(256);
            default -> r.nextLong();
        };
    }

    /** A data page (now and then the unmapped or the read-only one), now and then the decoded block's page. */
    static long pointer(Random r) {
        if (!Boolean.getBoolean("flint.native.mem.noentry") && r.nextInt(16) == 0) return ENTRY + 0x800 + r.nextInt(0x700);
        int page = r.nextInt(40) == 0 ? UNMAPPED : r.nextInt(40) == 0 ? READ_ONLY : r.nextInt(PAGES - 3);
        return DATA + 4096L * page + 256 + r.nextInt(4096 - 512) + (r.nextInt(8) == 0 ? 250 : 0);
    }

    /** Random memory and register forms, then a JMP to HLT. */
    static byte[] block(Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = 1 + r.nextInt(20);
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(40);
            if (k < 28) memForm(r, out);
            else if (k < 39) regForm(r, out);
            else out.write(new byte[] {(byte) 0xF7, (byte) (0xD0 | r.nextInt(3))}, 0, 2); // NOT (register-only; translated since emuforms)
        }
        long rel = HALT - (CODE + out.size() + 5); // to a HLT on another page: the decoded block ends at the JMP
        out.write(0xE9);
        putInt(out, (int) rel);
        return out.toByteArray();
    }

    static void regForm(Random r, ByteArrayOutputStream out) {
        int[] ops = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x89};
        int dst = VALUE[r.nextInt(VALUE.length)], src = r.nextInt(16);
        out.write(0x48 | (src >> 3) << 2 | dst >> 3);
        out.write(ops[r.nextInt(ops.length)]);
        out.write(0xC0 | (src & 7) << 3 | (dst & 7));
    }

    /** One memory-form instruction (a form {@link NativeMemoryForms#access} accepts), encoded at the end of {@code out}. */
    private static void memForm(Random r, ByteArrayOutputStream out) {
        memForm(r, out, 0);
    }

    /**
     * As {@link #memForm(Random, ByteArrayOutputStream)}, for an operand whose segment base is {@code bias}: the
     * RIP-relative and absolute forms aim at a data pointer minus the bias (emufsgs: FS/GS operands).
     */
    static void memForm(Random r, ByteArrayOutputStream out, long bias) {
        // The form: opcode bytes, whether ModRM.reg is a /digit, the byte-operand register, the immediate's size.
        int kind = r.nextInt(9);
        boolean twoByte = false, bytes, digit = false;
        int op, ext = 0, imm = 0;
        int opSize = new int[] {2, 4, 8}[r.nextInt(3)];
        switch (kind) {
            case 0, 1 -> { op = 8 * r.nextInt(8) + r.nextInt(4); bytes = (op & 1) == 0; }
            case 2 -> { op = new int[] {0x84, 0x85, 0x88, 0x89, 0x8A, 0x8B}[r.nextInt(6)]; bytes = (op & 1) == 0; }
            case 3 -> { op = new int[] {0x80, 0x81, 0x83}[r.nextInt(3)]; ext = r.nextInt(8); digit = true; bytes = op == 0x80;
                imm = op == 0x81 ? (opSize == 2 ? 2 : 4) : 1; }
            case 4 -> { op = 0xF6 | r.nextInt(2); digit = true; bytes = op == 0xF6; imm = bytes ? 1 : opSize == 2 ? 2 : 4; }
            case 5 -> { op = 0xC6 | r.nextInt(2); digit = true; bytes = op == 0xC6; imm = bytes ? 1 : opSize == 2 ? 2 : 4; }
            case 6 -> { op = 0xFE | r.nextInt(2); ext = r.nextInt(2); digit = true; bytes = op == 0xFE; }
            case 7 -> { twoByte = true; op = new int[] {0xB6, 0xB7, 0xBE, 0xBF}[r.nextInt(4)]; bytes = false; }
            default -> { op = 0x63; bytes = false; opSize = r.nextInt(4) == 0 ? 4 : 8; }
        }
        if (bytes) opSize = 1;
        // The memory operand.
        int shape = r.nextInt(10); // 0-5 base, 6-7 base + index, 8 RIP-relative, 9 absolute
        int base = shape < 8 ? POINTER[r.nextInt(POINTER.length)] : -1, index = shape == 6 || shape == 7 ? INDEX : -1;
        int scale = r.nextInt(4);
        int disp = shape >= 8 ? 0 : switch (r.nextInt(3)) {
            case 0 -> 0;
            case 1 -> r.nextInt(128) - 64;
            default -> r.nextInt(512) - 256 + (r.nextBoolean() ? 0x10000 : 0);
        };
        if (disp >= 0x10000) disp -= 0x10000; // a disp32 of a small value
        boolean disp32 = shape < 8 && r.nextInt(3) == 0;
        // ModRM.reg.
        int reg;
        boolean wantRex = opSize == 8 || (base >= 8) || (index >= 8);
        if (digit) reg = ext;
        else if (bytes && !wantRex && r.nextBoolean()) reg = new int[] {0, 1, 2, 4, 5, 6}[r.nextInt(6)]; // AL CL DL AH CH DH
        else reg = VALUE[r.nextInt(VALUE.length)];
        int rex = 0x40 | (opSize == 8 ? 8 : 0) | (reg >= 8 && !digit ? 4 : 0) | (index >= 8 ? 2 : 0) | (base >= 8 ? 1 : 0);
        if (opSize == 2) out.write(0x66);
        if (rex != 0x40) out.write(rex & 0xFF);
        if (twoByte) out.write(0x0F);
        out.write(op);
        int mod;
        if (shape == 8) { // RIP-relative: the target is a data pointer
            out.write((reg & 7) << 3 | 5);
            long target = pointer(r);
            long end = CODE + out.size() + 4 + imm;
            putInt(out, (int) (target - bias - end));
        } else if (shape == 9) { // absolute, [disp32] through a SIB without base or index
            out.write((reg & 7) << 3 | 4);
            out.write(0x25);
            putInt(out, (int) (pointer(r) - bias));
        } else {
            mod = disp32 ? 2 : disp == 0 && (base & 7) != 5 ? 0 : 1;
            if (mod == 1 && (disp < -128 || disp > 127)) mod = 2;
            boolean sib = index >= 0 || (base & 7) == 4;
            out.write(mod << 6 | (reg & 7) << 3 | (sib ? 4 : base & 7));
            if (sib) out.write(scale << 6 | (index >= 0 ? index & 7 : 4) << 3 | (base & 7));
            if (mod == 1) out.write(disp);
            if (mod == 2) putInt(out, disp);
        }
        for (int i = 0; i < imm; i++) out.write(r.nextInt(256));
    }

    static void putInt(ByteArrayOutputStream out, int v) {
        for (int i = 0; i < 4; i++) out.write(v >>> (8 * i));
    }
}
