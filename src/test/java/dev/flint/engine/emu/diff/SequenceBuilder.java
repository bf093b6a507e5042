package dev.flint.engine.emu.diff;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Builds one sequence: keeps the bytes and a listing, the initial state, which registers hold the data
 * pointers (never written, so every memory operand stays inside the data page), and which status
 * flags are currently architecturally defined. An instruction that reads a flag some earlier one left
 * undefined gets a CMP inserted first, so results never depend on undefined values.
 */
final class SequenceBuilder {
    /** Registers that may hold the data pointer or the index: never implicit operands of anything generated. */
    private static final int[] POINTER_CANDIDATES = {3, 5, 8, 9, 10, 11, 12, 13, 14, 15};

    final Layout layout;
    final Random rnd;
    final CpuState initial = new CpuState();
    private final ByteArrayOutputStream code = new ByteArrayOutputStream();
    private final StringBuilder listing = new StringBuilder();
    private long definedFlags = Flags.STATUS;
    private final boolean[] reserved = new boolean[16];
    final int baseReg;
    final int indexReg;
    private final long baseValue;
    private final long indexValue;
    private int tested;
    private boolean registersOnly;
    /** End offset and defined-flag mask after every instruction, for narrowing a divergence down. */
    private final List<int[]> ends = new ArrayList<>();
    private final List<String> lines = new ArrayList<>();
    private boolean compareMxcsr;

    SequenceBuilder(Layout layout, Random rnd) {
        this.layout = layout;
        this.rnd = rnd;
        for (int i = 0; i < 16; i++) {
            initial.gpr[i] = Values.random(rnd, 8);
        }
        baseReg = POINTER_CANDIDATES[rnd.nextInt(POINTER_CANDIDATES.length)];
        int idx;
        do {
            idx = POINTER_CANDIDATES[rnd.nextInt(POINTER_CANDIDATES.length)];
        } while (idx == baseReg);
        indexReg = idx;
        baseValue = layout.data() + 0x100 + rnd.nextInt(Layout.DATA_SIZE - 0x200);
        indexValue = rnd.nextInt(48) - 16;
        initial.gpr[baseReg] = baseValue;
        initial.gpr[indexReg] = indexValue;
        initial.gpr[CpuState.RSP] = layout.initialRsp();
        reserved[baseReg] = true;
        reserved[indexReg] = true;
        reserved[CpuState.RSP] = true;
        initial.rflags = Flags.FIXED | (rnd.nextLong() & Flags.STATUS);
        rnd.nextBytes(initial.data);
        for (int i = 0; i < 32; i++) {
            initial.xmm[i] = rnd.nextLong();
        }
    }

    /** For the PUSH/POP group: RSP in the middle of the data page, so the pushed bytes are compared. */
    void useDataStack() {
        initial.gpr[CpuState.RSP] = layout.dataStackRsp();
    }

    long pc() {
        return layout.sequenceStart() + code.size();
    }

    int size() {
        return code.size();
    }

    boolean isReserved(int reg) {
        return reserved[reg];
    }

    void compareMxcsr() {
        compareMxcsr = true;
    }

    long definedFlags() {
        return definedFlags;
    }

    /** Makes sure the flags in {@code reads} are defined, inserting {@code cmp rax, rcx} if not. */
    void needFlags(long reads) {
        if ((reads & ~definedFlags) != 0) {
            setup(new byte[] {0x48, 0x39, (byte) 0xC8}, "cmp rax, rcx");
            definedFlags = Flags.STATUS;
        }
    }

    /** Appends a tested instruction; {@code def}/{@code undef} are the flags it writes (un)defined. */
    void insn(byte[] bytes, String text, long def, long undef) {
        append(bytes, text, "");
        definedFlags = (definedFlags | def) & ~undef;
        tested++;
        mark();
    }

    /** Appends an instruction that only prepares operands (not counted as tested). */
    void setup(byte[] bytes, String text) {
        append(bytes, text, "    ; setup");
        mark();
    }

    /** Appends a setup instruction that writes flags. */
    void setup(byte[] bytes, String text, long def, long undef) {
        append(bytes, text, "    ; setup");
        definedFlags = (definedFlags | def) & ~undef;
        mark();
    }

    /** After a forward jump over a block: a flag is defined only if it is on both paths. */
    void joinFlags(long before) {
        definedFlags &= before;
    }

    /** Patches a byte already emitted (jump displacements). */
    void patch(int offset, byte value) {
        byte[] all = code.toByteArray();
        all[offset] = value;
        code.reset();
        code.writeBytes(all);
    }

    private void append(byte[] bytes, String text, String note) {
        String line = String.format("  %04x: %-40s %s%s%n", code.size(), hex(bytes), text, note);
        listing.append(line);
        code.writeBytes(bytes);
        lines.add(line.trim());
    }

    /** Records where the instruction just appended ends and which flags are defined there. */
    private void mark() {
        ends.add(new int[] {code.size(), (int) (definedFlags | Flags.DF)});
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x ", x & 0xFF));
        }
        return sb.toString().trim();
    }

    // ---- operand choice --------------------------------------------------------------------------

    /** A register the instruction may write. {@code legacy8}: a byte register from AL..BL, AH..BH. */
    Operand.Reg dest(int size, boolean legacy8) {
        List<Operand.Reg> c = new ArrayList<>();
        if (size == 1 && legacy8) {
            for (int i = 0; i < 4; i++) {
                if (!reserved[i]) {
                    c.add(Operand.Reg.of(i, 1));
                    c.add(Operand.Reg.highByte(i));
                }
            }
        } else {
            for (int i = 0; i < 16; i++) {
                if (!reserved[i]) {
                    c.add(Operand.Reg.of(i, size));
                }
            }
        }
        return c.get(rnd.nextInt(c.size()));
    }

    /** A register the instruction only reads (the pointer registers and RSP included). */
    Operand.Reg src(int size, boolean legacy8) {
        if (size == 1 && legacy8) {
            int i = rnd.nextInt(4);
            return rnd.nextBoolean() ? Operand.Reg.of(i, 1) : Operand.Reg.highByte(i);
        }
        return Operand.Reg.of(rnd.nextInt(16), size);
    }

    /** A memory operand of {@code size} bytes somewhere in the data page (any alignment). */
    Operand.Mem mem(int size, boolean legacy8) {
        return memAt(size, legacy8, 0, Layout.DATA_SIZE);
    }

    /** A memory operand whose address lies in data page offsets [from, to - size]. */
    Operand.Mem memAt(int size, boolean legacy8, int from, int to) {
        long target;
        if (rnd.nextInt(3) == 0) {
            target = baseValue + rnd.nextInt(256) - 128;
        } else {
            target = layout.data() + from + rnd.nextInt(to - from - size + 1);
        }
        long lo = layout.data() + from, hi = layout.data() + to - size;
        target = Math.max(lo, Math.min(hi, target));
        if (rnd.nextInt(4) == 0 && size <= 8 && rnd.nextBoolean()) {
            target &= -size;
            target = Math.max(lo, target);
        }
        boolean noRexBase = legacy8 && (baseReg >= 8 || indexReg >= 8);
        if (noRexBase || rnd.nextInt(8) == 0) {
            return new Operand.Mem(-1, -1, 1, target, size, true);
        }
        boolean wide = rnd.nextInt(4) == 0;
        if (rnd.nextBoolean()) {
            int scale = 1 << rnd.nextInt(4);
            return new Operand.Mem(baseReg, indexReg, scale, target - baseValue - indexValue * scale, size, wide);
        }
        return new Operand.Mem(baseReg, -1, 1, target - baseValue, size, wide);
    }

    /** Register or memory, for an operand the instruction writes. */
    Operand destRm(int size, boolean legacy8) {
        return !registersOnly && rnd.nextInt(3) == 0 ? mem(size, legacy8) : dest(size, legacy8);
    }

    /** Register or memory, for an operand the instruction only reads. */
    Operand srcRm(int size, boolean legacy8) {
        return !registersOnly && rnd.nextInt(3) == 0 ? mem(size, legacy8) : src(size, legacy8);
    }

    /**
     * Runs {@code body} with {@code reg} protected from writes and, if {@code registersOnly}, with
     * register operands only (inside a CALL, a memory write could hit the return address).
     */
    void restricted(int reg, boolean registersOnly, Runnable body) {
        boolean wasReserved = reserved[reg];
        boolean wasRegistersOnly = this.registersOnly;
        reserved[reg] = true;
        this.registersOnly = registersOnly;
        try {
            body.run();
        } finally {
            reserved[reg] = wasReserved;
            this.registersOnly = wasRegistersOnly;
        }
    }

    /** Sets a register to a value with a setup MOV (B8+r with REX.W: all 64 bits). */
    void load(int reg, long value) {
        setup(Encoder.opReg(new int[0], true, new int[] {0xB8}, Operand.Reg.of(reg, 8), value, 8),
                String.format("mov %s, 0x%x", CpuState.GPR_NAMES[reg], value));
    }

    TestCase finish(String group, long seed, int index) {
        boolean straight = lines.stream().noneMatch(l -> l.contains(" j") || l.contains("loop") || l.contains("call"));
        List<TestCase.Prefix> prefixes = new ArrayList<>();
        if (straight) {
            for (int i = 0; i < ends.size(); i++) {
                prefixes.add(new TestCase.Prefix(ends.get(i)[0], ends.get(i)[1], lines.get(i)));
            }
        }
        return new TestCase(group, seed, index, code.toByteArray(), listing.toString(), initial,
                definedFlags | Flags.DF, compareMxcsr, tested, List.copyOf(prefixes));
    }
}
