package dev.flint.engine.emu;

import dev.flint.engine.VmSetup;
import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.machine.InterruptController;

import java.util.logging.Logger;

/**
 * The interrupt controllers of one emu VM (I/O APIC, PIC, PIT, one local APIC per vCPU), as the engine
 * sees them: devices get {@link #controller()}, vCPU {@code n} gets {@link #cpuPort(int)}. This is where
 * the {@code engine.emu.irq} package plugs in: pass its {@link Factory} to
 * {@link EmuEngine#EmuEngine(Factory)}.
 */
public interface InterruptHardware extends AutoCloseable {
    /** What devices use to raise GSIs and MSIs. */
    InterruptController controller();

    /** The local APIC of vCPU {@code cpu}, or null if this hardware has none. */
    CpuInterruptPort cpuPort(int cpu);

    @Override
    void close();

    /** Snapshot of the controllers; hardware without state to keep writes nothing. */
    default void save(dev.flint.machine.state.StateWriter state) { }

    default void restore(dev.flint.machine.state.StateReader state) { }

    /** Builds the controllers for a VM; registers their MMIO/port ranges on the setup's buses. */
    @FunctionalInterface
    interface Factory {
        InterruptHardware create(VmSetup setup, GuestClock clock);
    }

    /**
     * No interrupt controllers at all: vCPUs never receive interrupts and only vCPU 0 runs. Useful for
     * running bare code (tests, benchmarks); a Linux guest needs the real controllers.
     */
    Factory NONE = (setup, clock) -> new InterruptHardware() {
        private final Logger log = Logger.getLogger(InterruptHardware.class.getName());
        private final InterruptController dropping = new InterruptController() {
            @Override
            public void setLevel(int gsi, boolean high) {
                if (high) log.fine(() -> "emu: no interrupt controller, GSI " + gsi + " dropped");
            }

            @Override
            public void sendMsi(long address, int data) {
                log.fine(() -> "emu: no interrupt controller, MSI dropped");
            }
        };

        @Override public InterruptController controller() { return dropping; }
        @Override public CpuInterruptPort cpuPort(int cpu) { return null; }
        @Override public void close() { }
    };
}
