/**
 * Differential testing of Flint's software CPU against the host CPU.
 *
 * <h2>How a case runs</h2>
 * A {@link dev.flint.engine.emu.diff.Group} turns (seed, index) into a {@link dev.flint.engine.emu.diff.TestCase}:
 * a short sequence of instructions encoded by {@link dev.flint.engine.emu.diff.Encoder}, an initial state
 * (GPRs, RFLAGS status bits, MXCSR, XMM0-15, a 4 KiB data page) and the mask of status flags that are
 * architecturally defined at the end. The host side ({@link dev.flint.engine.emu.diff.NativeCpuProcess})
 * runs it in a child JVM that maps {@link dev.flint.engine.emu.diff.Layout#RIG} at the same addresses the
 * emu test rig uses and calls a harness written in machine code; the emu side
 * ({@link dev.flint.engine.emu.diff.EmuRigCpu}) runs the same bytes on {@code EmuTestRig} at CPL 3.
 * {@link dev.flint.engine.emu.diff.DifferentialRunner} compares everything but undefined flags and, for a
 * straight-line case that differs, re-runs growing prefixes to name the first instruction that differs.
 *
 * <h2>Groups</h2>
 * Integer: ALU, SHIFT, MULDIV, BITS (BTx, BSF/BSR, BSWAP, POPCNT), MOVES (MOV incl. moffs, MOVZX/MOVSX/MOVSXD,
 * LEA), CONDITIONAL (SETcc, CMOVcc, Jcc/JMP/JRCXZ/LOOP forward, indirect JMP, LAHF/SAHF, CMC/CLC/STC), EXCHANGE
 * (XCHG, XADD, CMPXCHG, CMPXCHG8B, with LOCK), CONVERT (CBW..CQO), STRING (MOVS/STOS/LODS/CMPS/SCAS, REP/REPE/REPNE,
 * DF 0/1), STACK (PUSH/POP/PUSHF/POPF, CALL/RET imm16, ENTER/LEAVE), ENCODING (ignored prefixes, REX placement,
 * NOP and XCHG aliases), ADDR32 (67-prefixed string ops and LOOP/JECXZ), SELF_MODIFYING (stores into an instruction
 * just ahead), ALIASING (an instruction writing the register its own address uses). Vector: SSE_MOVE, SSE_INT,
 * SSE_FP (with LDMXCSR/STMXCSR), SSE_CVT, MMX (registers loaded from and spilled to the data page), X87 (stack
 * spilled as 80-bit values, FNSTSW AX masked to exceptions/SF/ES/TOP). The emu side uses the production x87/SSE units
 * ({@code SimdFpuUnit}) through {@link dev.flint.engine.emu.diff.TestFpuUnit}, which only adds MXCSR set/get.
 *
 * <h2>Staying safe on the host</h2>
 * Memory operands are formed from two pointer registers the sequence never writes (drawn from RBX, RBP,
 * R8-R15) or RIP-relative, always inside the data page; packed SSE memory operands are 16-byte aligned;
 * DIV/IDIV get dividends built from (quotient, divisor, remainder) so they never fault; POPF only pops values
 * without TF/AC; string ops get RSI/RDI/RCX set so both directions stay in the page; PUSH/POP stay within
 * 0x180 bytes of the middle of the data page. A mistake still only kills the child JVM, reported as a
 * generator bug.
 *
 * <h2>Undefined flags (masked)</h2>
 * Where Intel and AMD manuals disagree, the flag counts as undefined. A later instruction that reads a flag
 * left undefined gets a {@code cmp rax, rcx} inserted before it.
 * <table>
 *   <caption>Flags left undefined</caption>
 *   <tr><th>Instruction</th><th>Undefined</th></tr>
 *   <tr><td>AND, OR, XOR, TEST</td><td>AF</td></tr>
 *   <tr><td>SHL/SHR/SAR, masked count c &ne; 0</td><td>AF; OF if c &gt; 1; CF for SHL/SHR if c &ge; operand bits</td></tr>
 *   <tr><td>ROL/ROR/RCL/RCR, c &ne; 0</td><td>OF if c &gt; 1</td></tr>
 *   <tr><td>SHLD/SHRD, c &ne; 0 (16-bit counts above 16 are never generated: result undefined)</td><td>AF; OF if c &gt; 1</td></tr>
 *   <tr><td>MUL, IMUL (all forms)</td><td>SF, ZF, AF, PF</td></tr>
 *   <tr><td>DIV, IDIV</td><td>all six</td></tr>
 *   <tr><td>BT, BTS, BTR, BTC</td><td>OF, SF, ZF, AF, PF (ZF: unaffected per Intel, undefined per AMD)</td></tr>
 *   <tr><td>BSF, BSR</td><td>CF, OF, SF, AF, PF; the destination for a zero source is compared (AMD documents it
 *       unchanged, Intel CPUs behave so and Linux relies on it)</td></tr>
 *   <tr><td>count 0 shifts/rotates</td><td>none: flags are unchanged, a 32-bit destination is still zero-extended</td></tr>
 * </table>
 * PUSHF only runs when all status flags are defined. x87: the condition codes C0-C3 are not compared (many
 * instructions leave some undefined), precision control 01 (reserved) is never loaded, and transcendentals
 * (FSIN, FPTAN, F2XM1 ...) are never generated: their last bits differ between vendors. BSWAP r16, CMPXCHG16B (CX16 not advertised),
 * RCPPS/RSQRTPS (vendor-specific approximations), FS/GS overrides (the host's FS base is its TLS) and
 * 66-prefixed near branches (AMD truncates RIP to 16 bits) are never generated.
 */
package dev.flint.engine.emu.diff;
