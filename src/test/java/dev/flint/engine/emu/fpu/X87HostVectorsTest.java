package dev.flint.engine.emu.fpu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replays x87 results recorded on a real CPU (generator: src/test/native/x87-vectors.c): stores of 80-bit
 * values to m64/m32, to integers and to packed BCD in every rounding mode, FBLD, double-precision
 * arithmetic with FCW.PC = 53 bits, extended-precision arithmetic, FPREM's partial reduction, and every
 * operation on special operands (zeros, infinities, NaNs, denormals) in register and memory forms.
 */
class X87HostVectorsTest {
    private static final long A = 0x100;
    private static final long B = 0x200;

    /** opcode, /digit, result bytes. */
    private static final Map<String, int[]> STORES = Map.of(
            "fst64", new int[] {0xDD, 3, 8}, "fst32", new int[] {0xD9, 3, 4}, "fist16", new int[] {0xDF, 3, 2},
            "fist32", new int[] {0xDB, 3, 4}, "fist64", new int[] {0xDF, 7, 8}, "fisttp32", new int[] {0xDB, 1, 4});
    private static final Map<String, int[]> ARITH = Map.of(
            "fadd", new int[] {0xDC, 0 << 3}, "fsub", new int[] {0xDC, 4 << 3}, "fmul", new int[] {0xDC, 1 << 3},
            "fdiv", new int[] {0xDC, 6 << 3}, "fsqrt", new int[] {0xD9, 0xFA});

    @Test
    void matchesRecordedHostResults() throws IOException {
        List<String> mismatches = new ArrayList<>();
        int count = 0;
        try (var in = getClass().getResourceAsStream("x87-host-vectors.txt");
             var reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            for (String line : reader.lines().toList()) {
                String[] f = line.split(" ");
                if (f[0].startsWith("x") || f[0].startsWith("m") || f[0].startsWith("fb")) {
                    String problem = f[0].startsWith("x") ? replayExtended(f)
                            : f[0].startsWith("m") ? replayMemory(f) : replayBcd(f);
                    if (problem != null) {
                        mismatches.add(line + "  -> got " + problem);
                    }
                    count++;
                    continue;
                }
                int fcw = Integer.parseInt(f[1], 16);
                long a = Long.parseUnsignedLong(f[2], 16);
                int se = Integer.parseInt(f[3], 16);
                long b = Long.parseUnsignedLong(f[4], 16);
                long expected = Long.parseUnsignedLong(f[5], 16);
                int expectedFlags = Integer.parseInt(f[6], 16);
                FpuState s = new FpuState();
                FakeHost h = new FakeHost();
                run(s, h, 0xDB, 0xE3); // FNINIT
                h.writeMem(A, 2, fcw);
                run(s, h, 0xD9, 5 << 3); // FLDCW
                long actual;
                int flags;
                int[] store = STORES.get(f[0]);
                if (store != null) {
                    h.writeMem(A, 8, a);
                    h.writeMem(A + 8, 2, se);
                    run(s, h, 0xDB, 5 << 3); // FLD m80
                    h.writeMem(A, 8, 0);
                    run(s, h, store[0], store[1] << 3);
                    actual = h.readMem(A, store[2]);
                    flags = s.statusWord() & 0x3F;
                } else {
                    int[] op = ARITH.get(f[0]);
                    h.writeMem(A, 8, a);
                    h.writeMem(B, 8, b);
                    run(s, h, 0xDD, 0); // FLD m64
                    assertTrue(X87Unit.execute(s, h, op[0], op[1], B, 0, 0));
                    flags = s.statusWord() & 0x3F;
                    run(s, h, 0xDD, 3 << 3); // FSTP m64
                    actual = h.readMem(A, 8);
                }
                if (actual != expected || flags != expectedFlags) {
                    mismatches.add(line + "  -> got " + Long.toHexString(actual) + " " + Integer.toHexString(flags));
                }
                count++;
            }
        }
        assertTrue(count > 300, "vector file too small");
        String failing = mismatches.stream().map(m -> m.split(" ")[0]).distinct().toList().toString();
        assertEquals(List.of(), mismatches.subList(0, Math.min(30, mismatches.size())),
                mismatches.size() + " of " + count + " vectors differ, in " + failing);
    }

    /** Register-stack opcode bytes used by the generator, with ST0 = a and ST1 = b. */
    private static final Map<String, int[]> EXTENDED = Map.of(
            "xadd", new int[] {0xDE, 0xC1}, "xsub", new int[] {0xDE, 0xE9}, "xmul", new int[] {0xDE, 0xC9},
            "xdiv", new int[] {0xDE, 0xF9}, "xsqrt", new int[] {0xD9, 0xFA}, "xcom", new int[] {0xDE, 0xD9},
            "xprem", new int[] {0xD9, 0xF8}, "xprem1", new int[] {0xD9, 0xF5}, "xrndint", new int[] {0xD9, 0xFC},
            "xscale", new int[] {0xD9, 0xFD});

    /** Full-precision replay: returns null on a match, else what Flint produced. */
    private static String replayExtended(String[] f) {
        FakeHost h = new FakeHost();
        FpuState s = initialized(h, f[1]);
        for (int operand : new int[] {4, 2}) { // push b, then a
            writeExtended(h, f, operand);
            run(s, h, 0xDB, 5 << 3);
        }
        int[] op = EXTENDED.get(f[0]);
        run(s, h, op[0], op[1]);
        boolean unary = !f[0].equals("xadd") && !f[0].equals("xsub") && !f[0].equals("xmul")
                && !f[0].equals("xdiv") && !f[0].equals("xcom");
        if (unary) {
            run(s, h, 0xDD, 0xD9); // FSTP ST(1), as the generator does before reading FSW
        }
        int flags = s.statusWord() & (f[0].startsWith("xprem") ? 0x473F : 0x3F);
        long sig;
        long se;
        if (f[0].equals("xcom")) {
            sig = s.statusWord() & 0x4700;
            se = 0;
        } else {
            run(s, h, 0xDB, 7 << 3); // FSTP m80
            sig = h.readMem(A, 8);
            se = h.readMem(A + 8, 2);
        }
        return mismatch(f, 6, sig, se, flags);
    }

    /** FADD, FMUL, FCOM, FDIV, FDIVR with an m32 (D8) or m64 (DC) operand at B: their /digit. */
    private static final Map<String, Integer> MEMORY = Map.of("madd", 0, "mmul", 1, "mcom", 2, "mdiv", 6, "mdivr", 7);

    /** ST0 (80-bit) op m32/m64 replay: returns null on a match, else what Flint produced. */
    private static String replayMemory(String[] f) {
        boolean wide = f[0].endsWith("64");
        String name = f[0].substring(0, f[0].length() - 2);
        FakeHost h = new FakeHost();
        FpuState s = initialized(h, f[1]);
        writeExtended(h, f, 2);
        run(s, h, 0xDB, 5 << 3); // FLD m80
        h.writeMem(B, wide ? 8 : 4, Long.parseUnsignedLong(f[4], 16));
        assertTrue(X87Unit.execute(s, h, wide ? 0xDC : 0xD8, MEMORY.get(name) << 3, B, 0, 0));
        int flags = s.statusWord() & (name.equals("mcom") ? 0x473F : 0x3F);
        run(s, h, 0xDB, 7 << 3); // FSTP m80
        return mismatch(f, 6, h.readMem(A, 8), h.readMem(A + 8, 2), flags);
    }

    /** FBSTP (80-bit value to packed BCD) or FBLD (packed BCD to 80-bit value): null on a match. */
    private static String replayBcd(String[] f) {
        FakeHost h = new FakeHost();
        FpuState s = initialized(h, f[1]);
        writeExtended(h, f, 2); // the value to store, or the packed BCD to load
        boolean store = f[0].equals("fbstp");
        if (store) {
            run(s, h, 0xDB, 5 << 3); // FLD m80
        }
        run(s, h, 0xDF, (store ? 6 : 4) << 3); // FBSTP m80 / FBLD m80
        int flags = s.statusWord() & 0x3F;
        if (!store) {
            run(s, h, 0xDB, 7 << 3); // FSTP m80
        }
        return mismatch(f, 4, h.readMem(A, 8), h.readMem(A + 8, 2), flags);
    }

    /** FNINIT, then FLDCW with the vector's control word (hex). */
    private static FpuState initialized(FakeHost h, String fcw) {
        FpuState s = new FpuState();
        run(s, h, 0xDB, 0xE3);
        h.writeMem(A, 2, Integer.parseInt(fcw, 16));
        run(s, h, 0xD9, 5 << 3);
        return s;
    }

    /** Writes the 80-bit value in fields {@code at} (low 64 bits) and {@code at + 1} (high 16 bits) at A. */
    private static void writeExtended(FakeHost h, String[] f, int at) {
        h.writeMem(A, 8, Long.parseUnsignedLong(f[at], 16));
        h.writeMem(A + 8, 2, Integer.parseInt(f[at + 1], 16));
    }

    /** null when (low, high, flags) equal the vector's fields from {@code at}; otherwise what Flint produced. */
    private static String mismatch(String[] f, int at, long low, long high, int flags) {
        boolean same = low == Long.parseUnsignedLong(f[at], 16) && high == Integer.parseInt(f[at + 1], 16)
                && flags == Integer.parseInt(f[at + 2], 16);
        return same ? null : Long.toHexString(low) + " " + Long.toHexString(high) + " " + Integer.toHexString(flags);
    }

    private static void run(FpuState s, FakeHost h, int opcode, int modrm) {
        assertTrue(X87Unit.execute(s, h, opcode, modrm, A, 0, 0));
    }
}
