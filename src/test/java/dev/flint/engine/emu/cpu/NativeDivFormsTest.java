package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.flint.engine.emu.cpu.NativeAluFormsTest.STATUS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * DIV and IDIV in the native tier ({@link NativeDivForms}) against the interpreter, with {@link NativeAluFormsTest}'s
 * machinery (its paged guest, three native runs per case, GPRs, RIP, stop, RAM compared): random blocks of
 * divisions at every size, register divisors (AH..BH, RAX and RDX themselves, RSP and R15 through a scratch
 * register) and memory divisors (stored just before through [RBX+disp8], or random data through any addressing
 * shape), with dividends and divisors chosen to hit a divisor of 0, quotients that do not fit (a high half at or
 * above the divisor, the signed minimum by -1, a signed dividend wider than its low half) and ordinary values. A
 * #DE must be raised by Java at the division with the state (flags included: a CMP defines them before every
 * division) exactly as on the interpreter; the flags after a division are undefined and masked after the last one.
 * {@code -Dflint.native.div.cases=N}, {@code -Dflint.native.div.seed=S}.
 */
class NativeDivFormsTest {
    @Test
    void randomDivisionsMatchTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.div.cases", 8_000);
        long seed = Long.getLong("flint.native.div.seed", 20261207L);
        NativeAluFormsTest.Group r = NativeAluFormsTest.runGroup(cases, seed, DivGen::new);
        String summary = String.format("NATIVE_DIV: %d cases, %d instructions run natively, %d runs native from the "
                + "first instruction to the JMP, %d cases fault on the interpreter (%d with #DE), %d skipped, %d divergences "
                + "(seed %d)", cases, r.nativeInstructions(), r.wholeRuns(), r.faults(), r.divideErrors(), r.skipped(),
                r.divergences().size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", r.divergences().stream().limit(5).toList()), summary);
        assertTrue(r.nativeInstructions() >= 100_000 || cases < 8_000, summary);
        assertTrue(r.divideErrors() > cases / 10, summary);
        assertTrue(r.wholeRuns() > cases / 2, summary);
    }

    /** Blocks of divisions: per division, the dividend and divisor set by MOVs, a CMP, then DIV or IDIV. */
    static final class DivGen extends NativeAluFormsTest.Gen {
        private static final int[] DIVISOR = {1, 5, 8, 10, 11};           // RCX RBP R8 R10 R11
        private static final int[] IMPLICIT = {0, 2, 4, 15};              // RAX RDX (the dividend), RSP R15 (pointers)

        DivGen(Random r) {
            super(r);
            r.nextLong(); // the first draws of Randoms seeded one apart hardly differ: start further in
            r.nextLong();
        }

        /**
         * R14 is all ones and R9 zero in the compared runs; in the decoding run R14 is 0 and R9 0x0101...: each
         * division ANDs RAX and RDX with R14 and ORs its divisor with R9 first, so that the decoding run divides 0 by
         * a non-zero divisor and never faults (a fault there would end the decoded block before the division, which
         * would then never run natively), while the compared runs divide the generated values.
         */
        @Override
        void registers(long[] gpr, boolean warm) {
            gpr[14] = warm ? 0 : -1;
            gpr[9] = warm ? 0x0101_0101_0101_0101L : 0;
        }

        @Override
        long faultMask() { return 0; } // every division and every store before one comes right after a CMP

        @Override
        void one() {
            int z = size();
            boolean signed = r.nextBoolean();
            long divisor = edge(z), lo = edge(z), hi;
            if (r.nextInt(16) > 0) { // an ordinary division (no #DE): the block goes on
                if (signExtended(divisor, z) == 0 || signExtended(divisor, z) == -1) divisor = 3;
                hi = signed ? (signExtended(lo, z) < 0 ? -1 : 0) : Long.remainderUnsigned(r.nextLong() & mask(z), divisor & mask(z));
            } else {
                int k = r.nextInt(8);
                if (k == 0) divisor = 0;
                if (k == 1) { // the signed minimum by -1
                    signed = true;
                    lo = -1L << (8 * z - 1);
                    divisor = -1;
                }
                hi = switch (k) { // edges: a divisor of 0, quotients that do not fit, and some that do
                    case 0, 4 -> r.nextLong();
                    case 1, 5 -> signExtended(lo, z) < 0 ? -1 : 0; // the low half's sign extension
                    case 2 -> divisor;
                    case 3 -> divisor - 1;
                    case 6 -> 1;
                    default -> 0;
                };
            }
            int ext = signed ? 7 : 6;
            if (z == 1) movImm(0, (r.nextLong() & ~0xFFFFL) | (hi & 0xFF) << 8 | (lo & 0xFF)); // AX
            else {
                movImm(0, r.nextInt(4) == 0 ? r.nextLong() & ~mask(z) | lo & mask(z) : signExtended(lo, z));
                movImm(2, r.nextInt(4) == 0 ? r.nextLong() & ~mask(z) | hi & mask(z) : hi);
            }
            alu(0x21, 0, 14); // and rax, r14
            alu(0x21, 2, 14); // and rdx, r14
            int form = r.nextInt(40);
            if (form < 22) { // a register divisor
                boolean legacy8 = z == 1 && r.nextInt(3) == 0;
                int reg = legacy8 ? new int[] {0, 1, 2, 4, 5, 6}[r.nextInt(6)] : r.nextInt(10) == 0 ? IMPLICIT[r.nextInt(4)] : DIVISOR[r.nextInt(DIVISOR.length)];
                if (legacy8 && reg >= 4) { // AH CH DH: bits 8-15 of RAX RCX RDX
                    if (reg != 4) movImm(reg - 4, r.nextLong() & ~0xFF00L | (divisor & 0xFF) << 8);
                } else if (reg != 0 && reg != 2 && reg != 4 && reg != 15) {
                    movImm(reg, r.nextInt(4) == 0 ? r.nextLong() & ~mask(z) | divisor & mask(z) : divisor);
                }
                if (reg != 4 && reg != 15 && !(legacy8 && reg == 4)) alu(0x09, legacy8 && reg >= 4 ? reg - 4 : reg, 9); // or r, r9
                cmp();
                if (z == 2) out.write(0x66);
                int rex = 0x40 | (z == 8 ? 8 : 0) | reg >> 3;
                if (!legacy8 && (rex != 0x40 || z == 1 && reg >= 4)) out.write(rex);
                out.write(z == 1 ? 0xF6 : 0xF7);
                out.write(0xC0 | ext << 3 | (reg & 7));
                text.add((signed ? "idiv" : "div") + " size " + z + (legacy8 ? " (no REX)" : "") + " r" + reg);
            } else if (form < 39) { // a memory divisor stored just before: mov r11, d; cmp; mov [rbx+d8], r11; div [rbx+d8]
                movImm(11, divisor);
                alu(0x09, 11, 9); // or r11, r9
                cmp();
                int disp = r.nextInt(128) - 64;
                if (z == 2) out.write(0x66);
                out.write(0x4C & ~(z == 8 ? 0 : 8) | (z == 8 ? 8 : 0));
                out.write(z == 1 ? 0x88 : 0x89);
                out.write(0x40 | 3 << 3 | 3); // [rbx+disp8], r11 (REX.R)
                out.write(disp);
                instructions++;
                if (z == 2) out.write(0x66);
                if (z == 8) out.write(0x48);
                out.write(z == 1 ? 0xF6 : 0xF7);
                out.write(0x40 | ext << 3 | 3);
                out.write(disp);
                text.add("mov [rbx" + disp + "], r11; " + (signed ? "idiv" : "div") + " size " + z + " [rbx" + disp + "]");
            } else { // random data through any addressing shape
                cmp();
                rm(z, false, z == 1 ? 0xF6 : 0xF7, ext, true, null, true, signed ? "idiv" : "div");
            }
            flags(0, STATUS);
            instructions++;
        }

        /** A value whose low {@code z} bytes are an edge (0, 1, -1, 2, the minimum, the maximum) or random. */
        private long edge(int z) {
            long min = -1L << (8 * z - 1);
            return switch (r.nextInt(9)) {
                case 0 -> 0;
                case 1 -> 1;
                case 2 -> -1;
                case 3 -> 2;
                case 4 -> min;
                case 5 -> ~min;
                case 6 -> r.nextInt(256) - 128;
                case 7 -> r.nextInt(1 << 16);
                default -> r.nextLong();
            };
        }

        private static long mask(int z) { return z == 8 ? -1L : (1L << (8 * z)) - 1; }

        private static long signExtended(long v, int z) { return z == 8 ? v : v << (64 - 8 * z) >> (64 - 8 * z); }

        /** mov reg, imm64. */
        private void movImm(int reg, long v) {
            out.write(0x48 | reg >> 3);
            out.write(0xB8 | (reg & 7));
            imm(v, 8);
            text.add(String.format("mov r%d, %x", reg, v));
            instructions++;
        }

        /** {@code op} r64(dst), r64(src): AND (21) or OR (09). */
        private void alu(int op, int dst, int src) {
            out.write(0x48 | (src >> 3) << 2 | dst >> 3);
            out.write(op);
            out.write(0xC0 | (src & 7) << 3 | (dst & 7));
            text.add((op == 0x21 ? "and r" : "or r") + dst + ", r" + src);
            instructions++;
        }

        /** cmp of two value registers: all six flags defined before the division. */
        private void cmp() {
            int a = 1 + r.nextInt(2) * 4, b = 8 + r.nextInt(3); // RCX/RBP, R8-R10
            out.write(0x4C);
            out.write(0x39);
            out.write(0xC0 | (b & 7) << 3 | a);
            text.add("cmp r" + a + ", r" + b);
            instructions++;
            flags(STATUS, 0);
        }
    }
}
