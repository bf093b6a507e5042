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
 * Chains across pages and the indirect-jump table across CPL changes ({@link NativeChains}, docs/emu-native.md,
 * "emuexits"): the kernel's chains outlive a system call's round trip (they were all dropped at every CPL change),
 * but a chain made at CPL 0 from a page CPL 3 can fetch into a supervisor page is dropped on the way into CPL 3,
 * and a RET at CPL 3 never takes a table entry made at CPL 0.
 *
 * <p>Pages: K = CODE (the supervisor 2 MiB page), S (a supervisor 4 KiB page), U and U2 (user 4 KiB pages; the
 * tables above them are made user-accessible here).
 */
class NativeCplChainTest {
    static final long S = DATA + 5 * 4096L, U = DATA + 8 * 4096L, U2 = DATA + 9 * 4096L;
    private static final long PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x5000;

    private static boolean available() { return CodeCache.unavailableReason().isEmpty(); }

    private static void rel32(ByteArrayOutputStream out, long base, long target) {
        int v = (int) (target - (base + out.size() + 4));
        for (int i = 0; i < 4; i++) out.write(v >>> (8 * i));
    }

    private static void jmp(ByteArrayOutputStream out, long base, long target) {
        out.write(0xE9);
        rel32(out, base, target);
    }

    /** {@code add eax, imm8; dec ecx; jnz loop; jmp end} at {@code base}. */
    private static byte[] addLoop(long base, int imm, long loop, long end) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x83); out.write(0xC0); out.write(imm);
        out.write(0xFF); out.write(0xC9);
        out.write(0x0F); out.write(0x85);
        rel32(out, base, loop);
        jmp(out, base, end);
        return out.toByteArray();
    }

    /** The memory-forms machine with U and U2 user pages (every table level above them user-accessible). */
    private static NativeMemoryFormsTest.Machine machine() {
        NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true);
        m.mem.writeLong(PML4, PDPT | 7);
        m.mem.writeLong(PDPT, PD | 7);
        m.mem.writeLong(PD + 8, PT | 7);
        m.mem.writeLong(PT + 8 * 8, U | 7);
        m.mem.writeLong(PT + 8 * 9, U2 | 7);
        m.mem.write(HALT, new byte[] {(byte) 0xF4});
        return m;
    }

    /** Runs from {@code rip} at {@code cpl} with ECX = 100 and RSP as given; returns the outcome line. */
    private static String run(NativeMemoryFormsTest.Machine m, int cpl, long rip, long rsp) {
        long[] gpr = new long[16];
        gpr[1] = 100;
        gpr[4] = rsp;
        m.reset(gpr, 0x2, rip);
        m.st.cpl = cpl;
        m.cpu.modeChanged();
        return m.run(4096);
    }

    private static long javaEntries(NativeMemoryFormsTest.Machine m) {
        return m.cpu.statistics().linkedEntries() + m.cpu.statistics().lookups();
    }

    @Test
    void theKernelsChainsAcrossPagesOutliveASystemCallsRoundTrip() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeMemoryFormsTest.Machine m = machine()) {
            ByteArrayOutputStream k = new ByteArrayOutputStream();
            jmp(k, CODE, S);
            m.mem.write(CODE, k.toByteArray());                  // K: L: jmp S
            m.mem.write(S, addLoop(S, 1, CODE, HALT));           // S: add eax, 1; dec ecx; jnz L; jmp HALT
            ByteArrayOutputStream u = new ByteArrayOutputStream();
            u.write(0x83); u.write(0xC3); u.write(0x01);         // U: add ebx, 1
            jmp(u, U, U2);                                       //    jmp U2
            m.mem.write(U, u.toByteArray());
            ByteArrayOutputStream u2 = new ByteArrayOutputStream();
            u2.write(0xFF); u2.write(0xC9);                      // U2: dec ecx
            u2.write(0x0F); u2.write(0x85); rel32(u2, U2, U);    //     jnz U
            u2.write(0xF4);                                      //     hlt (#GP at CPL 3)
            m.mem.write(U2, u2.toByteArray());
            for (int i = 0; i < 3; i++) assertTrue(run(m, 0, CODE, DATA + 0x800).startsWith("halt"));
            assertEquals(100, m.st.gpr[0]);
            long made = m.cpu.nativeChains().crossMade(), dropped = m.cpu.nativeChains().crossDropped();
            assertTrue(made >= 2, "the kernel loop chained across pages: " + made);
            for (int call = 0; call < 3; call++) {
                String user = run(m, 3, U, U2 + 0x800);                // the "system call's" return to CPL 3 ...
                assertEquals(100, m.st.gpr[3], user);
                long before = javaEntries(m);
                assertTrue(run(m, 0, CODE, DATA + 0x800).startsWith("halt")); // ... and the next entry into CPL 0
                assertEquals(100, m.st.gpr[0]);
                assertTrue(javaEntries(m) - before < 10, "the kernel loop ran chained: " + (javaEntries(m) - before));
            }
            assertEquals(dropped, m.cpu.nativeChains().crossDropped(), "no chain across pages was dropped at a CPL change");
        }
    }

    @Test
    void aChainMadeAtCpl0FromAUserPageIntoASupervisorPageIsDroppedOnTheWayIntoCpl3() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeMemoryFormsTest.Machine m = machine()) {
            ByteArrayOutputStream u = new ByteArrayOutputStream();
            u.write(0x83); u.write(0xC0); u.write(0x01);         // U: add eax, 1
            jmp(u, U, S);                                        //    jmp S (supervisor)
            m.mem.write(U, u.toByteArray());
            m.mem.write(S, addLoop(S, 100, U, HALT));            // S: add eax, 100; dec ecx; jnz U; jmp HALT
            for (int i = 0; i < 3; i++) assertTrue(run(m, 0, U, DATA + 0x800).startsWith("halt"));
            assertEquals(10100, m.st.gpr[0]);
            assertTrue(m.cpu.nativeChains().crossMade() >= 2, "chained across pages at CPL 0");
            for (int i = 0; i < 3; i++) {
                String out = run(m, 3, U, U2 + 0x800);
                // CPL 3 may run U but not fetch S: #PF (present | user | fetch) at S, after U's one add.
                assertTrue(out.startsWith("fault 14 error 21 rip " + Long.toHexString(S)), out);
                assertEquals(1, m.st.gpr[0], out);
            }
        }
    }

    @Test
    void aRetAtCpl3NeverTakesATableEntryMadeAtCpl0() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeMemoryFormsTest.Machine m = machine()) {
            ByteArrayOutputStream s = new ByteArrayOutputStream();
            s.write(0x83); s.write(0xC0); s.write(100);          // S: add eax, 100
            jmp(s, S, HALT);                                     //    jmp HALT
            m.mem.write(S, s.toByteArray());
            m.mem.write(U, new byte[] {(byte) 0x83, (byte) 0xC3, 0x01, (byte) 0xC3}); // U: add ebx, 1; ret
            m.mem.writeLong(U2 + 0x800, S);                      // the user stack holds S as the return address
            // U decoded, its page marked as code and the user stack in the TLB first (each a reason to renew the
            // table's epoch), then S entered at CPL 0: its entry is current when U's RET pops S at CPL 3.
            for (int i = 0; i < 2; i++) assertTrue(run(m, 3, U, U2 + 0x800).startsWith("fault 14 error 21"));
            long fills = m.cpu.nativeChains().tableFills();
            for (int i = 0; i < 3; i++) assertTrue(run(m, 0, S, DATA + 0x800).startsWith("halt")); // S in the table at CPL 0
            assertTrue(m.cpu.nativeChains().tableFills() > fills);
            for (int i = 0; i < 4; i++) {
                String out = run(m, 3, U, U2 + 0x800);
                assertTrue(out.startsWith("fault 14 error 21 rip " + Long.toHexString(S)), "run " + i + ": " + out);
                assertEquals(0, m.st.gpr[0], out);
                assertEquals(1, m.st.gpr[3], out);
            }
        }
    }
}
