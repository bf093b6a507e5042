/**
 * The x87, MMX, SSE and SSE2 execution units of Flint's software x86-64 CPU.
 *
 * <h2>Contract with the CPU core</h2>
 * The core owns decoding (prefixes, REX, ModRM, SIB, displacement, segment bases) and passes each
 * decoded instruction here together with an {@link dev.flint.engine.emu.fpu.FpuHost}. One
 * {@link dev.flint.engine.emu.fpu.FpuState} per vCPU holds all register state; call
 * {@code FpuState.reset()} on RESET (INIT leaves x87/SSE state unchanged, SDM table 9-1).
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
 * CPUID may advertise FPU, MMX, FXSR, SSE, SSE2, SSE3 (PNI; FISTTP included, MONITOR/MWAIT are the core's
 * and have their own bit) and SSSE3, plus MXCSR.DAZ (MXCSR_MASK is 0xFFFF). SSE4.1 and later are
 * <em>not</em> implemented (those map 2/3 opcodes return false), so their CPUID bits must stay clear.
 * <ul>
 * <li>Gating: SSE with CR0.EM=1 or CR4.OSFXSR=0 → #UD, CR0.TS → #NM; MMX with CR0.EM → #UD, CR0.TS → #NM,
 *     pending x87 exception → #MF; x87 with CR0.EM or CR0.TS → #NM; FWAIT with CR0.MP&amp;TS → #NM.
 *     Unmasked SIMD exceptions → #XM, or #UD when CR4.OSXMMEXCPT=0, with no destination written.
 *     128-bit memory operands of legacy-SSE instructions must be 16-byte aligned (#GP(0)), except
 *     MOVUPS/MOVUPD/MOVDQU/LDDQU/MASKMOVDQU and the 64/32-bit scalar forms.</li>
 * <li>SSE/SSE2/SSE3 floating point is bit-exact for all four MXCSR rounding modes, with the hardware's
 *     exception flags (tininess before rounding), DAZ and FTZ; see {@code SoftFloat}. Checked against
 *     results recorded on a real CPU ({@code SseHostVectorsTest}, generators in {@code src/test/native}).
 *     RCPPS/RSQRTPS return the correctly rounded value, within the architectural error bound but not the
 *     vendor's table value: differential tests must compare those two with a tolerance.</li>
 * <li>x87: registers hold exact 80-bit values. Loads/stores (m32/m64/m80, m16/m32/m64 integers),
 *     FIST/FISTTP, constants, FADD/FSUB/FMUL/FDIV (+R/P/I forms), FSQRT, FPREM/FPREM1, FRNDINT, FSCALE,
 *     FXTRACT and all compares are bit-exact at every precision control and rounding mode, including
 *     FSW flags and C1 round-up ({@code ExtendedArithmetic}; checked against recorded host results).
 *     <b>Not exact</b>: the transcendentals (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1)
 *     are computed with StrictMath in double precision. FPREM/FPREM1 reduce partially (C2 = 1) when
 *     the exponents differ by 64 or more, in the same steps as AMD hardware. Unmasked x87
 *     exceptions set ES and are delivered as #MF by the next waiting instruction; for overflow/underflow
 *     the masked result is stored rather than the exponent-biased one. FBLD/FBSTP (packed BCD) are
 *     bit-exact too. FNSTENV/FLDENV/FNSAVE/FRSTOR always use the 32-bit protected-mode layout and store
 *     segment selectors as 0.</li>
 * </ul>
 */
package dev.flint.engine.emu.fpu;
