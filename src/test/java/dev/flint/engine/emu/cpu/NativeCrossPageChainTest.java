package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;

import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.CODE;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.DATA;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.HALT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Chains across pages ({@link NativeChains}): a loop whose two blocks lie on two pages, P (CODE, in the 2 MiB
 * page) {@code L: jmp Q} and Q (a 4 KiB page of its own) {@code add eax, imm8; dec ecx; jnz L}, runs chained both
 * ways; after Q's linear page is mapped to another physical page (INVLPG, or a CR3 write, as the guest's
 * instructions do them) or Q's bytes change (a store by Java or by the guest's own native store), the next run
 * from P runs the new code, not the chained old one.
 */
class NativeCrossPageChainTest {
    /** Q's linear page (page 5 of the 4 KiB-mapped data pages), its physical page and the one it is moved to. */
    static final long Q = DATA + 5 * 4096L, MOVED = DATA + 6 * 4096L, PT = 0x5000;

    private static boolean available() { return CodeCache.unavailableReason().isEmpty(); }

    private static void jmp(ByteArrayOutputStream out, long base, long target) {
        out.write(0xE9);
        putInt(out, (int) (target - (base + out.size() + 4)));
    }

    private static void putInt(ByteArrayOutputStream out, int v) {
        for (int i = 0; i < 4; i++) out.write(v >>> (8 * i));
    }

    /** Q's code at linear Q with {@code add eax, imm}. */
    private static byte[] q(int imm) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x83); out.write(0xC0); out.write(imm); // add eax, imm8
        out.write(0xFF); out.write(0xC9);                 // dec ecx
        out.write(0x0F); out.write(0x85);                 // jnz L (rel32)
        putInt(out, (int) (CODE - (Q + out.size() + 4)));
        jmp(out, Q, HALT);
        return out.toByteArray();
    }

    /** A machine with P at CODE, the guest-store entry at CODE + 0x100 (add esi, 1; mov [rbx], dl; jmp L), Q and its moved copy. */
    private static NativeMemoryFormsTest.Machine machine() {
        NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true);
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        jmp(p, CODE, Q);
        m.mem.write(CODE, p.toByteArray());
        ByteArrayOutputStream store = new ByteArrayOutputStream();
        store.write(0x83); store.write(0xC6); store.write(0x01); // add esi, 1
        store.write(0x88); store.write(0x13);                   // mov [rbx], dl
        jmp(store, CODE + 0x100, CODE);
        m.mem.write(CODE + 0x100, store.toByteArray());
        m.mem.write(HALT, new byte[] {(byte) 0xF4});
        m.mem.write(Q, q(1));
        m.mem.write(MOVED, q(100));
        return m;
    }

    /** Runs from {@code rip} with ECX = 100 (and RBX, RDX as given); returns EAX. */
    private static long loop(NativeMemoryFormsTest.Machine m, long rip, long rbx, long rdx) {
        long[] gpr = new long[16];
        gpr[1] = 100;
        gpr[3] = rbx;
        gpr[2] = rdx;
        gpr[4] = DATA + 0x800;
        m.reset(gpr, 0x2, rip);
        String out = m.run(4096);
        assertTrue(out.startsWith("halt"), out);
        return m.st.gpr[0];
    }

    @Test
    void aLoopAcrossTwoPagesRunsChainedBothWays() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeMemoryFormsTest.Machine m = machine()) {
            assertEquals(100, loop(m, CODE, 0, 0));
            long entries = m.cpu.statistics().linkedEntries() + m.cpu.statistics().lookups();
            assertEquals(100, loop(m, CODE, 0, 0));
            long second = m.cpu.statistics().linkedEntries() + m.cpu.statistics().lookups() - entries;
            assertTrue(m.cpu.nativeChains().crossMade() >= 2, "chains across pages: " + m.cpu.nativeChains().crossMade());
            assertTrue(second < 10, "Java block entries in the chained run: " + second);
        }
    }

    /** {@code how}: 0 INVLPG of Q, 1 a CR3 write, 2 a Java store into Q's immediate, 3 the guest's native store. */
    private static void changeQ(int how) {
        try (NativeMemoryFormsTest.Machine m = machine()) {
            long start = how == 3 ? CODE + 0x100 : CODE, harmless = DATA + 0x100;
            for (int run = 0; run < 3; run++) assertEquals(100, loop(m, start, harmless, 9));
            long made = m.cpu.nativeChains().crossMade();
            assertTrue(made >= 2, "chains across pages: " + made);
            long want;
            switch (how) {
                case 0, 1 -> {
                    m.mem.writeLong(PT + 8 * 5, MOVED | 3);
                    if (how == 0) m.mmu.flushPage(Q);
                    else m.mmu.flushNonGlobal();
                    want = 100 * 100;
                }
                case 2 -> {
                    m.mem.writeByte(Q + 2, (byte) 7);
                    want = 700;
                }
                default -> want = 900; // the store below, run from the entry block

            }
            long eax = loop(m, start, how == 3 ? Q + 2 : harmless, 9);
            assertEquals(want, eax, "the run after the change ran Q's new code");
            assertTrue(m.cpu.nativeChains().crossDropped() >= 1, "dropped: " + m.cpu.nativeChains().crossDropped());
            assertEquals(want, loop(m, CODE, Q + 2, 9), "and it is chained again");
            assertTrue(m.cpu.nativeChains().crossMade() > made, "chained anew");
        }
    }

    /** Q's code for the RET test: {@code L: call F (on P); add eax, imm; dec ecx; jnz L; jmp HALT}. */
    private static byte[] caller(int imm) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0xE8);
        putInt(out, (int) (CODE + 0x200 - (Q + 5)));
        out.write(0x83); out.write(0xC0); out.write(imm);
        out.write(0xFF); out.write(0xC9);
        out.write(0x0F); out.write(0x85);
        putInt(out, (int) (Q - (Q + out.size() + 4)));
        jmp(out, Q, HALT);
        return out.toByteArray();
    }

    /**
     * The indirect-jump table: a loop on Q calls F (on P: a lone RET) 100 times; F's RET finds its target (Q + 5)
     * in the table and jumps there in host code (a handful of Java entries a run). Then Q changes ({@code how}: 0
     * its PTE moves + INVLPG, 1 a Java store into its imm8): the next run must run the new code after every RET,
     * not the translation the table held.
     */
    private static void retAfterChange(int how) {
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            m.mem.write(CODE + 0x200, new byte[] {(byte) 0xC3});
            m.mem.write(HALT, new byte[] {(byte) 0xF4});
            m.mem.write(Q, caller(1));
            m.mem.write(MOVED, caller(100));
            for (int run = 0; run < 3; run++) assertEquals(100, loop(m, Q, 0, 0));
            long entries = m.cpu.statistics().linkedEntries() + m.cpu.statistics().lookups();
            assertEquals(100, loop(m, Q, 0, 0));
            long warm = m.cpu.statistics().linkedEntries() + m.cpu.statistics().lookups() - entries;
            assertTrue(warm < 20, "Java block entries in a warm run (RETs through the table): " + warm);
            assertTrue(m.cpu.nativeChains().tableFills() > 0);
            if (how == 0 || how == 2) {
                m.mem.writeLong(PT + 8 * 5, MOVED | 3);
                if (how == 0) m.mmu.flushPage(Q);
                else m.mmu.flushNonGlobal(); // a CR3 write: the global generation stays (emuexits)
            } else {
                m.mem.writeByte(Q + 7, (byte) 100);
            }
            assertEquals(100 * 100, loop(m, Q, 0, 0), "every RET went to the new code");
            assertEquals(100 * 100, loop(m, Q, 0, 0));
        }
    }

    @Test
    void aRetThroughTheTableRunsTheNewCodeAfterItsPageIsRemapped() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        retAfterChange(0);
    }

    @Test
    void aRetThroughTheTableRunsTheNewCodeAfterItsNonGlobalPageIsRemappedByACr3Write() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        retAfterChange(2);
    }

    @Test
    void aRetThroughTheTableRunsTheNewCodeAfterAStoreIntoIt() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        retAfterChange(1);
    }

    @Test
    void anInvlpgOfTheTargetPageDropsTheChainIntoIt() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        changeQ(0);
    }

    @Test
    void aCr3WriteDropsTheChainIntoANonGlobalPage() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        changeQ(1);
    }

    @Test
    void aJavaStoreIntoTheChainedTargetPageRunsItsNewBytes() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        changeQ(2);
    }

    @Test
    void aGuestStoreIntoTheChainedTargetPageRunsItsNewBytes() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        changeQ(3);
    }
}
