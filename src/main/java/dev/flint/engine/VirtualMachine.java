package dev.flint.engine;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.machine.InterruptController;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;

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

    /** The engine's name, which a snapshot records so that only the same engine loads it. */
    default String engineName() { return "unknown"; }

    /**
     * Saves the engine's part of a paused machine: vCPUs, the interrupt controllers the engine provides,
     * its clock. Engines that cannot refuse with a one-line {@link SnapshotException}.
     */
    default void save(StateWriter state) {
        throw new SnapshotException("snapshots are not supported on the " + engineName() + " engine yet");
    }

    /**
     * Instead of {@link #start}: takes back what {@link #save} wrote (on a VM created with the same vCPU
     * count over the snapshot's memory) and starts the vCPU threads, held paused if {@code paused}.
     */
    default void restore(StateReader state, boolean paused) {
        throw new SnapshotException("snapshots are not supported on the " + engineName() + " engine yet");
    }

    /**
     * For a Diff snapshot of the paused machine: adds to {@code pages} (the machine's log, which already
     * holds what devices wrote through GuestMemory) every RAM page this engine's vCPUs wrote since the last
     * call or since the VM was created, and starts the engine's next interval. An engine whose vCPU stores
     * already mark that log (emu) has nothing to add; one that logs in the hypervisor (kvm:
     * {@code KVM_GET_DIRTY_LOG}, which clears as it reads) copies its bitmap in. The caller clears
     * {@code pages} only once the snapshot is written, so a failed write loses nothing. Engines that cannot
     * refuse with a one-line {@link SnapshotException}.
     */
    default void collectDirtyPages(dev.flint.machine.DirtyPages pages) {
        throw new SnapshotException("Diff snapshots are not supported on the " + engineName()
                + " engine yet (its vCPUs' dirty pages are not collected); take a Full snapshot");
    }

    /** Asks every vCPU to leave guest mode and end; returns once all vCPU threads have ended. */
    void stop();

    /** Releases all host resources (threads, fds, mappings the engine made). Idempotent. */
    @Override
    void close();
}
