package dev.flint.engine.emu.fpu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replays scalar SSE/SSE2 results recorded on a real x86-64 CPU (generator: src/test/native/sse-vectors.c)
 * through {@link SseUnit}: every result bit and every MXCSR exception flag must match, in all rounding
 * modes and with FTZ/DAZ.
 */
class SseHostVectorsTest {
    private record Encoding(int prefix, int opcode, int imm, boolean rexW, int kind) {
    }

    /** kind: 0 xmm0 op= xmm1 (result xmm0), 1 xmm1 -> GPR, 2 GPR -> xmm0, 3 compare into EFLAGS. */
    private static Encoding encoding(String op) {
        return switch (op) {
            case "addss" -> new Encoding(0xF3, 0x58, 0, false, 0);
            case "subss" -> new Encoding(0xF3, 0x5C, 0, false, 0);
            case "mulss" -> new Encoding(0xF3, 0x59, 0, false, 0);
            case "divss" -> new Encoding(0xF3, 0x5E, 0, false, 0);
            case "sqrtss" -> new Encoding(0xF3, 0x51, 0, false, 0);
            case "minss" -> new Encoding(0xF3, 0x5D, 0, false, 0);
            case "maxss" -> new Encoding(0xF3, 0x5F, 0, false, 0);
            case "cmpltss" -> new Encoding(0xF3, 0xC2, 1, false, 0);
            case "cmpneqss" -> new Encoding(0xF3, 0xC2, 4, false, 0);
            case "cmpunordss" -> new Encoding(0xF3, 0xC2, 3, false, 0);
            case "addsd" -> new Encoding(0xF2, 0x58, 0, false, 0);
            case "subsd" -> new Encoding(0xF2, 0x5C, 0, false, 0);
            case "mulsd" -> new Encoding(0xF2, 0x59, 0, false, 0);
            case "divsd" -> new Encoding(0xF2, 0x5E, 0, false, 0);
            case "sqrtsd" -> new Encoding(0xF2, 0x51, 0, false, 0);
            case "minsd" -> new Encoding(0xF2, 0x5D, 0, false, 0);
            case "maxsd" -> new Encoding(0xF2, 0x5F, 0, false, 0);
            case "cmplesd" -> new Encoding(0xF2, 0xC2, 2, false, 0);
            case "cmpeqsd" -> new Encoding(0xF2, 0xC2, 0, false, 0);
            case "cmpnlesd" -> new Encoding(0xF2, 0xC2, 6, false, 0);
            case "cvtsd2ss" -> new Encoding(0xF2, 0x5A, 0, false, 0);
            case "cvtss2sd" -> new Encoding(0xF3, 0x5A, 0, false, 4);
            case "cvtsd2si32" -> new Encoding(0xF2, 0x2D, 0, false, 1);
            case "cvtsd2si64" -> new Encoding(0xF2, 0x2D, 0, true, 1);
            case "cvttsd2si32" -> new Encoding(0xF2, 0x2C, 0, false, 1);
            case "cvttsd2si64" -> new Encoding(0xF2, 0x2C, 0, true, 1);
            case "cvtss2si32" -> new Encoding(0xF3, 0x2D, 0, false, 1);
            case "cvttss2si64" -> new Encoding(0xF3, 0x2C, 0, true, 1);
            case "cvtsi2sd64" -> new Encoding(0xF2, 0x2A, 0, true, 2);
            case "cvtsi2ss64" -> new Encoding(0xF3, 0x2A, 0, true, 2);
            case "comisd" -> new Encoding(0x66, 0x2F, 0, false, 3);
            case "ucomisd" -> new Encoding(0x66, 0x2E, 0, false, 3);
            case "comiss" -> new Encoding(0, 0x2F, 0, false, 3);
            case "ucomiss" -> new Encoding(0, 0x2E, 0, false, 3);
            default -> throw new IllegalArgumentException(op);
        };
    }

    @Test
    void matchesRecordedHostResults() throws IOException {
        List<String> mismatches = new ArrayList<>();
        int count = 0;
        {
            for (String line : lines("sse-host-vectors.txt")) {
                String[] f = line.split(" ");
                Encoding e = encoding(f[0]);
                int mxcsr = Integer.parseUnsignedInt(f[1], 16);
                long a = Long.parseUnsignedLong(f[2], 16);
                long b = Long.parseUnsignedLong(f[3], 16);
                long expected = Long.parseUnsignedLong(f[4], 16);
                int expectedFlags = Integer.parseInt(f[5], 16);
                FpuState s = new FpuState();
                FakeHost h = new FakeHost();
                s.mxcsr = mxcsr;
                long actual;
                switch (e.kind) {
                    case 0 -> {
                        s.setXmm(0, a, 0);
                        s.setXmm(1, b, 0);
                        execute(s, h, e, 0, 1);
                        actual = f[0].endsWith("ss") && !f[0].equals("cvtsd2ss") ? s.xmmLow(0) & 0xFFFFFFFFL : s.xmmLow(0);
                    }
                    case 4 -> {
                        s.setXmm(1, a, 0);
                        execute(s, h, e, 0, 1);
                        actual = s.xmmLow(0);
                    }
                    case 1 -> {
                        s.setXmm(1, a, 0);
                        execute(s, h, e, 0, 1);
                        actual = h.gpr[0];
                    }
                    case 2 -> {
                        h.gpr[1] = a;
                        execute(s, h, e, 0, 1);
                        actual = f[0].endsWith("ss64") ? s.xmmLow(0) & 0xFFFFFFFFL : s.xmmLow(0);
                    }
                    default -> {
                        s.setXmm(0, a, 0);
                        s.setXmm(1, b, 0);
                        execute(s, h, e, 0, 1);
                        actual = (h.zf ? 4 : 0) | (h.pf ? 2 : 0) | (h.cf ? 1 : 0);
                    }
                }
                int flags = s.mxcsr & 0x3F;
                if (actual != expected || flags != expectedFlags) {
                    mismatches.add(line + "  -> got " + Long.toHexString(actual) + " " + Integer.toHexString(flags));
                }
                count++;
            }
        }
        assertTrue(count > 1000, "vector file too small");
        assertEquals(List.of(), mismatches.subList(0, Math.min(40, mismatches.size())),
                mismatches.size() + " of " + count + " vectors differ");
    }

    /** Packed-integer (and shuffle/unpack/logic) results recorded on the host, 128-bit xmm0 op= xmm1. */
    @Test
    void packedIntegerOperationsMatchRecordedHostResults() throws IOException {
        Map<String, Integer> opcodes = new HashMap<>();
        String[] names = {"punpcklbw", "punpcklwd", "punpckldq", "packsswb", "pcmpgtb", "pcmpgtw", "pcmpgtd",
            "packuswb", "punpckhbw", "punpckhwd", "punpckhdq", "packssdw", "punpcklqdq", "punpckhqdq"};
        for (int i = 0; i < names.length; i++) {
            opcodes.put(names[i], 0x60 + i);
        }
        String[] d0 = {null, "psrlw", "psrld", "psrlq", "paddq", "pmullw", null, null, "psubusb", "psubusw", "pminub",
            "pand", "paddusb", "paddusw", "pmaxub", "pandn", "pavgb", "psraw", "psrad", "pavgw", "pmulhuw", "pmulhw",
            null, null, "psubsb", "psubsw", "pminsw", "por", "paddsb", "paddsw", "pmaxsw", "pxor", null, "psllw",
            "pslld", "psllq", "pmuludq", "pmaddwd", "psadbw", null, "psubb", "psubw", "psubd", "psubq", "paddb",
            "paddw", "paddd"};
        for (int i = 0; i < d0.length; i++) {
            if (d0[i] != null) {
                opcodes.put(d0[i], 0xD0 + i);
            }
        }
        opcodes.putAll(Map.of("pcmpeqb", 0x74, "pcmpeqw", 0x75, "pcmpeqd", 0x76, "unpcklps", 0x14, "unpckhpd", 0x15,
                "andnps", 0x55, "pshufd", 0x70, "pshuflw", 0x70, "pshufhw", 0x70, "shufps", 0xC6));
        opcodes.put("shufpd", 0xC6);
        String[] ssse3 = {"pshufb", "phaddw", "phaddd", "phaddsw", "pmaddubsw", "phsubw", "phsubd", "phsubsw",
            "psignb", "psignw", "psignd", "pmulhrsw"};
        for (int i = 0; i < ssse3.length; i++) {
            opcodes.put(ssse3[i], 0x200 + i); // map 2
        }
        opcodes.putAll(Map.of("pabsb", 0x21C, "pabsw", 0x21D, "pabsd", 0x21E, "palignr", 0x30F,
                "addsubps", 0xD0, "addsubpd", 0xD0, "haddps", 0x7C, "haddpd", 0x7C, "hsubps", 0x7D, "hsubpd", 0x7D));
        opcodes.putAll(Map.of("movsldup", 0x12, "movshdup", 0x16, "movddup", 0x12));
        Map<String, int[]> shiftGroups = Map.of("psrlwi", new int[] {0x71, 2}, "psrawi", new int[] {0x71, 4},
                "psradi", new int[] {0x72, 4}, "psllqi", new int[] {0x73, 6}, "psrldq", new int[] {0x73, 3},
                "pslldq", new int[] {0x73, 7});
        Map<String, Integer> prefixes = Map.of("unpcklps", 0, "andnps", 0, "shufps", 0, "pshuflw", 0xF2,
                "pshufhw", 0xF3, "addsubps", 0xF2, "haddps", 0xF2, "hsubps", 0xF2, "movsldup", 0xF3, "movshdup", 0xF3);
        prefixes = new HashMap<>(prefixes);
        prefixes.put("movddup", 0xF2);
        List<String> mismatches = new ArrayList<>();
        int count = 0;
        for (String line : lines("sse-int-host-vectors.txt")) {
            String[] f = line.split(" ");
            long[] v = new long[7];
            for (int i = 1; i < 8; i++) {
                v[i - 1] = Long.parseUnsignedLong(f[i], 16);
            }
            int imm = (int) v[0];
            FpuState s = new FpuState();
            FakeHost h = new FakeHost();
            s.setXmm(0, v[1], v[2]);
            s.setXmm(1, v[3], v[4]);
            int[] group = shiftGroups.get(f[0]);
            boolean ok = group != null
                    ? SseUnit.execute(s, h, 1, group[0], 0x66, false, group[1], 0, 0, imm)
                    : SseUnit.execute(s, h, Math.max(1, opcodes.get(f[0]) >> 8), opcodes.get(f[0]) & 0xFF,
                            prefixes.getOrDefault(f[0], 0x66), false, 0, 1, 0, imm);
            if (!ok || s.xmmLow(0) != v[5] || s.xmmHigh(0) != v[6]) {
                mismatches.add(line + "  -> got " + Long.toHexString(s.xmmLow(0)) + " " + Long.toHexString(s.xmmHigh(0)));
            }
            count++;
        }
        assertTrue(count > 500, "vector file too small");
        String failing = mismatches.stream().map(m -> m.split(" ")[0]).distinct().toList().toString();
        assertEquals(List.of(), mismatches.subList(0, Math.min(40, mismatches.size())),
                mismatches.size() + " of " + count + " vectors differ, in " + failing);
    }

    private List<String> lines(String resource) throws IOException {
        try (var in = getClass().getResourceAsStream(resource);
             var reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            return reader.lines().toList();
        }
    }

    private static void execute(FpuState s, FakeHost h, Encoding e, int reg, int rm) {
        assertTrue(SseUnit.execute(s, h, 1, e.opcode, e.prefix, e.rexW, reg, rm, 0, e.imm));
    }
}
