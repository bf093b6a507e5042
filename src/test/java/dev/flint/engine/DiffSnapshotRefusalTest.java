package dev.flint.engine;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.machine.DirtyPages;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.state.SnapshotException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * An engine that does not hand over its vCPUs' dirty pages refuses a Diff snapshot with one line naming
 * itself, rather than writing a diff that silently lacks what the guest wrote. (Both engines collect theirs:
 * emu's vCPU stores mark the log, kvm reads KVM_GET_DIRTY_LOG; {@code KvmEngineTest} checks the latter.)
 */
class DiffSnapshotRefusalTest {
    @Test
    void anEngineWithoutADirtyLogRefusesDiffSnapshots() throws Exception {
        VirtualMachine withoutLog = new VirtualMachine() {
            @Override public InterruptController interrupts() { return null; }
            @Override public void start(CpuBootState bsp) {}
            @Override public void pause() {}
            @Override public void resume() {}
            @Override public String engineName() { return "test"; }
            @Override public void stop() {}
            @Override public void close() {}
        };
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            DirtyPages log = memory.trackDirtyPages();
            var e = assertThrows(SnapshotException.class, () -> withoutLog.collectDirtyPages(log));
            assertEquals("Diff snapshots are not supported on the test engine yet (its vCPUs' dirty pages are not collected); "
                    + "take a Full snapshot", e.getMessage());
        }
    }
}
