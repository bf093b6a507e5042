package dev.flint.nested;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.api.ApiGuestBoot;
import dev.flint.api.ApiMmdsGuest;
import dev.flint.api.ApiNetworkGuest;
import dev.flint.api.BalloonGuest;
import dev.flint.api.VsockGuest;
import dev.flint.api.ApiSnapshotGuest;
import dev.flint.boot.GuestNetChecks;
import dev.flint.boot.GuestNvmeChecks;
import dev.flint.boot.GuestRootfsChecks;
import dev.flint.boot.GuestVirtioChecks;
import dev.flint.boot.NetNamespace;
import dev.flint.engine.kvm.KvmEngine;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stock guest on the kvm engine, through both front ends, in the same scenarios the emu engine runs
 * on this host: the virtio disk and entropy checks over {@code flint run}, NVMe disks with a namespace
 * attached at run time, a root file system image on
 * virtio-blk, HTTP both ways over virtio-net on a TAP in a network namespace, and the Firecracker API
 * workflow with a drive and with a network interface (whose metrics must show ioeventfd and irqfd carried
 * the virtio traffic), the metadata service the VMM answers on that interface, Full and Diff snapshots (KVM's dirty
 * log) taken in one VMM process and loaded in another, the balloon giving
 * guest memory back to the host, and vsock streams both ways, many at once. Needs a KVM that runs stock kernels, so on this project's PVM hosts it is skipped
 * here and {@link NestedKvmTest} runs it inside L1, where nothing may be skipped.
 */
class KvmGuestTest {
    @BeforeAll
    static void needStockKvm() {
        var kvm = new KvmEngine().availability();
        if (!kvm.usable()) System.err.println("KvmGuestTest skipped here (NestedKvmTest runs it in L1): " + kvm.reason());
        assumeTrue(kvm.usable(), kvm.reason());
    }

    @Test
    void virtioDisksAndEntropyOverTheCli(@TempDir Path dir) throws Exception {
        GuestVirtioChecks.overTheCli("kvm", dir);
    }

    @Test
    void nvmeDisksAndANamespaceAttachedWhileTheGuestRuns(@TempDir Path dir) throws Exception {
        GuestNvmeChecks.inProcess("kvm", dir);
    }

    @Test
    void aGuestStartedOverTheApiBootsAndCtrlAltDelEndsIt(@TempDir Path dir) throws Exception {
        ApiGuestBoot.run("kvm", dir);
    }

    @Test
    void theGuestBootsFromAnExt4ImageReadsAReadOnlyDriveAndItsFilesAreThereAfterPowerOff(@TempDir Path dir) throws Exception {
        GuestRootfsChecks.overTheCli("kvm", dir, GuestRootfsChecks.Ending.POWER_OFF);
    }

    @Test
    void hostAndGuestExchangeHttpBothWaysOverATap(@TempDir Path dir) throws Exception {
        assumeNetNamespaces();
        GuestNetChecks.overTheCli("kvm", dir);
    }

    @Test
    void aNetworkInterfacePutOverTheApiCarriesTheGuestsTraffic(@TempDir Path dir) throws Exception {
        assumeNetNamespaces();
        ApiNetworkGuest.run("kvm", dir);
    }

    /**
     * Full and Diff snapshots in one boot (a boot in L1 costs a minute): the Full one, then the guest writes
     * files into its RAM, then a Diff (KVM's dirty log); the Diff rebased onto the Full memory is loaded.
     */
    @Test
    void fullAndDiffSnapshotsOfTwoVcpusLoadedInANewVmmResumeTheGuestWithItsFilesDiskNetworkAndClock(@TempDir Path dir)
            throws Exception {
        assumeNetNamespaces();
        ApiSnapshotGuest.run("kvm", 2, true, true, dir);
    }

    @Test
    void theBalloonReturnsGuestMemoryToTheHostAndGivesItBack(@TempDir Path dir) throws Exception {
        BalloonGuest.run("kvm", dir);
    }

    @Test
    void vsockStreamsBothWaysManyAtOnce(@TempDir Path dir) throws Exception {
        VsockGuest.run("kvm", dir);
    }

    private static void assumeNetNamespaces() {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, "network namespaces unavailable: " + reason);
    }

    @Test
    void theGuestReadsTheMetadataServiceOverItsInterface(@TempDir Path dir) throws Exception {
        assumeNetNamespaces();
        ApiMmdsGuest.run("kvm", "V2", dir);
    }
}
