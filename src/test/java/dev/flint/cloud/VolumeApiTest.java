package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.DescribeVolumesResponse;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceStateName;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;
import software.amazon.awssdk.services.ec2.model.Volume;
import software.amazon.awssdk.services.ec2.model.VolumeState;

/**
 * EBS volumes and snapshots through the AWS SDK's own Ec2Client over a fake runtime: every action, the state
 * machine, the files, and every refusal (which must change nothing).
 */
class VolumeApiTest {
    @TempDir
    static Path temp;
    static CloudHarness cloud;
    static Ec2Client ec2;
    static String imageId;
    static final String ZONE = "flint-locala";
    static final Duration WAIT = Duration.ofSeconds(30);
    static final long GIB = 1L << 30;
    /** CopySnapshot: the SDK presigns a URL for the source region unless one is given; Flint has one region. */
    static final String NO_PRESIGN = "https://flint.invalid/";

    @BeforeAll
    static void start() throws Exception {
        cloud = CloudHarness.start(temp.resolve("data"), 64 * 1024, false, List.of());
        ec2 = cloud.client();
        Path image = CloudHarness.ext4Image(temp, "base.ext4");
        imageId = ec2.registerImage(r -> r.name("vol-base").imageLocation(image.toString())).imageId();
    }

    @AfterAll
    static void stop() {
        if (ec2 != null) ec2.close();
        if (cloud != null) cloud.close();
    }

    static String refusal(Runnable call) {
        return assertThrows(Ec2Exception.class, call::run).awsErrorDetails().errorCode();
    }

    static Volume volume(String id) {
        return ec2.describeVolumes(r -> r.volumeIds(id)).volumes().getFirst();
    }

    static Path file(String volumeId) {
        return cloud.dataDir.resolve("volumes").resolve(volumeId + ".raw");
    }

    static String newVolume(int gib) throws InterruptedException {
        String id = ec2.createVolume(r -> r.size(gib).availabilityZone(ZONE).volumeType("gp3")).volumeId();
        awaitVolume(id, VolumeState.AVAILABLE);
        return id;
    }

    static void awaitVolume(String id, VolumeState state) throws InterruptedException {
        CloudHarness.await(id + " " + state, WAIT, () -> volume(id).state() == state);
    }

    static Instance instance(String id) {
        return ec2.describeInstances(r -> r.instanceIds(id)).reservations().getFirst().instances().getFirst();
    }

    static String runningInstance() throws InterruptedException {
        String id = ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.micro").minCount(1).maxCount(1)).instances().getFirst().instanceId();
        CloudHarness.await(id + " running", WAIT, () -> instance(id).state().name() == InstanceStateName.RUNNING);
        return id;
    }

    static void stopInstance(String id) throws InterruptedException {
        ec2.stopInstances(r -> r.instanceIds(id));
        CloudHarness.await(id + " stopped", WAIT, () -> instance(id).state().name() == InstanceStateName.STOPPED);
    }

    /** The store's and the files' state, to show a refusal changed nothing. */
    static Set<String> everything() throws Exception {
        Set<String> all = new HashSet<>();
        for (Volume v : ec2.describeVolumes().volumes()) all.add(v.toString());
        for (Snapshot s : ec2.describeSnapshots().snapshots()) all.add(s.toString());
        try (var files = Files.list(cloud.dataDir.resolve("volumes"))) {
            files.forEach(f -> all.add(f.getFileName().toString()));
        }
        return all;
    }

    static void refusedUnchanged(String expectedCode, Runnable call) throws Exception {
        Set<String> before = everything();
        assertEquals(expectedCode, refusal(call));
        assertEquals(before, everything(), "a refused " + expectedCode + " changed nothing");
    }

    @Test
    void createdVolumeIsANewSparseFileOfItsSizeWithItsLabelsAndTags() throws Exception {
        var made = ec2.createVolume(r -> r.size(3).availabilityZone(ZONE).volumeType("io2")
                .tagSpecifications(TagSpecification.builder().resourceType("volume").tags(Tag.builder().key("Name").value("data").build()).build()));
        assertTrue(made.volumeId().matches("vol-[0-9a-f]{17}"), made.volumeId());
        assertEquals(VolumeState.CREATING, made.state());
        awaitVolume(made.volumeId(), VolumeState.AVAILABLE);
        Volume v = volume(made.volumeId());
        assertEquals(3, v.size());
        assertEquals("io2", v.volumeTypeAsString());
        assertEquals(ZONE, v.availabilityZone());
        assertEquals("data", v.tags().getFirst().value());
        assertTrue(v.attachments().isEmpty());
        Path f = file(v.volumeId());
        assertEquals(3 * GIB, Files.size(f));
        long allocated = allocatedBytes(f);
        assertTrue(allocated < GIB, "sparse: " + allocated + " bytes allocated");
        assertEquals("Name", ec2.describeTags(r -> r.filters(Filter.builder().name("resource-id").values(v.volumeId()).build())).tags().getFirst().key());
        assertEquals("ok", ec2.describeVolumeStatus(r -> r.volumeIds(v.volumeId())).volumeStatuses().getFirst().volumeStatus().statusAsString());

        // ModifyVolume grows the file; shrinking is refused.
        var mod = ec2.modifyVolume(r -> r.volumeId(v.volumeId()).size(4)).volumeModification();
        assertEquals(3, mod.originalSize());
        assertEquals(4, mod.targetSize());
        assertEquals(4 * GIB, Files.size(f));
        assertEquals(4, volume(v.volumeId()).size());
        refusedUnchanged("InvalidParameterValue", () -> ec2.modifyVolume(r -> r.volumeId(v.volumeId()).size(2)));

        ec2.deleteVolume(r -> r.volumeId(v.volumeId()));
        assertFalse(Files.exists(f), "the file is gone");
        assertEquals("InvalidVolume.NotFound", refusal(() -> volume(v.volumeId())));
    }

    @Test
    void aNewVolumeNeverShowsAnEarlierVolumesData() throws Exception {
        String first = newVolume(1);
        writeAt(file(first), 4096, "secret of the first volume");
        ec2.deleteVolume(r -> r.volumeId(first));
        String second = newVolume(1);
        byte[] block = readAt(file(second), 0, 1 << 20);
        assertArrayEquals(new byte[1 << 20], block, "a new volume reads zeros");
        ec2.deleteVolume(r -> r.volumeId(second));
    }

    @Test
    void clientTokenMakesOneVolume() throws Exception {
        String a = ec2.createVolume(r -> r.size(1).availabilityZone(ZONE).clientToken("vol-token-1")).volumeId();
        String b = ec2.createVolume(r -> r.size(1).availabilityZone(ZONE).clientToken("vol-token-1")).volumeId();
        assertEquals(a, b);
        awaitVolume(a, VolumeState.AVAILABLE);
        ec2.deleteVolume(r -> r.volumeId(a));
    }

    @Test
    void attachToStoppedInstanceAddsTheDiskAtNextStart() throws Exception {
        String instance = runningInstance();
        stopInstance(instance);
        String vol = newVolume(1);
        var att = ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdf"));
        assertEquals("attached", att.stateAsString());
        Volume v = volume(vol);
        assertEquals(VolumeState.IN_USE, v.state());
        assertEquals(instance, v.attachments().getFirst().instanceId());
        assertFalse(cloud.runtime.events.contains("attach " + instance + " " + vol), "no hot-plug into a stopped machine");

        ec2.startInstances(r -> r.instanceIds(instance));
        CloudHarness.await(instance + " running", WAIT, () -> instance(instance).state().name() == InstanceStateName.RUNNING);
        var disks = cloud.runtime.launched.get(instance).dataVolumes();
        assertEquals(1, disks.size());
        assertEquals(vol, disks.getFirst().volumeId());
        assertEquals(vol.replace("-", ""), disks.getFirst().serial());
        assertEquals(file(vol), disks.getFirst().file());
        assertTrue(instance(instance).blockDeviceMappings().stream().anyMatch(m -> m.deviceName().equals("/dev/sdf")
                && m.ebs().volumeId().equals(vol)));

        // Detach from the running machine: the VMM removes it.
        var det = ec2.detachVolume(r -> r.volumeId(vol));
        assertEquals("detaching", det.stateAsString());
        awaitVolume(vol, VolumeState.AVAILABLE);
        assertTrue(cloud.runtime.events.contains("detach " + instance + " " + vol), "available only after the VMM let go");

        // From a stopped instance only the record changes; the answer still says detaching, as EC2's does.
        ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdf"));
        stopInstance(instance);
        var stoppedDetach = ec2.detachVolume(r -> r.volumeId(vol).instanceId(instance));
        assertEquals("detaching", stoppedDetach.stateAsString());
        assertEquals(VolumeState.AVAILABLE, volume(vol).state());
        ec2.terminateInstances(r -> r.instanceIds(instance));
        ec2.deleteVolume(r -> r.volumeId(vol));
    }

    @Test
    void detachFromARunningInstanceIsDetachingUntilTheVmmLetGo() throws Exception {
        String instance = runningInstance();
        String vol = newVolume(1);
        ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdk"));
        var gate = new java.util.concurrent.CountDownLatch(1);
        cloud.runtime.holdDetach = gate;
        try {
            var det = ec2.detachVolume(r -> r.volumeId(vol).instanceId(instance));
            assertEquals("detaching", det.stateAsString(), "DetachVolume answers before the VMM has let go");
            // Held in the VMM: DescribeVolumes says so, and the volume cannot be used elsewhere yet.
            Volume held = volume(vol);
            assertEquals(VolumeState.IN_USE, held.state());
            assertEquals("detaching", held.attachments().getFirst().stateAsString());
            assertEquals(1, ec2.describeVolumes(r -> r.filters(Filter.builder().name("attachment.status").values("detaching").build()))
                    .volumes().stream().filter(v -> v.volumeId().equals(vol)).count());
            refusedUnchanged("IncorrectState", () -> ec2.detachVolume(r -> r.volumeId(vol)));
            refusedUnchanged("VolumeInUse", () -> ec2.deleteVolume(r -> r.volumeId(vol)));
            refusedUnchanged("VolumeInUse", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdl")));
            assertFalse(cloud.runtime.events.contains("detach " + instance + " " + vol));
        } finally {
            gate.countDown();
            cloud.runtime.holdDetach = null;
        }
        awaitVolume(vol, VolumeState.AVAILABLE);
        assertTrue(cloud.runtime.events.contains("detach " + instance + " " + vol), "available only after the VMM let go");
        assertTrue(volume(vol).attachments().isEmpty());

        // A VMM that refuses while it runs: the attachment goes back to attached, the volume stays in use.
        ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdk"));
        cloud.runtime.refuseDetach = "fake: the namespace is busy";
        try {
            assertEquals("detaching", ec2.detachVolume(r -> r.volumeId(vol).force(true)).stateAsString());
            CloudHarness.await(vol + " attached again", WAIT, () -> volume(vol).attachments().getFirst().stateAsString().equals("attached"));
            assertEquals(VolumeState.IN_USE, volume(vol).state());
        } finally {
            cloud.runtime.refuseDetach = null;
        }
        ec2.detachVolume(r -> r.volumeId(vol).force(true));
        awaitVolume(vol, VolumeState.AVAILABLE);
        ec2.terminateInstances(r -> r.instanceIds(instance));
        ec2.deleteVolume(r -> r.volumeId(vol));
    }

    @Test
    void aPlainDetachWaitsForTheGuestUntilForceRemovesTheVolume() throws Exception {
        String instance = runningInstance();
        String vol = newVolume(1);
        ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdm"));
        var guest = new java.util.concurrent.CountDownLatch(1);
        cloud.runtime.guestHolds = guest; // the guest does not eject
        try {
            assertEquals("detaching", ec2.detachVolume(r -> r.volumeId(vol)).stateAsString());
            CloudHarness.await("the detach waits for the guest", WAIT, () -> cloud.runtime.waitingForGuest.contains(vol));
            // Held by the guest: in use, detaching; a second plain detach is refused, the volume cannot be used elsewhere.
            assertEquals(VolumeState.IN_USE, volume(vol).state());
            assertEquals("detaching", volume(vol).attachments().getFirst().stateAsString());
            refusedUnchanged("IncorrectState", () -> ec2.detachVolume(r -> r.volumeId(vol)));
            refusedUnchanged("VolumeInUse", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdn")));
            assertTrue(cloud.runtime.waitingForGuest.contains(vol), "still waiting: nothing but the guest or Force ends it");
            assertEquals(VolumeState.IN_USE, volume(vol).state());

            // Force ends it: the VMM removes the device at once, and the waiting detach makes the volume available.
            assertEquals("detaching", ec2.detachVolume(r -> r.volumeId(vol).force(true)).stateAsString());
            awaitVolume(vol, VolumeState.AVAILABLE);
            assertTrue(cloud.runtime.events.contains("force-detach " + instance + " " + vol));
            assertFalse(cloud.runtime.events.contains("detach " + instance + " " + vol), "the guest never let go");
            assertTrue(volume(vol).attachments().isEmpty());

            // A plain detach the guest answers: available once it let go, with no force.
            ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdm"));
            assertEquals("detaching", ec2.detachVolume(r -> r.volumeId(vol)).stateAsString());
            CloudHarness.await("the detach waits for the guest", WAIT, () -> cloud.runtime.waitingForGuest.contains(vol));
            assertEquals("detaching", volume(vol).attachments().getFirst().stateAsString());
            guest.countDown();
            awaitVolume(vol, VolumeState.AVAILABLE);
            assertTrue(cloud.runtime.events.contains("detach " + instance + " " + vol));

            // A forced detach from the start goes at once, whatever the guest does.
            cloud.runtime.guestHolds = new java.util.concurrent.CountDownLatch(1);
            ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdm"));
            assertEquals("detaching", ec2.detachVolume(r -> r.volumeId(vol).force(true)).stateAsString());
            awaitVolume(vol, VolumeState.AVAILABLE);
        } finally {
            cloud.runtime.guestHolds = null;
        }
        ec2.terminateInstances(r -> r.instanceIds(instance));
        ec2.deleteVolume(r -> r.volumeId(vol));
    }

    @Test
    void attachToRunningInstanceHotPlugsAndDetachUnplugs() throws Exception {
        String instance = runningInstance();
        String vol = newVolume(2);
        var att = ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/xvdg"));
        assertEquals("attached", att.stateAsString(), "the hot-plug is done when AttachVolume answers");
        assertTrue(cloud.runtime.hotPlugged.get(instance).contains(vol));
        assertEquals("attached", volume(vol).attachments().getFirst().stateAsString());
        assertEquals(1, ec2.describeVolumes(r -> r.filters(Filter.builder().name("attachment.instance-id").values(instance).build(),
                Filter.builder().name("attachment.device").values("/dev/xvdg").build())).volumes().size());

        // The device is taken (in either naming), the volume in use: refused, nothing changes.
        String other = newVolume(1);
        refusedUnchanged("InvalidParameterValue", () -> ec2.attachVolume(r -> r.volumeId(other).instanceId(instance).device("/dev/sdg")));
        refusedUnchanged("VolumeInUse", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdh")));
        refusedUnchanged("VolumeInUse", () -> ec2.deleteVolume(r -> r.volumeId(vol)));
        refusedUnchanged("InvalidAttachment.NotFound", () -> ec2.detachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdz")));

        // Growing it while attached: the file grows and the running machine is told (the guest sees it at once).
        ec2.modifyVolume(r -> r.volumeId(vol).size(3));
        assertEquals(3 * GIB, Files.size(file(vol)));
        assertTrue(cloud.runtime.events.contains("resize " + instance + " " + vol + " " + 3 * GIB), cloud.runtime.events.toString());
        ec2.modifyVolume(r -> r.volumeId(vol).volumeType("io2"));
        assertEquals(1, cloud.runtime.events.stream().filter(e -> e.startsWith("resize " + instance + " " + vol)).count(),
                "a relabel alone changes nothing in the machine");

        ec2.detachVolume(r -> r.volumeId(vol).instanceId(instance).force(true));
        awaitVolume(vol, VolumeState.AVAILABLE);
        assertFalse(cloud.runtime.hotPlugged.get(instance).contains(vol));
        refusedUnchanged("IncorrectState", () -> ec2.detachVolume(r -> r.volumeId(vol)));

        // A runtime that cannot hot-plug: IncorrectInstanceState with its reason, and the volume stays available.
        cloud.runtime.refuseHotPlug = "no NVMe controller for hot-plugged volumes";
        try {
            Ec2Exception e = assertThrows(Ec2Exception.class, () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdf")));
            assertEquals("IncorrectInstanceState", e.awsErrorDetails().errorCode());
            assertTrue(e.awsErrorDetails().errorMessage().contains("no NVMe controller"), e.awsErrorDetails().errorMessage());
            assertEquals(VolumeState.AVAILABLE, volume(vol).state());
            assertTrue(volume(vol).attachments().isEmpty());
        } finally {
            cloud.runtime.refuseHotPlug = null;
        }
        ec2.terminateInstances(r -> r.instanceIds(instance));
        ec2.deleteVolume(r -> r.volumeId(vol));
        ec2.deleteVolume(r -> r.volumeId(other));
    }

    @Test
    void badIdsAndStatesAreEc2ErrorsAndChangeNothing() throws Exception {
        String vol = newVolume(1);
        String instance = runningInstance();
        refusedUnchanged("InvalidVolumeID.Malformed", () -> ec2.describeVolumes(r -> r.volumeIds("vol-xyz")));
        refusedUnchanged("InvalidVolume.NotFound", () -> ec2.describeVolumes(r -> r.volumeIds("vol-0123456789abcdef0")));
        refusedUnchanged("InvalidVolume.NotFound", () -> ec2.deleteVolume(r -> r.volumeId("vol-0123456789abcdef0")));
        refusedUnchanged("InvalidVolumeID.Malformed", () -> ec2.attachVolume(r -> r.volumeId("volume-1").instanceId(instance).device("/dev/sdf")));
        refusedUnchanged("InvalidInstanceID.Malformed", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId("x-1").device("/dev/sdf")));
        refusedUnchanged("InvalidInstanceID.NotFound", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId("i-0123456789abcdef0").device("/dev/sdf")));
        refusedUnchanged("InvalidParameterValue", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/vda")));
        refusedUnchanged("InvalidParameterValue", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("sdf; rm -rf /")));
        refusedUnchanged("MissingParameter", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance)));
        refusedUnchanged("InvalidParameterValue", () -> ec2.createVolume(r -> r.size(1).availabilityZone("us-east-1a")));
        refusedUnchanged("InvalidParameterValue", () -> ec2.createVolume(r -> r.size(0).availabilityZone(ZONE)));
        refusedUnchanged("InvalidParameterValue", () -> ec2.createVolume(r -> r.size(1).availabilityZone(ZONE).volumeType("floppy")));
        refusedUnchanged("MissingParameter", () -> ec2.createVolume(r -> r.availabilityZone(ZONE)));
        refusedUnchanged("InvalidSnapshot.NotFound", () -> ec2.createVolume(r -> r.availabilityZone(ZONE).snapshotId("snap-0123456789abcdef0")));
        refusedUnchanged("InvalidSnapshotID.Malformed", () -> ec2.createVolume(r -> r.availabilityZone(ZONE).snapshotId("snap-nope")));

        // The root volume is a volume: listed, attached, not detachable.
        Volume root = ec2.describeVolumes(r -> r.filters(Filter.builder().name("attachment.instance-id").values(instance).build())).volumes().getFirst();
        assertEquals("/dev/vda", root.attachments().getFirst().device());
        assertTrue(root.attachments().getFirst().deleteOnTermination());
        refusedUnchanged("OperationNotPermitted", () -> ec2.detachVolume(r -> r.volumeId(root.volumeId())));

        // A pending instance takes no volume.
        cloud.runtime.holdBoot = true;
        String pending;
        try {
            pending = ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1)).instances().getFirst().instanceId();
            CloudHarness.await("launched", WAIT, () -> cloud.runtime.launched.containsKey(pending));
            refusedUnchanged("IncorrectInstanceState", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(pending).device("/dev/sdf")));
        } finally {
            cloud.runtime.holdBoot = false;
        }
        ec2.terminateInstances(r -> r.instanceIds(instance, pending));
        // Both, so their root volumes are gone before the next refusal compares everything.
        CloudHarness.await("terminated", WAIT, () -> instance(instance).state().name() == InstanceStateName.TERMINATED
                && instance(pending).state().name() == InstanceStateName.TERMINATED);
        refusedUnchanged("InvalidInstanceID.NotFound", () -> ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdf")));
        ec2.deleteVolume(r -> r.volumeId(vol));
    }

    @Test
    void terminationHonoursDeleteOnTerminationAndLaunchMappingsMakeVolumes() throws Exception {
        String snapSource = newVolume(1);
        writeAt(file(snapSource), 8192, "from the snapshot");
        String snapshot = ec2.createSnapshot(r -> r.volumeId(snapSource)).snapshotId();
        CloudHarness.await(snapshot + " completed", WAIT, () -> snapshot(snapshot).stateAsString().equals("completed"));
        String id = ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1).blockDeviceMappings(
                BlockDeviceMapping.builder().deviceName("/dev/xvda").ebs(e -> e.deleteOnTermination(false)).build(),
                BlockDeviceMapping.builder().deviceName("/dev/sdb").ebs(e -> e.volumeSize(2).volumeType("gp2")).build(),
                BlockDeviceMapping.builder().deviceName("/dev/sdc").ebs(e -> e.snapshotId(snapshot).deleteOnTermination(false)).build()))
                .instances().getFirst().instanceId();
        CloudHarness.await(id + " running", WAIT, () -> instance(id).state().name() == InstanceStateName.RUNNING);
        var disks = cloud.runtime.launched.get(id).dataVolumes();
        assertEquals(2, disks.size());
        List<Volume> mine = ec2.describeVolumes(r -> r.filters(Filter.builder().name("attachment.instance-id").values(id).build())).volumes();
        assertEquals(3, mine.size());
        Volume root = mine.stream().filter(v -> v.attachments().getFirst().device().equals("/dev/vda")).findFirst().orElseThrow();
        Volume fromSnapshot = mine.stream().filter(v -> snapshot.equals(v.snapshotId())).findFirst().orElseThrow();
        Volume empty = mine.stream().filter(v -> v.size() == 2).findFirst().orElseThrow();
        assertEquals("gp2", empty.volumeTypeAsString());
        assertEquals(2 * GIB, Files.size(file(empty.volumeId())));
        assertEquals("from the snapshot", readText(file(fromSnapshot.volumeId()), 8192, "from the snapshot".length()));
        assertEquals(Set.of(empty.volumeId(), fromSnapshot.volumeId()),
                Set.copyOf(disks.stream().map(d -> d.volumeId()).toList()), "both data volumes are in the machine from launch");

        refusedUnchanged("InvalidBlockDeviceMapping", () -> ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1).blockDeviceMappings(
                BlockDeviceMapping.builder().deviceName("/dev/sdb").ebs(e -> e.volumeSize(1)).build(),
                BlockDeviceMapping.builder().deviceName("/dev/sdb").ebs(e -> e.volumeSize(1)).build())));
        refusedUnchanged("InvalidSnapshot.NotFound", () -> ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1).blockDeviceMappings(
                BlockDeviceMapping.builder().deviceName("/dev/sdb").ebs(e -> e.snapshotId("snap-0123456789abcdef0")).build())));

        ec2.terminateInstances(r -> r.instanceIds(id));
        CloudHarness.await(id + " terminated", WAIT, () -> instance(id).state().name() == InstanceStateName.TERMINATED);
        // Root and the snapshot's volume were kept (DeleteOnTermination false) and are available; the empty one is gone.
        assertEquals(VolumeState.AVAILABLE, volume(root.volumeId()).state());
        assertTrue(Files.exists(Path.of(cloud.dataDir.resolve("volumes").resolve(id + ".ext4").toString())), "the kept root's file");
        assertEquals(VolumeState.AVAILABLE, volume(fromSnapshot.volumeId()).state());
        assertEquals("InvalidVolume.NotFound", refusal(() -> volume(empty.volumeId())));
        assertFalse(Files.exists(file(empty.volumeId())));
        for (String v : List.of(root.volumeId(), fromSnapshot.volumeId(), snapSource)) ec2.deleteVolume(r -> r.volumeId(v));
        ec2.deleteSnapshot(r -> r.snapshotId(snapshot));
    }

    @Test
    void describeVolumesFiltersAndPages() throws Exception {
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 7; i++) {
            int n = i;
            ids.add(ec2.createVolume(r -> r.size(1).availabilityZone(ZONE).tagSpecifications(TagSpecification.builder().resourceType("volume")
                    .tags(Tag.builder().key("page").value("p" + (n % 2)).build()).build())).volumeId());
        }
        for (String id : ids) awaitVolume(id, VolumeState.AVAILABLE);
        Set<String> seen = new HashSet<>();
        String token = null;
        int pages = 0;
        do {
            String t = token;
            DescribeVolumesResponse page = ec2.describeVolumes(r -> r.maxResults(5).nextToken(t)
                    .filters(Filter.builder().name("tag-key").values("page").build()));
            page.volumes().forEach(v -> seen.add(v.volumeId()));
            token = page.nextToken();
            pages++;
        } while (token != null);
        assertEquals(Set.copyOf(ids), seen);
        assertEquals(2, pages);
        assertEquals(4, ec2.describeVolumes(r -> r.filters(Filter.builder().name("tag:page").values("p0").build(),
                Filter.builder().name("status").values("available").build())).volumes().size());
        assertEquals("InvalidParameterValue", refusal(() -> ec2.describeVolumes(r -> r.filters(Filter.builder().name("colour").values("x").build()))));
        assertEquals("InvalidParameterValue", refusal(() -> ec2.describeVolumes(r -> r.maxResults(1))));
        for (String id : ids) ec2.deleteVolume(r -> r.volumeId(id));
    }

    @Test
    void snapshotsKeepThePointInTimeDataAndSayHowTheyWereMade() throws Exception {
        String vol = newVolume(1);
        writeAt(file(vol), 1 << 20, "before the snapshot");
        var made = ec2.createSnapshot(r -> r.volumeId(vol).description("nightly"));
        assertTrue(made.snapshotId().matches("snap-[0-9a-f]{17}"), made.snapshotId());
        assertEquals("pending", made.stateAsString());
        CloudHarness.await("completed", WAIT, () -> snapshot(made.snapshotId()).stateAsString().equals("completed"));
        Snapshot s = snapshot(made.snapshotId());
        assertEquals(vol, s.volumeId());
        assertEquals(1, s.volumeSize());
        assertTrue(s.description().startsWith("nightly [flint: "), s.description());
        assertTrue(s.description().contains("reflink") || s.description().contains("sparse copy"), s.description());
        writeAt(file(vol), 1 << 20, "after  the snapshot");

        String restored = ec2.createVolume(r -> r.availabilityZone(ZONE).snapshotId(made.snapshotId())).volumeId();
        awaitVolume(restored, VolumeState.AVAILABLE);
        assertEquals(made.snapshotId(), volume(restored).snapshotId());
        assertEquals(1, volume(restored).size());
        assertEquals("before the snapshot", readText(file(restored), 1 << 20, "before the snapshot".length()));
        assertEquals("InvalidParameterValue", refusal(() -> ec2.createVolume(r -> r.availabilityZone(ZONE).snapshotId(made.snapshotId()).size(0))));

        String copy = ec2.copySnapshot(r -> r.sourceSnapshotId(made.snapshotId()).sourceRegion("flint-local").presignedUrl(NO_PRESIGN)).snapshotId();
        CloudHarness.await("copy completed", WAIT, () -> snapshot(copy).stateAsString().equals("completed"));
        assertTrue(snapshot(copy).description().contains(made.snapshotId()), snapshot(copy).description());
        refusedUnchanged("InvalidParameterValue", () -> ec2.copySnapshot(r -> r.sourceSnapshotId(made.snapshotId()).sourceRegion("us-east-1").presignedUrl(NO_PRESIGN)));
        refusedUnchanged("InvalidSnapshot.NotFound", () -> ec2.copySnapshot(r -> r.sourceSnapshotId("snap-0123456789abcdef0").sourceRegion("flint-local").presignedUrl(NO_PRESIGN)));
        refusedUnchanged("InvalidSnapshotID.Malformed", () -> ec2.deleteSnapshot(r -> r.snapshotId("snapshot")));
        refusedUnchanged("InvalidVolume.NotFound", () -> ec2.createSnapshot(r -> r.volumeId("vol-0123456789abcdef0")));

        assertEquals(2, ec2.describeSnapshots(r -> r.filters(Filter.builder().name("volume-id").values(vol).build())).snapshots().size());
        Path snapFile = cloud.dataDir.resolve("snapshots").resolve(made.snapshotId() + ".raw");
        assertTrue(Files.exists(snapFile));
        ec2.deleteSnapshot(r -> r.snapshotId(made.snapshotId()));
        assertFalse(Files.exists(snapFile), "the snapshot's file is gone");
        assertEquals("InvalidSnapshot.NotFound", refusal(() -> snapshot(made.snapshotId())));
        // A volume made from it keeps its data.
        assertEquals("before the snapshot", readText(file(restored), 1 << 20, "before the snapshot".length()));
        ec2.deleteSnapshot(r -> r.snapshotId(copy));
        for (String v : List.of(vol, restored)) ec2.deleteVolume(r -> r.volumeId(v));
    }

    @Test
    void snapshotOfAVolumeOnARunningInstancePausesItAroundTheCopy() throws Exception {
        String instance = runningInstance();
        String vol = newVolume(1);
        ec2.attachVolume(r -> r.volumeId(vol).instanceId(instance).device("/dev/sdf"));
        int before = cloud.runtime.events.size();
        var gate = new java.util.concurrent.CountDownLatch(1);
        cloud.runtime.holdResume = gate;
        String snap;
        try {
            var made = ec2.createSnapshot(r -> r.volumeId(vol).description("while running"));
            snap = made.snapshotId();
            // The call answers with the instance paused and the copy under way; DescribeSnapshots agrees.
            assertEquals(List.of("pause " + instance), List.copyOf(cloud.runtime.events.subList(before, cloud.runtime.events.size())));
            Snapshot first = snapshot(snap);
            assertEquals("pending", made.stateAsString());
            assertEquals(made.stateAsString(), first.stateAsString());
            assertEquals(made.startTime(), first.startTime());
            assertEquals(made.description(), first.description());
            assertEquals(made.volumeSize(), first.volumeSize());
            assertTrue(first.progress().matches("[0-9]{1,2}%"), first.progress());
            assertEquals(1, ec2.describeSnapshots(r -> r.filters(Filter.builder().name("status").values("pending").build())).snapshots().stream()
                    .filter(x -> x.snapshotId().equals(snap)).count());
            // The copy itself ends (its file whole) while the instance is still held: 99% until the snapshot is completed.
            CloudHarness.await(snap + " copied", WAIT, () -> snapshot(snap).progress().equals("99%"));
            assertEquals("pending", snapshot(snap).stateAsString());
            refusedUnchanged("IncorrectState", () -> ec2.deleteSnapshot(r -> r.snapshotId(snap)));
            refusedUnchanged("IncorrectState", () -> ec2.createVolume(r -> r.availabilityZone(ZONE).snapshotId(snap)));
        } finally {
            gate.countDown();
            cloud.runtime.holdResume = null;
        }
        CloudHarness.await(snap + " completed", WAIT, () -> snapshot(snap).stateAsString().equals("completed"));
        assertEquals("100%", snapshot(snap).progress());
        List<String> during = cloud.runtime.events.subList(before, cloud.runtime.events.size());
        assertEquals(List.of("pause " + instance, "resume " + instance), during);
        assertTrue(snapshot(snap).description().startsWith("while running [flint: "), snapshot(snap).description());
        assertTrue(snapshot(snap).description().contains("instance paused"), snapshot(snap).description());
        ec2.terminateInstances(r -> r.instanceIds(instance));
        CloudHarness.await("terminated", WAIT, () -> instance(instance).state().name() == InstanceStateName.TERMINATED);
        ec2.deleteSnapshot(r -> r.snapshotId(snap));
        ec2.deleteVolume(r -> r.volumeId(vol));
    }

    @Test
    void createImageMakesAnAmiFromAStoppedInstancesRootVolume() throws Exception {
        String instance = runningInstance();
        refusedUnchanged("IncorrectInstanceState", () -> ec2.createImage(r -> r.instanceId(instance).name("too-early")));
        stopInstance(instance);
        Path root = cloud.dataDir.resolve("volumes").resolve(instance + ".ext4");
        String ami = ec2.createImage(r -> r.instanceId(instance).name("from-instance").description("made by CreateImage")).imageId();
        var image = ec2.describeImages(r -> r.imageIds(ami)).images().getFirst();
        assertEquals("from-instance", image.name());
        assertEquals(Files.size(root), Files.size(cloud.dataDir.resolve("images").resolve(ami + ".ext4")));
        String child = ec2.runInstances(r -> r.imageId(ami).minCount(1).maxCount(1)).instances().getFirst().instanceId();
        CloudHarness.await(child + " running", WAIT, () -> instance(child).state().name() == InstanceStateName.RUNNING);
        assertEquals(ami, instance(child).imageId());
        refusedUnchanged("InvalidInstanceID.NotFound", () -> ec2.createImage(r -> r.instanceId("i-0123456789abcdef0").name("x-y-z")));
        ec2.terminateInstances(r -> r.instanceIds(instance, child));
    }

    /** The bytes the file system gave the file ({@code stat %b} blocks of {@code %B} bytes). */
    static long allocatedBytes(Path f) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", f.toString()).redirectErrorStream(true).start();
        String[] out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip().split(" ");
        assertEquals(0, p.waitFor());
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    static Snapshot snapshot(String id) {
        return ec2.describeSnapshots(r -> r.snapshotIds(id)).snapshots().getFirst();
    }

    static void writeAt(Path file, long offset, String text) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            f.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    static byte[] readAt(Path file, long offset, int n) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] b = new byte[n];
            f.seek(offset);
            f.readFully(b);
            return b;
        }
    }

    static String readText(Path file, long offset, int n) throws Exception {
        return new String(readAt(file, offset, n), StandardCharsets.UTF_8);
    }
}
