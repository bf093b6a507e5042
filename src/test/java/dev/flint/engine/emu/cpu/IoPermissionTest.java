package dev.flint.engine.emu.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * IN/OUT/INS/OUTS at CPL 3 with IOPL 0 consult the TSS I/O permission bitmap, as ioperm() in Linux
 * expects: a clear bit for every port touched lets the access through, anything else is #GP(0).
 */
class IoPermissionTest {
    private static final long TSS = SystemTestMachine.TSS;
    /** Bitmap at TSS+0x68 for ports 0-255, then the terminating 0xFF byte; the TSS limit ends there. */
    private static final int MAP = 0x68, LIMIT = MAP + 32;
    private static final long CODE = 0x8000;

    private final SystemTestMachine m = SystemTestMachine.stoppingAtFaults();

    @AfterEach
    void tearDown() { m.close(); }

    /** CPL 3 in 64-bit mode with the given RFLAGS (IOPL in bits 13:12); port 0x80 alone is permitted. */
    private void bootUser(long rflags, int mapBase) {
        m.identityMap();
        m.memory.writeShort(TSS + 0x66, (short) mapBase);
        for (int i = 0; i <= 32; i++) m.memory.writeByte(TSS + MAP + i, (byte) 0xFF);
        m.memory.writeByte(TSS + MAP + 0x80 / 8, (byte) 0xFE);
        Segment userCode = new Segment(0x33, 0, 0xFFFF_FFFF, 0xB, true, 3, false, true, true, true);
        Segment userData = new Segment(0x2B, 0, 0xFFFF_FFFF, 0x3, true, 3, true, true, false, true);
        Segment tr = new Segment(0x40, TSS, LIMIT, 0xB, true, 0, false, false, false, false);
        m.cpu.boot(new CpuBootState(0x5A, 0, 0, 0x80, 0x9000, 0, 0x7000, 0, CODE, rflags,
                userCode, userData, userData, userData, userData, userData, tr, Segment.unusable(), 0, 0, 0, 0,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET, SystemTestMachine.PML4, CpuState.CR4_PAE,
                CpuState.EFER_LME | CpuState.EFER_LMA));
    }

    /** Runs one instruction at CODE; returns the fault or null. */
    private GuestFault exec(String hex) {
        m.load(CODE, hex);
        m.state.rip = CODE;
        return m.cpu.execute(1) == Cpu.EXIT_FAULT ? m.cpu.lastFault() : null;
    }

    private static void assertGp(GuestFault f, String what) {
        assertEquals(GuestFault.GP, f == null ? -1 : f.vector, what + ": #GP");
        assertEquals(0, f.errorCode, what + ": error code");
    }

    @Test
    void aClearBitLetsAUserProcessUseThePort() {
        bootUser(0x2, MAP);
        assertNull(exec("e680"), "out 0x80, al");
        assertNull(exec("ee"), "out dx, al with dx = 0x80");
        m.memory.writeByte(0x9000, (byte) 0x77);
        assertNull(exec("6e"), "outsb with dx = 0x80");
        assertEquals("5a 5a 77 ", m.portLog.toString());
    }

    @Test
    void everyPortOfTheAccessMustBePermitted() {
        bootUser(0x2, MAP);
        assertGp(exec("66e780"), "out 0x80, ax touches 0x81 too");
        assertGp(exec("e681"), "out 0x81, al");
        assertGp(exec("e481"), "in al, 0x81");
        assertGp(exec("6d"), "insd with dx = 0x80 touches 0x81-0x83");
        assertEquals("", m.portLog.toString());
    }

    @Test
    void aBitmapPastTheTssLimitDeniesEveryPort() {
        bootUser(0x2, 0x1000); // Linux's "no bitmap" offset lies beyond the limit
        assertGp(exec("e680"), "out 0x80, al");
        assertEquals("", m.portLog.toString());
    }

    @Test
    void iopl3NeedsNoBitmap() {
        bootUser(0x3002, 0x1000);
        assertNull(exec("e680"), "out 0x80, al with IOPL 3 and no bitmap");
        assertEquals("5a ", m.portLog.toString());
    }
}
