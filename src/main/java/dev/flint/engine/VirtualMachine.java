package dev.flint.engine;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.machine.InterruptController;
import dev.flint.machine.IoFastPaths;

/**
 * A running (or ready) VM of one engine. Lifecycle: create → {@link #start} → a stop is requested
 * (guest power-off, reset, fatal error, or the VMM) → {@link #stop} → {@link #close}.
 */
public interface VirtualMachine extends AutoCloseable {
    /** The interrupt controller devices must use to reach this VM's vCPUs. Valid right after create. */
    InterruptController interrupts();

    /**
     * Shortcuts devices may use so queue notifications and MSIs bypass Flint's vCPU loop (kvm: ioeventfd
     * and irqfd). Optional: the default offers none, and devices then use the buses and
     * {@link #interrupts()}. Valid right after create.
     */
    default IoFastPaths fastPaths() { return IoFastPaths.NONE; }

    /** Starts vCPU 0 at {@code bsp}; other vCPUs start halted, waiting for INIT/SIPI from the guest. */
    void start(CpuBootState bsp);

    /** Pauses all vCPUs at an instruction boundary (Firecracker's PATCH /vm Paused). */
    void pause();

    /** Resumes vCPUs after {@link #pause}. */
    void resume();

    /** Asks every vCPU to leave guest mode and end; returns once all vCPU threads have ended. */
    void stop();

    /** Releases all host resources (threads, fds, mappings the engine made). Idempotent. */
    @Override
    void close();
}
