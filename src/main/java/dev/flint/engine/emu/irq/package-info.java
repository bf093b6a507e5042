/**
 * Interrupts and time for the emu engine: local APICs, the APIC bus, the I/O APIC, the 8259 pair, the
 * 8254 PIT and kvmclock, all in Java.
 *
 * <h2>Wiring (for the engine)</h2>
 * <pre>{@code
 * GuestClock clock = new GuestClock();
 * EmuInterrupts irq = EmuInterrupts.create(cpus, clock, portIoBus, mmioBus); // registers its devices
 * InterruptController devicesUse = irq.controller();   // hand to every device
 * long wallAtTscZero = KvmClock.wallNanosAtTscZero(clock);
 * for each vCPU i:
 *     LocalApic apic = irq.apic(i);                     // the vCPU's CpuInterruptPort, APIC id i
 *     apic.setWakeup(() -> LockSupport.unpark(vcpuThread));
 *     KvmClock kvmClock = new KvmClock(memory, clock, wallAtTscZero);
 * ...
 * irq.close();                                          // stops the timer thread
 * }</pre>
 * The core intercepts accesses to the 4 KiB page at {@code apic.apicBase() & ~0xFFF} and sends them to
 * {@code apic.mmioRead/mmioWrite}; it routes RDMSR/WRMSR first to the APIC, then to kvmclock, and
 * raises #GP if both decline. The I/O APIC (0xFEC00000), PIC (0x20-0x21, 0xA0-0xA1), ELCR
 * (0x4D0-0x4D1), PIT (0x40-0x43) and port 0x61 are on the buses after {@code create}.
 *
 * <h2>Timers and halted vCPUs</h2>
 * Nothing polls. APIC timers and PIT counter 0 arm a task on one machine-wide timer thread
 * ({@link dev.flint.engine.emu.irq.HostTimerScheduler}); at the deadline it puts the vector in the IRR
 * and calls the vCPU's wakeup. {@code pendingVector()} is therefore a single volatile read, and a vCPU
 * in HLT can park with no timeout; bounding the park by {@code nextEventNanos()} is harmless but not
 * needed. Counts (APIC current count, PIT counters, port 0x61 OUT2) are computed from the clock when
 * read. The APIC timer counts at 1 GHz before its divider, like KVM's.
 *
 * <h2>Interrupt lines</h2>
 * {@link dev.flint.engine.emu.irq.EmuInterruptController}: lines 0-15 are ISA IRQs to both PIC and I/O
 * APIC, ISA IRQ 0 (PIT) lands on I/O APIC pin 2, lines 16-23 are I/O APIC pins. The MADT must match:
 * one I/O APIC, id {@code EmuInterrupts.ioApicId(n)} = n, address 0xFEC00000, GSI base 0; local
 * APIC ids 0..n-1; an interrupt source override bus 0 IRQ 0 → GSI 2 (flags 0: conforming
 * edge/high). Level-triggered device lines (PCI INTx, SCI) are logical assertions; the I/O APIC
 * ignores the polarity bit.
 *
 * <h2>How Linux gets time without calibrating (checked against Linux 6.x sources)</h2>
 * The core should expose these, and only because this package implements them (constants in
 * {@link dev.flint.engine.emu.irq.TimerCpuid}):
 * <ul>
 *   <li>CPUID 0x40000000/0x40000001 from {@link dev.flint.engine.emu.irq.KvmClock#cpuidLeaf(int)} and
 *       CPUID.1:ECX[31] (hypervisor). Linux then registers kvm-clock, takes the TSC frequency from it
 *       ({@code x86_platform.calibrate_tsc = kvm_get_tsc_khz}, which also forces
 *       {@code X86_FEATURE_TSC_KNOWN_FREQ} so the refined TSC calibration is skipped), presets
 *       loops_per_jiffy from it (no delay-loop calibration), and sets {@code no_timer_check} so the
 *       "IO-APIC + timer" check is skipped.</li>
 *   <li>CPUID.1:ECX[24] TSC-deadline: {@code calibrate_APIC_clock()} returns at once when it is set,
 *       and Linux uses the deadline timer (MSR 0x6E0) as its clock event.</li>
 *   <li>CPUID.6:EAX[2] ARAT (the APIC timer never stops: true here); without it
 *       {@code apic_needs_pit()} keeps the PIT as a broadcast timer.</li>
 *   <li>CPUID.80000007:EDX[8] invariant TSC (true: the TSC follows host monotonic time).</li>
 * </ul>
 * Without kvmclock an Intel-flavoured CPUID 0x15 (EAX=1, EBX=1, ECX=1000000000: crystal = TSC =
 * 1 GHz) also gives the TSC frequency and, in {@code native_calibrate_tsc}, the APIC timer period; the
 * PIT calibration loop through port 0x61 works as a last resort. Wall-clock time comes from kvmclock's
 * wall clock MSR (or the CMOS RTC).
 */
package dev.flint.engine.emu.irq;
