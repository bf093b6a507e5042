package dev.flint.engine.emu.fpu;

/**
 * Entry point for MMX, SSE and SSE2 instructions (opcode map 0F). See {@code package-info} for the
 * contract with the decoder. Stateless; all state lives in {@link FpuState}.
 */
public final class SseUnit {
    private SseUnit() {
    }

    /**
     * Whether the instruction {@code map}/{@code opcode} is followed by an imm8 (after ModRM and
     * displacement), for the opcodes this unit implements. Map 1 = 0F, 2 = 0F 38, 3 = 0F 3A.
     */
    public static boolean hasImm8(int map, int opcode) {
        return switch (map) {
            case 1 -> switch (opcode) {
                case 0x70, 0x71, 0x72, 0x73, 0xC2, 0xC4, 0xC5, 0xC6 -> true;
                default -> false;
            };
            case 3 -> true;
            default -> false;
        };
    }

    /**
     * Whether this unit handles {@code map}/{@code opcode} at all (with some prefix); all of them take a
     * ModRM byte. 0F 77 (EMMS) has a ModRM-less encoding and is the one exception.
     */
    public static boolean handles(int map, int opcode) {
        return switch (map) {
            case 1 -> (opcode >= 0x10 && opcode <= 0x17) || (opcode >= 0x28 && opcode <= 0x2F)
                    || (opcode >= 0x50 && opcode <= 0x7F && (opcode < 0x78 || opcode > 0x7B))
                    || opcode == 0xAE || (opcode >= 0xC2 && opcode <= 0xC6) || (opcode >= 0xD0 && opcode <= 0xFE);
            case 2 -> opcode <= 0x0B || (opcode >= 0x1C && opcode <= 0x1E);
            case 3 -> opcode == 0x0F;
            default -> false;
        };
    }

    /**
     * Executes one instruction. Returns false if this (map, opcode, prefix, operand form) is not an
     * instruction of this unit; the core then raises #UD. Guest-visible faults (#UD, #NM, #MF, #GP, #XM)
     * are thrown through {@link FpuHost#fault}; on a fault no register has been modified.
     *
     * @param map             1 = 0F, 2 = 0F 38, 3 = 0F 3A
     * @param opcode          the opcode byte after the escape bytes
     * @param mandatoryPrefix the last of 66/F2/F3 seen (F2/F3 take precedence over 66), or 0
     * @param rexW            REX.W
     * @param reg             ModRM.reg with REX.R (0..15); for the group opcodes 71-73 and AE the /digit
     * @param rmReg           ModRM.rm with REX.B when mod = 3, else -1
     * @param linearAddress   the memory operand's linear address when rmReg = -1; for MASKMOVQ/MASKMOVDQU
     *                        the linear address of DS:rDI
     * @param imm8            the immediate byte when {@link #hasImm8}, else ignored
     */
    public static boolean execute(FpuState s, FpuHost h, int map, int opcode, int mandatoryPrefix, boolean rexW,
                                  int reg, int rmReg, long linearAddress, int imm8) {
        SseInstruction insn = new SseInstruction(s, h, mandatoryPrefix, rexW, reg, rmReg, linearAddress, imm8 & 0xFF);
        return switch (map) {
            case 1 -> insn.execute(opcode);
            case 2 -> insn.executeMap2(opcode);
            case 3 -> insn.executeMap3(opcode);
            default -> false;
        };
    }

    /** EMMS (0F 77): marks every x87 register empty. */
    public static void emms(FpuState s, FpuHost h) {
        SseInstruction.checkMmx(s, h);
        s.tagValid = 0;
    }

    /** LDMXCSR m32 (also reachable through {@link #execute} as 0F AE /2). */
    public static void loadMxcsr(FpuState s, FpuHost h, long linearAddress) {
        SseInstruction.checkSse(h);
        int value = (int) h.readMem(linearAddress, 4);
        if ((value & ~FpuState.MXCSR_MASK) != 0) {
            throw h.fault(13, 0);
        }
        s.mxcsr = value;
    }

    /** STMXCSR m32 (also 0F AE /3). */
    public static void storeMxcsr(FpuState s, FpuHost h, long linearAddress) {
        SseInstruction.checkSse(h);
        h.writeMem(linearAddress, 4, s.mxcsr & 0xFFFFFFFFL);
    }

    /** FXSAVE (0F AE /0); {@code rexW} in 64-bit mode selects FXSAVE64. #NM if CR0.TS or CR0.EM. */
    public static void fxsave(FpuState s, FpuHost h, long linearAddress, boolean rexW) {
        SseInstruction.checkFxsr(h);
        FxsaveArea.save(s, h, linearAddress, rexW && h.longMode());
    }

    /** FXRSTOR (0F AE /1). */
    public static void fxrstor(FpuState s, FpuHost h, long linearAddress, boolean rexW) {
        SseInstruction.checkFxsr(h);
        FxsaveArea.restore(s, h, linearAddress, rexW && h.longMode());
    }
}
