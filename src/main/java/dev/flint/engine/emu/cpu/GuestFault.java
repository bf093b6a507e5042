package dev.flint.engine.emu.cpu;

/**
 * An architectural exception the guest must see (#GP, #PF, #UD, ...). Thrown from deep inside an
 * instruction, caught at the instruction boundary, then delivered through the IDT. It carries no stack
 * trace: guests fault often (demand paging) and building traces would dominate the cost.
 */
public final class GuestFault extends RuntimeException {
    public static final int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
            TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19;

    public final int vector;
    public final int errorCode;
    public final boolean hasErrorCode;

    public GuestFault(int vector, int errorCode, boolean hasErrorCode) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
        this.hasErrorCode = hasErrorCode;
    }

    /** The vectors for which the CPU pushes an error code. */
    public static boolean pushesErrorCode(int vector) {
        return vector == DF || (vector >= TS && vector <= PF) || vector == AC;
    }

    public static GuestFault of(int vector, int errorCode) {
        return new GuestFault(vector, errorCode, pushesErrorCode(vector));
    }

    public static GuestFault gp(int errorCode) { return of(GP, errorCode); }
    public static GuestFault ud() { return of(UD, 0); }

    @Override
    public String getMessage() {
        return "vector " + vector + (hasErrorCode ? " error " + Integer.toHexString(errorCode) : "");
    }
}
