package dev.flint.engine.emu.fpu;

/**
 * Entry point for x87 instructions (escape opcodes D8..DF) and FWAIT. See {@code package-info} for the
 * contract with the decoder and for the precision model.
 */
public final class X87Unit {
    private X87Unit() {
    }

    /**
     * Executes one x87 instruction. Returns false if the encoding is not implemented (FBLD/FBSTP and the
     * reserved encodings); the core then raises #UD. Guest faults (#NM, #MF, #GP via the host's memory
     * accessors) are thrown through {@link FpuHost#fault}.
     *
     * @param opcode             0xD8..0xDF
     * @param modrm              the full ModRM byte
     * @param linearAddress      the memory operand's linear address when mod != 3
     * @param instructionPointer the instruction's address, recorded as the x87 FIP
     * @param rflags             the current RFLAGS (only FCMOVcc reads it)
     */
    public static boolean execute(FpuState s, FpuHost h, int opcode, int modrm, long linearAddress,
                                  long instructionPointer, long rflags) {
        return new X87Instruction(s, h, opcode & 0xFF, modrm & 0xFF, linearAddress, instructionPointer, rflags)
                .execute();
    }

    /** FWAIT/WAIT (9B): #NM if CR0.MP and CR0.TS, #MF if an unmasked x87 exception is pending. */
    public static void fwait(FpuState s, FpuHost h) {
        if (SseInstruction.waitTrapsOnTs(h)) {
            throw h.fault(SseInstruction.NM, 0);
        }
        if ((s.statusWord & FpuState.FSW_ES) != 0) {
            throw h.fault(SseInstruction.MF, 0);
        }
    }

    /** Recomputes FSW.ES and FSW.B from the exception flags and the control word's masks. */
    static void updateSummary(FpuState s) {
        if ((s.statusWord & ~s.controlWord & 0x3F) != 0) {
            s.statusWord |= FpuState.FSW_ES | FpuState.FSW_B;
        } else {
            s.statusWord &= ~(FpuState.FSW_ES | FpuState.FSW_B);
        }
    }
}
