package dev.flint.engine.emu.fpu;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class X87UnitTest extends SseTestSupport {
    private static final long A = 0x800; // scratch memory operand

    @BeforeEach
    void init() {
        x87(0xDB, 0xE3); // FNINIT
    }

    private void x87(int opcode, int modrm) {
        assertTrue(X87Unit.execute(s, h, opcode, modrm, A, 0x401000, 0), "not handled");
    }

    /** Memory form with the given /digit. */
    private void x87m(int opcode, int digit) {
        assertTrue(X87Unit.execute(s, h, opcode, digit << 3, A, 0x401000, 0), "not handled");
    }

    private void loadDouble(double v) {
        h.writeMem(A, 8, d(v));
        x87m(0xDD, 0); // FLD m64
    }

    private double popDouble() {
        x87m(0xDD, 3); // FSTP m64
        return Double.longBitsToDouble(h.readMem(A, 8));
    }

    @Test
    void fninitAndControlWord() {
        x87m(0xD9, 7); // FNSTCW
        assertEquals(0x037F, h.readMem(A, 2));
        h.writeMem(A, 2, 0x0C7F);
        x87m(0xD9, 5); // FLDCW
        assertEquals(0x0C7F, s.controlWord);
    }

    @Test
    void loadAddStoreDoubles() {
        loadDouble(1.5);
        loadDouble(2.25);
        x87(0xDE, 0xC1); // FADDP
        assertEquals(3.75, popDouble());
        assertEquals(0, s.tagValid);
    }

    @Test
    void subtractAndDivideOperandOrder() {
        loadDouble(10);
        loadDouble(4); // ST0 = 4, ST1 = 10
        x87(0xDE, 0xE9); // FSUBP ST1, ST0: ST1 = ST1 - ST0 = 6
        assertEquals(6, popDouble());
        loadDouble(10);
        loadDouble(4);
        x87(0xDE, 0xE1); // FSUBRP ST1, ST0: ST1 = ST0 - ST1 = -6
        assertEquals(-6, popDouble());
        loadDouble(1);
        loadDouble(3);
        x87(0xD8, 0xF9); // FDIVR ST0, ST1: ST0 = ST1 / ST0 = 1/3
        assertEquals(1.0 / 3, popDouble());
    }

    @Test
    void constantsAreTheRoundedExtendedValues() {
        x87(0xD9, 0xEB); // FLDPI
        assertEquals(0xC90FDAA22168C235L, s.significand[s.top]);
        assertEquals(Math.PI, popDouble());
        x87(0xD9, 0xE8); // FLD1
        x87(0xD9, 0xEE); // FLDZ
        assertEquals(0.0, popDouble());
        assertEquals(1.0, popDouble());
    }

    @Test
    void integerLoadStoreIsExactFor64Bits() {
        long big = (1L << 62) + 1; // not representable as a double
        h.writeMem(A, 8, big);
        x87m(0xDF, 5); // FILD m64
        x87m(0xDF, 7); // FISTP m64
        assertEquals(big, h.readMem(A, 8));
    }

    @Test
    void fistRoundsPerControlWordAndFisttpTruncates() {
        loadDouble(2.5);
        x87m(0xDB, 2); // FIST m32 (round to nearest even)
        assertEquals(2, h.readMem(A, 4));
        loadDouble(-2.7);
        x87m(0xDB, 1); // FISTTP m32
        assertEquals(0xFFFFFFFEL, h.readMem(A, 4));
        loadDouble(1e10);
        x87m(0xDB, 3); // FISTP m32: out of range
        assertEquals(0x80000000L, h.readMem(A, 4));
        assertEquals(1, s.statusWord() & 1);
        loadDouble(40000);
        x87m(0xDF, 3); // FISTP m16
        assertEquals(0x8000, h.readMem(A, 2));
    }

    @Test
    void extendedLoadStoreIsBitExact() {
        h.writeMem(A, 8, 0x8000000000000001L);
        h.writeMem(A + 8, 2, 0x3FFF); // 1 + 2^-63: not a double
        x87m(0xDB, 5); // FLD m80
        h.writeMem(A, 8, 0);
        h.writeMem(A + 8, 2, 0);
        x87m(0xDB, 7); // FSTP m80
        assertEquals(0x8000000000000001L, h.readMem(A, 8));
        assertEquals(0x3FFF, h.readMem(A + 8, 2));
    }

    @Test
    void storeSingleRoundsAndSetsPrecision() {
        loadDouble(0.1);
        x87m(0xD9, 3); // FSTP m32
        assertEquals(f(0.1f), h.readMem(A, 4));
        assertEquals(0x20, s.statusWord() & 0x20);
    }

    @Test
    void fcomiSetsEflagsAndFcomSetsConditionCodes() {
        loadDouble(2);
        loadDouble(1); // ST0 = 1, ST1 = 2
        x87(0xDB, 0xF1); // FCOMI ST0, ST1
        assertTrue(h.cf && !h.zf && !h.pf);
        x87(0xD8, 0xD1); // FCOM ST1
        assertEquals(FpuState.FSW_C0, s.statusWord() & 0x4500);
        x87(0xDE, 0xD9); // FCOMPP
        assertEquals(0, s.tagValid);
        h.writeMem(A, 8, 0x7FF8000000000000L);
        x87m(0xDD, 0);
        loadDouble(1);
        x87(0xDF, 0xE9); // FUCOMIP: unordered, QNaN quiet
        assertTrue(h.cf && h.zf && h.pf);
        assertEquals(0, s.statusWord() & 1);
    }

    @Test
    void fxamClassifies() {
        x87(0xD9, 0xE5);
        assertEquals(FpuState.FSW_C3 | FpuState.FSW_C0, s.statusWord() & 0x4700); // empty
        loadDouble(-0.0);
        x87(0xD9, 0xE5);
        assertEquals(FpuState.FSW_C3 | FpuState.FSW_C1, s.statusWord() & 0x4700);
        loadDouble(Double.POSITIVE_INFINITY);
        x87(0xD9, 0xE5);
        assertEquals(FpuState.FSW_C2 | FpuState.FSW_C0, s.statusWord() & 0x4700);
        loadDouble(3);
        x87(0xD9, 0xE5);
        assertEquals(FpuState.FSW_C2, s.statusWord() & 0x4700);
    }

    @Test
    void fnstswReportsTop() {
        loadDouble(1);
        x87(0xDF, 0xE0); // FNSTSW AX
        assertEquals(0x3800, h.gpr[0] & 0xFFFF);
    }

    @Test
    void stackOverflowGivesIndefiniteWhenMasked() {
        for (int i = 0; i < 9; i++) {
            loadDouble(i);
        }
        assertEquals(FpuState.FSW_IE | FpuState.FSW_SF | FpuState.FSW_C1, s.statusWord() & 0x241);
        assertEquals(Extended80.INDEFINITE_SIGNIFICAND, s.significand[s.top]);
        assertEquals(0xFFFF, s.signExponent[s.top]);
    }

    @Test
    void unmaskedExceptionIsDeliveredAsMfOnTheNextWaitingInstruction() {
        h.writeMem(A, 2, 0x037B); // unmask ZE
        x87m(0xD9, 5);
        loadDouble(1);
        x87(0xD9, 0xEE); // FLDZ
        x87(0xDE, 0xF9); // FDIVP ST1, ST0 -> 1/0
        assertEquals(FpuState.FSW_ES, s.statusWord() & FpuState.FSW_ES);
        assertEquals(2, Integer.bitCount(s.tagValid)); // aborted: nothing written, nothing popped
        assertFault(16, () -> x87(0xD9, 0xE8));
        assertFault(16, () -> X87Unit.fwait(s, h));
        x87(0xDB, 0xE2); // FNCLEX is non-waiting
        X87Unit.fwait(s, h);
    }

    @Test
    void crZeroGating() {
        h.cr0 |= 8;
        assertFault(7, () -> x87(0xD9, 0xE8));
        h.cr0 &= ~2; // TS without MP: FWAIT does not trap
        X87Unit.fwait(s, h);
        h.cr0 |= 2;
        assertFault(7, () -> X87Unit.fwait(s, h));
    }

    @Test
    void fcmovAndFxchAndSignOps() {
        loadDouble(5);
        loadDouble(7); // ST0 = 7, ST1 = 5
        assertTrue(X87Unit.execute(s, h, 0xDA, 0xC1, 0, 0, 1)); // FCMOVB, CF=1 -> ST0 = ST1
        assertEquals(5, popDouble());
        loadDouble(9);
        x87(0xD9, 0xC9); // FXCH ST1
        x87(0xD9, 0xE0); // FCHS
        assertEquals(-5, popDouble());
        x87(0xD9, 0xE1); // FABS
        assertEquals(9, popDouble());
    }

    @Test
    void sqrtRoundAndRemainder() {
        loadDouble(2);
        x87(0xD9, 0xFA);
        assertEquals(Math.sqrt(2), popDouble());
        h.writeMem(A, 2, 0x077F); // round down
        x87m(0xD9, 5);
        loadDouble(-1.5);
        x87(0xD9, 0xFC); // FRNDINT
        assertEquals(-2.0, popDouble());
        loadDouble(3);
        loadDouble(7);
        x87(0xD9, 0xF8); // FPREM: 7 = 2*3 + 1
        assertEquals(FpuState.FSW_C3, s.statusWord() & 0x4700);
        assertEquals(1, popDouble());
    }

    @Test
    void fscaleAndFxtract() {
        loadDouble(3);
        loadDouble(1.5);
        x87(0xD9, 0xFD); // FSCALE: 1.5 * 2^3
        assertEquals(12, popDouble());
        popDouble();
        loadDouble(-48);
        x87(0xD9, 0xF4); // FXTRACT: -1.5 * 2^5
        assertEquals(-1.5, popDouble());
        assertEquals(5, popDouble());
    }

    @Test
    void fsaveFrstorRoundTrip() {
        loadDouble(1.25);
        loadDouble(-8);
        int sw = s.statusWord();
        x87m(0xDD, 6); // FNSAVE
        assertEquals(0, s.tagValid);
        assertEquals(0x037F, s.controlWord);
        x87m(0xDD, 4); // FRSTOR
        assertEquals(sw, s.statusWord());
        assertEquals(-8, popDouble());
        assertEquals(1.25, popDouble());
    }

    @Test
    void packedBcdRoundTripsAndOverflowStoresTheIndefinite() {
        h.writeMem(A, 8, 0x0000_0012_3456_7890L);  // -1234567890: digits low nibble first, sign in bit 79
        h.writeMem(A + 8, 2, 0x8000);
        x87m(0xDF, 4);                              // FBLD
        assertEquals(-1234567890.0, popDouble());
        loadDouble(-98765.5);                       // round to nearest even: -98766
        x87m(0xDF, 6);                              // FBSTP
        assertEquals(0x9876_6L, h.readMem(A, 8));
        assertEquals(0x8000, h.readMem(A + 8, 2));
        loadDouble(1e18);                           // 19 digits: invalid, the BCD indefinite
        x87m(0xDF, 6);
        assertEquals(0xC000_0000_0000_0000L, h.readMem(A, 8));
        assertEquals(0xFFFF, h.readMem(A + 8, 2));
        assertEquals(SoftFloat.IE, s.statusWord() & SoftFloat.IE);
    }

    @Test
    void mmxRegistersAliasTheX87Significands() {
        loadDouble(1);
        assertEquals(0x8000000000000000L, s.mmx(7));
    }
}
