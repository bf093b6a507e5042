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
 * itself, rather than writing a diff that silently lacks what the guest wrote. Until the kvm engine reads
 * KVM_GET_DIRTY_LOG, that is the kvm engine.
 */
class DiffSnapshotRefusalTest {
    @Test
    void anEngineWithoutADirtyLogRefusesDiffSnapshots() throws Exception {
        VirtualMachine kvmLike = new VirtualMachine() {
            @Override public InterruptController interrupts() { return null; }
            @Override public void start(CpuBootState bsp) {}
            @Override public void pause() {}
            @Override public void resume() {}
            @Override public String engineName() { return "kvm"; }
            @Override public void stop() {}
            @Override public void close() {}
        };
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            DirtyPages log = memory.trackDirtyPages();
            var e = assertThrows(SnapshotException.class, () -> kvmLike.collectDirtyPages(log));
            assertEquals("Diff snapshots are not supported on the kvm engine yet (its vCPUs' dirty pages are not collected); "
                    + "take a Full snapshot", e.getMessage());
        }
    }

    /** The kvm engine takes the refusal above until it collects KVM's dirty log itself. */
    @Test
    void theKvmEngineUsesThatRefusal() throws Exception {
        assertEquals(VirtualMachine.class,
                Class.forName("dev.flint.engine.kvm.KvmVm").getMethod("collectDirtyPages", DirtyPages.class).getDeclaringClass(),
                "KvmVm collects its dirty pages now: replace this test by one of KVM_GET_DIRTY_LOG (nested kvm tests)");
    }
}
