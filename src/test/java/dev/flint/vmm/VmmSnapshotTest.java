package dev.flint.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.engine.Engine.Availability;
import dev.flint.guest.GuestAssets;
import dev.flint.machine.GuestMemoryFileException;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateFile;
import dev.flint.machine.state.StateWriter;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the VMM refuses around snapshots, each with one line, without a CPU (a fake engine). */
class VmmSnapshotTest {
    private static Path kernel;

    @TempDir Path tmp;

    @BeforeAll
    static void debianKernel() {
        kernel = GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.err).kernel();
    }

    private static VmConfig config() { return VmConfig.builder(kernel).cmdline(VmConfig.DEFAULT_CMDLINE).cpus(1).memoryMib(128).engine("emu").build(); }

    private static Console quiet() { return new Console(InputStream.nullInputStream(), OutputStream.nullOutputStream()); }

    @Test
    void anEngineWithoutSnapshotsRefusesAndWritesNothing() {
        FakeEngine engine = new FakeEngine("kvm", Availability.yes(), vm -> { });
        Path state = tmp.resolve("vm.state"), mem = tmp.resolve("vm.mem");
        try (Vmm vmm = Vmm.start(config(), engine, quiet())) {
            assertEquals("the microVM must be paused to take a snapshot",
                    assertThrows(SnapshotException.class, () -> vmm.snapshot(state, mem, List.of())).getMessage());
            vmm.pause();
            String refusal = assertThrows(SnapshotException.class, () -> vmm.snapshot(state, mem, List.of())).getMessage();
            assertTrue(refusal.startsWith("snapshots are not supported on the "), refusal);
        }
        assertFalse(Files.exists(state) || Files.exists(mem), "a refused snapshot leaves no files");
    }

    @Test
    void aDiffNeedsTrackingAndAnEngineThatHandsOverItsDirtyPages() {
        Path state = tmp.resolve("vm.state"), mem = tmp.resolve("vm.mem");
        try (Vmm vmm = Vmm.start(config(), new FakeEngine("emu", Availability.yes(), vm -> { }), quiet())) {
            vmm.pause();
            assertEquals("a Diff snapshot needs dirty page tracking: set track_dirty_pages when configuring the machine "
                    + "(or loading its snapshot)",
                    assertThrows(SnapshotException.class, () -> vmm.snapshot(state, mem, List.of(), SnapshotType.DIFF)).getMessage());
        }
        try (Vmm vmm = Vmm.start(config().withDirtyPageTracking(true), new FakeEngine("kvm", Availability.yes(), vm -> { }), quiet())) {
            vmm.pause();
            // The fake VM keeps VirtualMachine's default, as the kvm engine does today (DiffSnapshotRefusalTest).
            String refusal = assertThrows(SnapshotException.class, () -> vmm.snapshot(state, mem, List.of(), SnapshotType.DIFF)).getMessage();
            assertTrue(refusal.startsWith("Diff snapshots are not supported on the ") && refusal.endsWith("take a Full snapshot"), refusal);
        }
        assertFalse(Files.exists(state) || Files.exists(mem), "a refused snapshot leaves no files");
    }

    @Test
    void dirtyPageTrackingAndAVhostUserDriveDoNotGoTogether() {
        var drive = new dev.flint.devices.virtio.block.DriveConfig(tmp.resolve("blk.sock"), false,
                dev.flint.devices.virtio.block.DriveConfig.Interface.VHOST_USER, null);
        VmConfig vhostUser = VmConfig.builder(kernel).cmdline(VmConfig.DEFAULT_CMDLINE).cpus(1).memoryMib(128).engine("emu").drives(List.of(drive)).build();
        String refusal = assertThrows(VmConfigException.class, () -> vhostUser.withDirtyPageTracking(true)).getMessage();
        assertTrue(refusal.startsWith("dirty page tracking cannot see what a vhost-user back end writes"), refusal);
    }

    @Test
    void loadRefusesAnotherEnginesSnapshotAndAMemoryFileOfTheWrongSize() throws Exception {
        StateWriter w = new StateWriter();
        SnapshotConfig.save(w, config(), List.of(), List.of());
        Path state = tmp.resolve("vm.state");
        StateFile.write(state, "emu", w);
        Path mem = Files.write(tmp.resolve("vm.mem"), new byte[4096]);

        FakeEngine kvm = new FakeEngine("kvm", Availability.yes(), vm -> { });
        assertEquals(state + " was taken on the emu engine; this VMM runs the kvm engine",
                assertThrows(SnapshotException.class, () -> Vmm.restore(state, mem, kvm, quiet(), true, Map.of())).getMessage());

        FakeEngine emu = new FakeEngine("emu", Availability.yes(), vm -> { });
        assertEquals("memory file " + mem + " holds 4096 bytes; the snapshot's guest has " + (128L << 20),
                assertThrows(GuestMemoryFileException.class, () -> Vmm.restore(state, mem, emu, quiet(), true, Map.of())).getMessage());
        assertTrue(emu.created.isEmpty(), "nothing was built");

        assertEquals("network_overrides: the snapshot has no network interface eth9",
                assertThrows(SnapshotException.class, () -> Vmm.restore(state, mem, emu, quiet(), true, Map.of("eth9", "tap0"))).getMessage());
    }
}
