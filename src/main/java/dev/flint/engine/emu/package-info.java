/**
 * The {@code emu} engine: Flint's own x86-64 CPU.
 *
 * <h2>Where things are</h2>
 * <ul>
 *   <li>{@link dev.flint.engine.emu.EmuEngine} / {@code EmuVirtualMachine} / {@code Vcpu}: the engine,
 *       one platform thread per vCPU, pause/resume/stop, INIT/SIPI, HLT sleep.</li>
 *   <li>{@link dev.flint.engine.emu.InterruptHardware}: where the interrupt controllers of
 *       {@code engine.emu.irq} plug in (a {@link dev.flint.engine.emu.InterruptHardware.Factory} passed to
 *       {@code new EmuEngine(factory, fpus)}).</li>
 *   <li>{@code cpu}: the interpreter ({@code Cpu}: decode + execute, one instruction at a time),
 *       register file ({@code CpuState}), lazy flags ({@code Flags}), descriptor loads
 *       ({@code Descriptors}), exception/interrupt delivery, far transfers, SYSCALL, CRs and MSRs
 *       ({@code Interrupts}), CPUID ({@code Cpuid}), and the seam to the x87/SSE units
 *       ({@code FpuUnit}, {@code FpuInstruction}).</li>
 *   <li>{@code mmu}: linear → physical translation with a software TLB ({@code Mmu}) and the per-CPU
 *       physical address space: RAM, the local APIC page, the MMIO bus ({@code PhysicalMemory}).</li>
 *   <li>{@code EmuTestRig} (test sources): runs code snippets for tests and differential testing.</li>
 * </ul>
 *
 * <h2>Seam for a faster execution tier</h2>
 * {@code Cpu.execute(budget)} is the only entry the engine calls; a block cache or JIT replaces its body
 * (or wraps it, falling back to the interpreter for what it cannot translate) without touching the
 * engine, the MMU or the system helpers, which take and leave state in {@code CpuState}.
 */
package dev.flint.engine.emu;
