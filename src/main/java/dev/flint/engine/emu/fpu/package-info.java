/**
 * The x87, MMX, SSE and SSE2 execution units of Flint's software x86-64 CPU.
 *
 * <h2>Contract with the CPU core</h2>
 * The core owns decoding (prefixes, REX, ModRM, SIB, displacement, segment bases) and passes each
 * decoded instruction here together with an {@link dev.flint.engine.emu.fpu.FpuHost}. One
 * {@link dev.flint.engine.emu.fpu.FpuState} per vCPU holds all register state; reset it on RESET/INIT
 * with {@code FpuState.reset()}.
 *
 * <pre>{@code
 * // 0F xx, 0F 38 xx, 0F 3A xx
 * boolean SseUnit.execute(FpuState s, FpuHost h, int map,       // 1 = 0F, 2 = 0F38, 3 = 0F3A
 *                         int opcode, int mandatoryPrefix,      // 0, 0x66, 0xF2, 0xF3 (F2/F3 win over 66)
 *                         boolean rexW, int reg,                // ModRM.reg | REX.R << 3 (group /digit for 71-73, AE)
 *                         int rmReg,                            // ModRM.rm | REX.B << 3 when mod = 3, else -1
 *                         long linearAddress,                   // memory operand (mod != 3); DS:rDI for MASKMOV*
 *                         int imm8)                             // when hasImm8(map, opcode)
 * boolean SseUnit.handles(int map, int opcode)     // opcodes routed here (all take ModRM, except 0F 77)
 * boolean SseUnit.hasImm8(int map, int opcode)
 * void    SseUnit.emms(FpuState s, FpuHost h)      // 0F 77 (also accepted by execute)
 * void    SseUnit.fxsave / fxrstor(FpuState s, FpuHost h, long linearAddress, boolean rexW)   // 0F AE /0 /1
 * void    SseUnit.loadMxcsr / storeMxcsr(FpuState s, FpuHost h, long linearAddress)          // 0F AE /2 /3
 *
 * // D8..DF
 * boolean X87Unit.execute(FpuState s, FpuHost h, int opcode, int modrm, long linearAddress,
 *                         long instructionPointer,             // recorded as FIP for FXSAVE/FNSTENV
 *                         long rflags)                         // read by FCMOVcc only
 * void    X87Unit.fwait(FpuState s, FpuHost h)                 // 9B
 * }</pre>
 *
 * A {@code false} return means "not an instruction of this unit": the core raises #UD and logs it.
 * Faults are raised by throwing {@code host.fault(vector, 0)}; registers are unchanged when an
 * instruction faults (memory stores of 16 bytes are split into two 8-byte writes, so a page fault on the
 * second half leaves the first half written). 0F AE register forms (LFENCE/MFENCE/SFENCE) and
 * CLFLUSH/PREFETCH stay with the core. MOVNTI (0F C3) is routed here although it only touches GPRs.
 *
 * <h2>Implemented and advertised</h2>
 * CPUID may advertise FPU, MMX, FXSR, SSE and SSE2 (and MXCSR.DAZ: MXCSR_MASK is 0xFFFF). SSE3, SSSE3 and
 * later are <em>not</em> implemented: map 2 and 3 opcodes return false, so those CPUID bits must stay clear.
 * <ul>
 * <li>Gating: SSE with CR0.EM=1 or CR4.OSFXSR=0 → #UD, CR0.TS → #NM; MMX with CR0.EM → #UD, CR0.TS → #NM,
 *     pending x87 exception → #MF; x87 with CR0.EM or CR0.TS → #NM; FWAIT with CR0.MP&amp;TS → #NM.
 *     Unmasked SIMD exceptions → #XM, or #UD when CR4.OSXMMEXCPT=0, with no destination written.
 *     128-bit memory operands of non-MOVU* instructions must be 16-byte aligned, else #GP(0).</li>
 * <li>SSE/SSE2 floating point is bit-exact for all four MXCSR rounding modes, with exact exception
 *     flags (tininess before rounding, as on x86), DAZ and FTZ; see {@code SoftFloat}. RCPPS/RSQRTPS
 *     return the correctly rounded value, which is within the architectural error bound but is not the
 *     vendor's table value: differential tests must compare those with a tolerance.</li>
 * <li>x87: registers, loads/stores (m32/m64/m80, m16/m32/m64 integers), FIST/FISTTP and the constants are
 *     bit-exact on 80-bit values. <b>Arithmetic</b> (FADD..FDIVR, FSQRT, FSCALE, FPREM, FRNDINT, compares)
 *     is computed in IEEE double precision with the FCW rounding mode: results carry at most 53
 *     significant bits and exponents of the double range, whatever FCW.PC says. Transcendentals use
 *     StrictMath in double precision. Unmasked x87 exceptions set ES and are delivered as #MF by the next
 *     waiting instruction; for overflow/underflow the masked result is stored rather than the
 *     exponent-biased one. FPREM completes in one step (C2 = 0). FBLD/FBSTP (BCD) are not implemented.
 *     FNSTENV/FLDENV/FNSAVE/FRSTOR always use the 32-bit protected-mode layout; segment selectors are 0.</li>
 * </ul>
 */
package dev.flint.engine.emu.fpu;
