package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.GuestClock;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;

import static dev.flint.engine.emu.cpu.NativeAluFormsTest.AF;
import static dev.flint.engine.emu.cpu.NativeAluFormsTest.CF;
import static dev.flint.engine.emu.cpu.NativeAluFormsTest.OF;
import static dev.flint.engine.emu.cpu.NativeAluFormsTest.PF;
import static dev.flint.engine.emu.cpu.NativeAluFormsTest.SF;
import static dev.flint.engine.emu.cpu.NativeAluFormsTest.STATUS;
import static dev.flint.engine.emu.cpu.NativeAluFormsTest.ZF;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The forms of {@link NativeAtomicForms} and {@link NativeSystemForms} (docs/emu-native.md, "emukforms") against
 * the interpreter, with {@link NativeAluFormsTest}'s machinery (its paged guest with a not-present and a read-only
 * page and a page of decoded code; a decoding run, then three native runs; GPRs, RIP, stop, RAM and the defined
 * flags compared): CMPXCHG and XADD (register and memory, with and without LOCK), XCHG with memory, the LOCK forms
 * of ALU m,r / m,imm, INC/DEC, NOT/NEG, BTS/BTR/BTC m,imm8, at every size, mostly naturally aligned (run natively)
 * and now and then not (exit to Java); CBW/CWDE/CDQE, CWD/CDQ/CQO, PREFETCH and the fences. And the atomicity of
 * LOCK'd updates between a native vCPU and a JVM-tier vCPU on one counter. {@code -Dflint.native.kforms.cases=N},
 * {@code -Dflint.native.kforms.seed=S}.
 */
class NativeKernelFormsTest {
    @Test
    void randomAtomicAndSystemFormsMatchTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.kforms.cases", 9_000);
        long seed = Long.getLong("flint.native.kforms.seed", 20261207L);
        NativeAluFormsTest.Group r = NativeAluFormsTest.runGroup(cases, seed, KGen::new);
        String summary = String.format("NATIVE_KFORMS: %d cases, %d instructions run natively, %d runs native from the "
                + "first instruction to the JMP, %d cases fault on the interpreter, %d skipped, %d divergences (seed %d)",
                cases, r.nativeInstructions(), r.wholeRuns(), r.faults(), r.skipped(), r.divergences().size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", r.divergences().stream().limit(5).toList()), summary);
        assertTrue(r.nativeInstructions() >= 100_000 || cases < 9_000, summary);
        assertTrue(r.wholeRuns() > cases / 2, summary);
    }

    /** Blocks of the forms above, mixed with ALU r,r and MOV forms. */
    static final class KGen extends NativeAluFormsTest.Gen {
        private static final int[] BASE = {3, 6, 12, 13, 4, 15}; // the pointer registers: RBX RSI R12 R13 RSP R15
        private final boolean aligned;

        KGen(Random r) {
            super(r);
            r.nextLong(); // Randoms seeded one apart start alike: start further in
            r.nextLong();
            aligned = r.nextInt(16) > 0;
        }

        /**
         * Pointers aligned to 16 bytes in most cases, so that aligned displacements make aligned atomic accesses;
         * fewer of them on the unmapped, the read-only or the code page than {@code NativeAluFormsTest.pointer} puts
         * there (every form here writes memory, so each such pointer would end the native run).
         */
        @Override
        void registers(long[] gpr, boolean warm) {
            for (int b : BASE) {
                long page = (gpr[b] - NativeMemoryFormsTest.DATA) >> 12;
                boolean bad = page < 0 || page == NativeMemoryFormsTest.UNMAPPED || page == NativeMemoryFormsTest.READ_ONLY;
                if (!warm && bad && r.nextInt(4) > 0) {
                    gpr[b] = NativeMemoryFormsTest.DATA + 4096L * r.nextInt(NativeMemoryFormsTest.PAGES - 3) + 256 + r.nextInt(2048);
                }
                if (aligned) gpr[b] &= ~15L;
            }
        }

        @Override
        void one() {
            int k = r.nextInt(100);
            if (k < 14) cmpxchg();
            else if (k < 26) xadd();
            else if (k < 36) xchg();
            else if (k < 56) lockAlu();
            else if (k < 64) lockUnary();
            else if (k < 70) lockBit();
            else if (k < 80) extend();
            else if (k < 83) hint();
            else if (k < 85) leave();
            else if (k < 95) alu();
            else move();
            instructions++;
        }

        private int size1() { return new int[] {1, 2, 4, 8}[r.nextInt(4)]; }

        void cmpxchg() {
            int size = size1();
            boolean mem = r.nextInt(5) > 0;
            int reg = dst();
            if (mem) memory(size, r.nextInt(3) > 0, true, size == 1 ? 0xB0 : 0xB1, reg, false, null, "cmpxchg");
            else rm(size, true, size == 1 ? 0xB0 : 0xB1, reg, false, null, false, "cmpxchg r, r");
            flags(STATUS, 0);
        }

        void xadd() {
            int size = size1();
            boolean mem = r.nextInt(5) > 0;
            int reg = dst();
            if (mem) memory(size, r.nextInt(3) > 0, true, size == 1 ? 0xC0 : 0xC1, reg, false, null, "xadd");
            else rm(size, true, size == 1 ? 0xC0 : 0xC1, reg, false, null, false, "xadd r, r");
            flags(STATUS, 0);
        }

        void xchg() {
            int size = size1();
            memory(size, r.nextInt(4) == 0, false, size == 1 ? 0x86 : 0x87, dst(), false, null, "xchg");
        }

        void lockAlu() { // ADD OR ADC SBB AND SUB XOR (not CMP) m, r or m, imm; INC/DEC
            int size = size1();
            int form = r.nextInt(3);
            if (form == 2) {
                int ext = r.nextInt(2);
                memory(size, true, false, size == 1 ? 0xFE : 0xFF, ext, true, null, ext == 0 ? "inc" : "dec");
                flags(STATUS & ~CF, 0);
                return;
            }
            int alu = r.nextInt(7);
            if (alu == 2 || alu == 3) reader();
            if (form == 0) {
                memory(size, true, false, alu << 3 | (size == 1 ? 0 : 1), r.nextInt(16), false, null, "alu " + alu);
            } else {
                boolean imm8 = size > 1 && r.nextBoolean();
                int opcode = size == 1 ? 0x80 : imm8 ? 0x83 : 0x81;
                memory(size, true, false, opcode, alu, true, new long[] {r.nextLong(), size == 1 || imm8 ? 1 : size == 2 ? 2 : 4},
                        "alu imm " + alu);
            }
            flags(STATUS, 0);
        }

        void lockUnary() { // NOT NEG
            int size = size1(), ext = 2 + r.nextInt(2);
            memory(size, true, false, size == 1 ? 0xF6 : 0xF7, ext, true, null, ext == 2 ? "not" : "neg");
            if (ext == 3) flags(STATUS, 0);
        }

        void lockBit() { // BTS BTR BTC m, imm8
            int size = 2 << r.nextInt(3);
            memory(size, true, true, 0xBA, 5 + r.nextInt(3), true, new long[] {r.nextInt(256), 1}, "btx imm");
            flags(CF, OF | SF | ZF | AF | PF);
        }

        void extend() { // CBW CWDE CDQE CWD CDQ CQO
            int size = 2 << r.nextInt(3), op = 0x98 + r.nextInt(2);
            if (size == 2) out.write(0x66);
            if (size == 8) out.write(0x48);
            out.write(op);
            text.add((op == 0x98 ? "cbw" : "cwd") + " size " + size);
        }

        /** mov rbp, rbx (a pointer); LEAVE: RSP = RBP + 8 (a pointer again), RBP = [RBX] (a value register). */
        void leave() {
            out.write(0x48);
            out.write(0x89);
            out.write(0xDD);
            out.write(0xC9);
            text.add("mov rbp, rbx; leave");
            instructions++;
        }

        void hint() { // PREFETCHh (0F 18 /0-/3, any operand, nothing accessed) or a fence
            if (r.nextBoolean()) {
                rm(4, true, 0x18, r.nextInt(4), true, null, r.nextInt(4) > 0, "prefetch");
            } else {
                int digit = 5 + r.nextInt(3);
                out.write(0x0F);
                out.write(0xAE);
                out.write(0xC0 | digit << 3);
                text.add("fence /" + digit);
            }
        }

        /**
         * A memory operand of {@code size} bytes: mostly [base + disp8] with a displacement that is a multiple of the
         * size (an aligned access when the case's pointers are), now and then one that is not, or any shape of
         * {@link #rm}; {@code lock} puts F0 first.
         */
        void memory(int size, boolean lock, boolean twoByte, int opcode, int reg, boolean digit, long[] imm, String what) {
            what += lock ? " (lock)" : "";
            if (r.nextInt(16) == 0) {
                if (lock) out.write(0xF0);
                rm(size, twoByte, opcode, reg, digit, imm, true, what);
                return;
            }
            boolean legacy8 = size == 1 && r.nextInt(3) == 0;
            int base = legacy8 ? new int[] {3, 6, 4}[r.nextInt(3)] : BASE[r.nextInt(BASE.length)];
            if (legacy8) reg = digit ? reg & 7 : new int[] {0, 1, 2, 4, 5, 6}[r.nextInt(6)];
            else if (!digit && (reg == 3 || reg == 6 || reg == 7 || reg == 12 || reg == 13)) reg = 0; // written: no pointer
            int disp = (r.nextInt(16) - 8) * size;
            if (r.nextInt(40) == 0) disp += 1 + r.nextInt(Math.max(1, size - 1));
            if (lock) out.write(0xF0);
            if (size == 2) out.write(0x66);
            int rex = 0x40 | (size == 8 ? 8 : 0) | (!digit && reg >= 8 ? 4 : 0) | (base >= 8 ? 1 : 0);
            if (!legacy8 && (rex != 0x40 || size == 1)) out.write(rex);
            if (twoByte) out.write(0x0F);
            out.write(opcode);
            out.write(0x40 | (reg & 7) << 3 | ((base & 7) == 4 ? 4 : base & 7));
            if ((base & 7) == 4) out.write(0x24);
            out.write(disp);
            if (imm != null) imm(imm[0], (int) imm[1]);
            text.add(what + " size " + size + (legacy8 ? " (no REX)" : "") + " reg " + reg + " [r" + base + "+" + disp + "]");
        }
    }

    /**
     * Each form alone, after {@code add rdx, 1} and before the JMP to HLT, on an aligned operand in a data page: the
     * block runs natively whole (3 instructions) from its second run on, with the interpreter's outcome.
     */
    @Test
    void everyFormRunsNativelyWholeWithTheInterpretersOutcome() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        String[] forms = {"0fb113", "f00fb113", "f0480fb113", "f00fb013", "0fc113", "f00fc113", "f0660fc113", "8713",
                "f08713", "8613", "f00113", "f0830301", "f0813301000000", "f0ff03", "f0fe0b", "f0f713", "f0f61b",
                "f00fba2b03", "f0480fba3307", "f00fba3b1f", "0fb1d3", "0fc1d3", "6698", "98", "4898", "6699", "99",
                "4899", "0f1803", "0f180b", "0f1813", "0f181b", "0faee8", "0faef0", "0faef8", "c9"};
        for (String f : forms) {
            byte[] body = HexFormat.of().parseHex("4883c201" + f);
            byte[] code = new byte[body.length + 5];
            System.arraycopy(body, 0, code, 0, body.length);
            long rel = NativeMemoryFormsTest.HALT - (NativeMemoryFormsTest.ENTRY + body.length + 5);
            code[body.length] = (byte) 0xE9;
            for (int i = 0; i < 4; i++) code[body.length + 1 + i] = (byte) (rel >>> (8 * i));
            long[] gpr = {0x8000_1234_5678_9ABCL, 0x1111, -2, NativeMemoryFormsTest.DATA + 0x100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
            gpr[4] = NativeMemoryFormsTest.STACK;
            gpr[5] = NativeMemoryFormsTest.DATA + 0x100; // LEAVE: RSP = RBP, POP RBP
            String want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                ref.mem.write(NativeMemoryFormsTest.ENTRY, code);
                ref.mem.write(NativeMemoryFormsTest.HALT, new byte[] {(byte) 0xF4});
                ref.mem.writeLong(NativeMemoryFormsTest.DATA + 0x100, 0x8000_1234_5678_9ABCL);
                ref.reset(gpr, 0x2, NativeMemoryFormsTest.ENTRY);
                want = ref.run(64);
            }
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                m.mem.write(NativeMemoryFormsTest.ENTRY, code);
                m.mem.write(NativeMemoryFormsTest.HALT, new byte[] {(byte) 0xF4});
                long ran = 0;
                String got = "";
                for (int run = 0; run < 3; run++) {
                    m.mem.writeLong(NativeMemoryFormsTest.DATA + 0x100, 0x8000_1234_5678_9ABCL);
                    m.reset(gpr, 0x2, NativeMemoryFormsTest.ENTRY);
                    long before = m.cpu.statistics().nativeInstructions();
                    got = m.run(64);
                    ran = m.cpu.statistics().nativeInstructions() - before;
                }
                assertEquals(3, ran, f + ": the block runs natively whole");
                assertEquals(want, got, f);
            }
        }
    }

    // ------------------------------------------------------------ two vCPUs on one counter

    private static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, GDT = 0x4000;
    private static final long CODE = 0x10_0000L, COUNTER = 0x20_0100L;

    /**
     * Two vCPUs on one guest RAM, one with the native tier and one with the JVM tiers only, each adding 1 to two
     * shared counters {@code N} times: the first with a LOCK CMPXCHG loop (read, add, compare-and-exchange, retry),
     * the second with LOCK XADD. Both counters must end at 2N: no update lost, whichever tier made it. The native
     * vCPU must have run (nearly) all its instructions natively. Counts only; how much the two threads overlap
     * depends on the host, but every lost update shows.
     */
    @Test
    @Timeout(300)
    void lockedIncrementsFromANativeAndAJavaVcpuLoseNoUpdate() throws Exception {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        // L: mov eax, [rbx] | lea edx, [rax+1] | lock cmpxchg [rbx], edx | jnz L
        //    lock xadd [rbx+4], ecx (ecx = 1, given back by xadd: mov ecx, 1 first) | dec esi | jnz L | hlt
        byte[] code = HexFormat.of().parseHex("8b03" + "8d5001" + "f00fb113" + "75f5" + "b901000000"
                + "f00fc14b04" + "ffce" + "75e7" + "f4");
        int n = Integer.getInteger("flint.native.kforms.increments", 300_000);
        long[] counts = twoVcpus(code, n, true, false);
        assertEquals(2L * n, counts[0], "LOCK CMPXCHG increments from both vCPUs");
        assertEquals(2L * n, counts[1], "LOCK XADD increments from both vCPUs");
        assertTrue(counts[2] > 9L * n * 8 / 10, "the native vCPU ran natively: " + counts[2]);
        assertEquals(0, counts[3], "the JVM-tier vCPU ran no native code");
    }

    /**
     * The same loop on two native vCPUs, 3,000,000 increments each: host code against host code, where the threads
     * overlap far more than with a JVM-tier vCPU (without the LOCK prefix on the host one run lost 4,901 of 6,000,000
     * CMPXCHG increments, another at 2,000,000 each lost none: it needs the two threads to overlap).
     */
    @Test
    @Timeout(300)
    void lockedIncrementsFromTwoNativeVcpusLoseNoUpdate() throws Exception {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] code = HexFormat.of().parseHex("8b03" + "8d5001" + "f00fb113" + "75f5" + "b901000000"
                + "f00fc14b04" + "ffce" + "75e7" + "f4");
        int n = 3_000_000;
        long[] counts = twoVcpus(code, n, true, true);
        assertEquals(2L * n, counts[0], "LOCK CMPXCHG increments from both vCPUs");
        assertEquals(2L * n, counts[1], "LOCK XADD increments from both vCPUs");
        assertTrue(counts[2] > 7L * n && counts[3] > 7L * n, "both ran natively: " + counts[2] + ", " + counts[3]);
    }

    /** Runs {@code code} on two vCPUs of one RAM until both halt; {cmpxchg counter, xadd counter, native instructions of each}. */
    static long[] twoVcpus(byte[] code, int n, boolean native0, boolean native1) throws Exception {
        try (GuestMemory mem = GuestMemory.allocate(4L << 20)) {
            mem.writeLong(PML4, PDPT | 3);
            mem.writeLong(PDPT, PD | 3);
            mem.writeLong(PD, 0x83);              // 0-2 MiB: code, tables
            mem.writeLong(PD + 8, 0x20_0000L | 0x83); // 2-4 MiB: the counters
            long[] gdt = {0, dev.flint.arch.x86.Segment.code64(0x08).toGdtEntry(),
                    dev.flint.arch.x86.Segment.data(0x10).toGdtEntry()};
            for (int i = 0; i < gdt.length; i++) mem.writeLong(GDT + 8L * i, gdt[i]);
            mem.write(CODE, code);
            Cpu[] cpus = new Cpu[2];
            CpuState[] states = new CpuState[2];
            for (int i = 0; i < 2; i++) {
                CpuState st = new CpuState();
                Mmu mmu = new Mmu(st, new PhysicalMemory(mem, new Bus("mmio"), null));
                CpuOptions o = CpuOptions.defaults().withStopOnFault(true).withNativeTier(i == 0 ? native0 : native1);
                cpus[i] = new Cpu(st, mmu, new Bus("pio"), null, new GuestClock(), FpuUnit.none(), i, 2, o);
                states[i] = st;
                st.gpr[3] = COUNTER;
                st.gpr[6] = n;
                st.rip = CODE;
                st.flags.load(2);
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
                cpus[i].modeChanged();
            }
            CyclicBarrier start = new CyclicBarrier(2);
            String[] stops = new String[2];
            Thread[] threads = new Thread[2];
            for (int i = 0; i < 2; i++) {
                int v = i;
                threads[i] = new Thread(() -> {
                    try {
                        start.await();
                    } catch (Exception e) {
                        stops[v] = e.toString();
                        return;
                    }
                    String stop = "budget";
                    for (long k = 0; k < 100_000_000L; k++) {
                        int exit = cpus[v].execute(4096);
                        if (exit == Cpu.EXIT_HALT) { stop = "halt"; break; }
                        if (exit == Cpu.EXIT_FAULT) { stop = "fault " + cpus[v].lastFault().vector; break; }
                    }
                    stops[v] = stop;
                }, "vcpu-" + i);
                threads[i].start();
            }
            for (Thread t : threads) t.join();
            assertEquals("halt", stops[0], "vCPU 0");
            assertEquals("halt", stops[1], "vCPU 1");
            return new long[] {mem.readInt(COUNTER) & 0xFFFF_FFFFL, mem.readInt(COUNTER + 4) & 0xFFFF_FFFFL,
                    cpus[0].statistics().nativeInstructions(), cpus[1].statistics().nativeInstructions()};
        }
    }
}
