/**
 * Interrupts and time for the emu engine: local APICs, the APIC bus, the I/O APIC, the 8259 pair and the
 * 8254 PIT, all in Java.
 *
 * <h2>Wiring (for the engine)</h2>
 * <pre>{@code
 * GuestClock clock = new GuestClock();
 * EmuInterrupts irq = EmuInterrupts.create(cpus, clock, portIoBus, mmioBus); // registers its devices
 * InterruptController devicesUse = irq.controller();   // hand to every device
 * for each vCPU i:
 *     LocalApic apic = irq.apic(i);                     // the vCPU's CpuInterruptPort, APIC id i
 *     apic.setWakeup(() -> LockSupport.unpark(vcpuThread));
 * ...
 * irq.close();                                          // stops the timer thread
 * }</pre>
 * The core intercepts accesses to the 4 KiB page at {@code apic.apicBase() & ~0xFFF} and sends them to
 * {@code apic.mmioRead/mmioWrite}; it routes the APIC's MSRs (APIC base, TSC deadline) to the APIC and
 * raises #GP for MSRs nobody implements. The I/O APIC (0xFEC00000), PIC (0x20-0x21, 0xA0-0xA1), ELCR
 * (0x4D0-0x4D1), PIT (0x40-0x43) and port 0x61 are on the buses after {@code create}.
 *
 * <h2>Timers and halted vCPUs</h2>
 * PIT counter 0 arms a task on one machine-wide timer thread
 * ({@link dev.flint.engine.emu.irq.HostTimerScheduler}); at the deadline it raises IRQ 0. An APIC timer
 * does the same unless its vCPU keeps it ({@code keepTimerOnCpu}, what the emu engine's vCPUs do): then
 * the vCPU compares the deadline with the clock between slices ({@code expireTimer}) and bounds its HLT
 * sleep by {@code nextEventNanos()}, so a tickless guest's re-arm on every idle entry and exit wakes no
 * other thread. {@code pendingVector()} stays a single volatile read. Counts (APIC current count, PIT counters, port 0x61 OUT2) are computed from the clock when
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
 * The guest's clock is its TSC: {@link dev.flint.engine.emu.GuestClock} runs it at exactly 1 GHz from the
 * host's monotonic clock, so it never drifts from host time however fast the emulated CPU runs. The core
 * advertises (constants in {@link dev.flint.engine.emu.irq.TimerCpuid}, each one true here):
 * <ul>
 *   <li>CPUID 0x15 (crystal = TSC = 1 GHz): {@code native_calibrate_tsc} takes the TSC frequency and the
 *       APIC timer period from it and sets {@code X86_FEATURE_TSC_KNOWN_FREQ}, so neither the PIT
 *       calibration loop nor the refined TSC calibration runs.</li>
 *   <li>CPUID.1:ECX[24] TSC-deadline: {@code calibrate_APIC_clock()} returns at once when it is set,
 *       and Linux uses the deadline timer (MSR 0x6E0) as its clock event.</li>
 *   <li>CPUID.80000007:EDX[8] invariant TSC, plus TSC_ADJUST (see {@code Cpuid}): Linux keeps the TSC
 *       as its clocksource without the watchdog that would wrongly mark it unstable when an emulated
 *       CPU delivers timer ticks late.</li>
 * </ul>
 * ARAT (CPUID.6:EAX[2]) is not advertised, so Linux keeps the PIT as a broadcast timer it never needs.
 * The time of day comes from the CMOS RTC at boot and then follows the TSC.
 *
 * <p>A paravirtual kvmclock was written and removed again: with an invariant TSC Linux 6.x rates
 * kvm-clock below the TSC (299) and keeps the TSC as its clocksource anyway, so kvmclock would only have
 * added the hypervisor CPUID bit, the KVM signature leaves and per-vCPU MSR state for the same result.
 */
package dev.flint.engine.emu.irq;
