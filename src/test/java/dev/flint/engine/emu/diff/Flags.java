package dev.flint.engine.emu.diff;

/** RFLAGS bits the sequences can observe or change. */
public final class Flags {
    public static final long CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, DF = 1 << 10, OF = 1 << 11;
    /** The six status flags arithmetic defines or leaves undefined. */
    public static final long STATUS = CF | PF | AF | ZF | SF | OF;
    /** Bit 1 always reads as one; IF is set in the host's user mode and the guest rig alike. */
    public static final long FIXED = 0x202;

    private Flags() {}

    public static String describe(long f) {
        StringBuilder sb = new StringBuilder();
        append(sb, f, OF, "OF");
        append(sb, f, DF, "DF");
        append(sb, f, SF, "SF");
        append(sb, f, ZF, "ZF");
        append(sb, f, AF, "AF");
        append(sb, f, PF, "PF");
        append(sb, f, CF, "CF");
        return sb.isEmpty() ? "-" : sb.toString().trim();
    }

    private static void append(StringBuilder sb, long f, long bit, String name) {
        if ((f & bit) != 0) {
            sb.append(name).append(' ');
        }
    }
}
