package dev.flint.engine.emu;

import dev.flint.engine.VmSetup;
import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.engine.emu.irq.EmuInterrupts;
import dev.flint.machine.InterruptController;

/** The interrupt hardware of {@code engine.emu.irq} (LAPICs, I/O APIC, PIC, PIT) behind the core's seam. */
final class StandardInterruptHardware implements InterruptHardware {
    private final EmuInterrupts interrupts;

    private StandardInterruptHardware(EmuInterrupts interrupts) { this.interrupts = interrupts; }

    static InterruptHardware create(VmSetup setup, GuestClock clock) {
        return new StandardInterruptHardware(EmuInterrupts.create(setup.cpus(), clock, setup.portIo(), setup.mmio()));
    }

    @Override public InterruptController controller() { return interrupts.controller(); }
    @Override public CpuInterruptPort cpuPort(int cpu) { return interrupts.apic(cpu); }
    @Override public void close() { interrupts.close(); }
    @Override public void save(dev.flint.machine.state.StateWriter state) { interrupts.save(state); }
    @Override public void restore(dev.flint.machine.state.StateReader state) { interrupts.restore(state); }
}
