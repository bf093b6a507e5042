package dev.flint.engine.emu.diff;

import static dev.flint.engine.emu.diff.Emit.*;
import static dev.flint.engine.emu.diff.Flags.AF;
import static dev.flint.engine.emu.diff.Flags.CF;
import static dev.flint.engine.emu.diff.Flags.OF;
import static dev.flint.engine.emu.diff.Flags.PF;
import static dev.flint.engine.emu.diff.Flags.SF;
import static dev.flint.engine.emu.diff.Flags.STATUS;
import static dev.flint.engine.emu.diff.Flags.ZF;

import dev.flint.engine.emu.diff.Operand.Mem;
import dev.flint.engine.emu.diff.Operand.Reg;
import java.util.Random;

/**
 * Decoder and pipeline edge cases: ignored prefixes and REX placement, self-modifying code, and an
 * instruction that overwrites the register its own address is formed from.
 * Emitters as described in {@link Emit}.
 */
final class DecoderGroups {
    private DecoderGroups() {}

    // ---- decoder edge cases: ignored prefixes, REX placement, NOP and XCHG aliases -------------------

    /**
     * Instructions whose meaning hangs on decoder rules: segment overrides CS/DS/ES/SS (ignored in
     * 64-bit mode), a REX followed by a legacy prefix (the REX is ignored), repeated 66, NOP forms,
     * 90 with REX.B (a real XCHG), 87 C0 (XCHG EAX,EAX zero-extends), MOVSXD without REX.W.
     * Memory operands are base-relative here so extra prefixes cannot move a RIP-relative target.
     */
    static void encodings(SequenceBuilder b) {
        Random rnd = b.rnd;
        switch (rnd.nextInt(4)) {
            case 0, 1 -> {
                int op = rnd.nextInt(8);
                int size = 2 << rnd.nextInt(3);
                Reg reg = op == 7 ? b.src(size, false) : b.dest(size, false);
                Operand other = rnd.nextBoolean() ? b.src(size, false) : baseRelative(b, size);
                int[] extra = switch (rnd.nextInt(5)) {
                    case 0 -> new int[] {new int[] {0x2E, 0x3E, 0x26, 0x36}[rnd.nextInt(4)]};
                    case 4 -> new int[] {0x65};                    // GS: its base is 0 on both sides
                    case 1 -> new int[] {0x40 | rnd.nextInt(16), 0x3E};           // REX then legacy: REX ignored
                    case 2 -> new int[] {0x26, 0x36};
                    default -> size == 2 ? new int[] {0x66} : new int[] {0x2E};      // a second 66 changes nothing
                };
                byte[] core = rm(b, 0, size, null, new int[] {op * 8 + 3}, reg.code(), reg, other, 0, 0);
                byte[] bytes = new byte[extra.length + core.length];
                for (int i = 0; i < extra.length; i++) {
                    bytes[i] = (byte) extra[i];
                }
                System.arraycopy(core, 0, bytes, extra.length, core.length);
                long def = (op == 1 || op == 4 || op == 6) ? LOGIC_DEF : STATUS;
                b.needFlags(op == 2 || op == 3 ? CF : 0);
                b.insn(bytes, "prefixes " + java.util.Arrays.toString(extra) + " " + ALU_NAMES[op] + " " + reg + ", " + other,
                        def, (op == 1 || op == 4 || op == 6) ? AF : 0);
            }
            case 2 -> {
                int[][] nops = {{0x90}, {0x66, 0x90}, {0xF3, 0x90}, {0x48, 0x90}, {0x0F, 0x1F, 0x00}, {0x0F, 0x1F, 0x40, 0x00},
                    {0x0F, 0x1F, 0x44, 0x00, 0x00}, {0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00},
                    {0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00}};
                int[] nop = nops[rnd.nextInt(nops.length)];
                b.insn(Encoder.plain(nop, 0, 0), "nop form " + java.util.Arrays.toString(nop), 0, 0);
            }
            default -> {
                switch (rnd.nextInt(3)) {
                    case 0 -> b.insn(new byte[] {(byte) 0x87, (byte) 0xC0}, "xchg eax, eax (87 c0: zero-extends rax)", 0, 0);
                    case 1 -> {
                        if (!b.isReserved(8)) {
                            boolean w = rnd.nextBoolean();
                            b.insn(new byte[] {(byte) (w ? 0x49 : 0x41), (byte) 0x90}, w ? "xchg r8, rax" : "xchg r8d, eax", 0, 0);
                        }
                    }
                    default -> {
                        Reg dst = b.dest(4, false);
                        Operand src = b.srcRm(4, false);
                        b.insn(Encoder.modrm(b.pc(), NONE, false, new int[] {0x63}, dst.code(), dst, src, 0, 0),
                                "movsxd " + dst + ", " + src + " (no REX.W)", 0, 0);
                    }
                }
            }
        }
    }

    private static Operand baseRelative(SequenceBuilder b, int size) {
        Mem m;
        do {
            m = b.mem(size, false);
        } while (m.ripRelative());
        return m;
    }

    // ---- self-modifying code: a store into an instruction that runs shortly after -------------------

    /**
     * {@code mov byte/dword [rip -> later instruction], v} followed by 0-3 filler NOPs and the patched
     * instruction: an immediate of {@code add eax, imm8} or {@code mov ecx, imm32}, or the ModRM of
     * {@code inc eax} turned into dec/inc of eax/ecx. x86 guarantees the store is seen by the fetch that
     * follows, however close; a CPU that decodes ahead or caches decoded code must notice.
     */
    static void selfModifying(SequenceBuilder b) {
        Random rnd = b.rnd;
        int fillers = rnd.nextInt(4);
        int kind = rnd.nextInt(4);
        int[] victim;
        int patchOffset;
        int patchSize = 1;
        long def;
        switch (kind) {
            case 0 -> {
                victim = new int[] {0x83, 0xC0, rnd.nextInt(256)};
                patchOffset = 2;
                def = STATUS;
            }
            case 1 -> {
                victim = new int[] {0xB9, rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)};
                patchOffset = 1 + rnd.nextInt(4);
                def = 0;
            }
            case 2 -> {
                victim = new int[] {0xB9, 0, 0, 0, 0};
                patchOffset = 1;
                patchSize = 4;
                def = 0;
            }
            default -> {
                victim = new int[] {0xFF, 0xC0};
                patchOffset = 1;
                def = OF | SF | ZF | AF | PF;
            }
        }
        long value = kind == 3 ? new int[] {0xC0, 0xC8, 0xC1, 0xC9}[rnd.nextInt(4)]
                : patchSize == 4 ? Values.imm(rnd, 4) : rnd.nextInt(256);
        int storeLength = patchSize == 4 ? 10 : 7;                // C7/C6 05 disp32 imm32/imm8
        long target = b.pc() + storeLength + fillers + patchOffset;
        Mem m = new Mem(-1, -1, 1, target, patchSize, true);
        byte[] store = Encoder.modrm(b.pc(), NONE, false, new int[] {patchSize == 4 ? 0xC7 : 0xC6}, 0, null, m, value, patchSize);
        b.insn(store, String.format("mov %s, 0x%x (patches the instruction %d bytes on)", m, value, fillers), 0, 0);
        for (int i = 0; i < fillers; i++) {
            b.insn(new byte[] {(byte) 0x90}, "nop", 0, 0);
        }
        if (kind == 0 || kind == 3) {
            b.needFlags(0);
        }
        b.insn(Encoder.plain(victim, 0, 0), "patched instruction (as written before the store)", def, 0);
    }

    // ---- operands that alias: an instruction writes the register its own address is formed from ----------

    /**
     * A few ALU instructions, then one that overwrites a pointer register it addresses memory with
     * ({@code mov rbx, [rbx+8]}, {@code xchg [r12], r12}, {@code xadd}, {@code cmpxchg}, {@code add},
     * {@code lea}): the address must be formed before the write. It is the last instruction, since the
     * pointer is gone afterwards.
     */
    static void aliasing(SequenceBuilder b, boolean last) {
        if (!last) {
            ArithmeticGroups.alu(b);
            return;
        }
        Random rnd = b.rnd;
        int size = 2 << rnd.nextInt(3);
        int kind = rnd.nextInt(6);
        Reg base = Reg.of(b.baseReg, size);
        Mem m;
        do {
            m = b.mem(size, false);
        } while (m.ripRelative() || (kind == 5 && m.index() < 0));
        String name = new String[] {"mov", "add", "xchg", "xadd", "cmpxchg", "lea"}[kind];
        int[] op = switch (kind) {
            case 0 -> new int[] {0x8B};
            case 1 -> new int[] {0x03};
            case 2 -> new int[] {0x87};
            case 3 -> new int[] {0x0F, 0xC1};
            case 4 -> new int[] {0x0F, 0xB1};
            default -> new int[] {0x8D};
        };
        long def = kind == 1 || kind == 3 || kind == 4 ? STATUS : 0;
        String text = kind == 2 || kind == 3 || kind == 4 ? name + " " + m + ", " + base : name + " " + base + ", " + m;
        b.insn(rm(b, 0, size, null, op, base.code(), base, m, 0, 0), text + "   ; writes its own base register", def, 0);
    }
}
