package dev.flint.cloud.actions;

import dev.flint.cloud.compute.InstanceRuntime.RuntimeFailure;
import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.fleet.Snapshots;
import dev.flint.cloud.fleet.VolumeBook;
import dev.flint.cloud.model.ImageRecord;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.InstanceState;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.model.SnapshotRecord;
import dev.flint.cloud.model.VolumeRecord;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Logger;
import software.amazon.awssdk.services.ec2.model.CopySnapshotRequest;
import software.amazon.awssdk.services.ec2.model.CopySnapshotResponse;
import software.amazon.awssdk.services.ec2.model.CreateImageRequest;
import software.amazon.awssdk.services.ec2.model.CreateImageResponse;
import software.amazon.awssdk.services.ec2.model.CreateSnapshotRequest;
import software.amazon.awssdk.services.ec2.model.CreateSnapshotResponse;
import software.amazon.awssdk.services.ec2.model.DeleteSnapshotRequest;
import software.amazon.awssdk.services.ec2.model.DeleteSnapshotResponse;
import software.amazon.awssdk.services.ec2.model.DescribeSnapshotsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeSnapshotsResponse;
import software.amazon.awssdk.services.ec2.model.Snapshot;

/**
 * CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot, CreateImage. A snapshot is a copy of the
 * volume's file, by reflink where the file system shares blocks and a sparse copy otherwise; its description
 * ends with which. A snapshot of a volume attached to a running instance is taken with the instance's vCPUs
 * paused ({@code PATCH /vm Paused} on its VMM): what the guest saw written is in it, nothing after the call.
 */
public final class SnapshotActions {
    private static final Logger LOG = Logger.getLogger(SnapshotActions.class.getName());
    private final CloudContext cloud;
    private final Filters<SnapshotRecord> filters;

    public SnapshotActions(CloudContext cloud) {
        this.cloud = cloud;
        Map<String, Function<SnapshotRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("snapshot-id", s -> List.of(s.snapshotId()));
        a.put("volume-id", s -> List.of(s.volumeId()));
        a.put("status", s -> List.of(s.state()));
        a.put("description", s -> List.of(s.description()));
        a.put("volume-size", s -> List.of(String.valueOf(s.volumeSizeGib())));
        a.put("owner-id", s -> List.of(cloud.accountId()));
        a.put("progress", s -> List.of(progress(s)));
        a.put("start-time", s -> List.of(s.startTime()));
        a.put("encrypted", s -> List.of("false"));
        this.filters = new Filters<>(a, SnapshotRecord::tags);
    }

    public void register(ActionRegistry registry) {
        registry.add(CreateSnapshotRequest.class, this::create)
                .add(DescribeSnapshotsRequest.class, this::describe)
                .add(DeleteSnapshotRequest.class, this::delete)
                .add(CopySnapshotRequest.class, this::copy)
                .add(CreateImageRequest.class, this::createImage);
    }

    private Path dir() {
        return cloud.imagesDir().resolveSibling("snapshots");
    }

    static SnapshotRecord find(CloudContext cloud, String snapshotId) {
        if (snapshotId == null || !Ids.SNAPSHOT.matcher(snapshotId).matches()) {
            throw Ec2Exception.client("InvalidSnapshotID.Malformed", "Invalid id: \"" + snapshotId + "\" (expecting \"snap-...\")");
        }
        return cloud.records().get(Keys.SNAPSHOT + snapshotId, SnapshotRecord.class).map(Versioned::value)
                .orElseThrow(() -> Ec2Exception.client("InvalidSnapshot.NotFound", "The snapshot '" + snapshotId + "' does not exist."));
    }

    private CreateSnapshotResponse create(CreateSnapshotRequest q) {
        if (q.volumeId() == null) throw Ec2Exception.missingParameter("VolumeId");
        VolumeBook book = cloud.fleet().volumes();
        book.get(q.volumeId());
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "snapshot");
        // The copy is announced before the volume is looked at again, so an attach cannot slip in unpaused.
        book.copying(q.volumeId(), true);
        SnapshotRecord made = null;
        try {
            VolumeRecord volume = book.get(q.volumeId());
            made = take(volume.volumeId(), volume.sizeGib(), Path.of(volume.file()), q.description(), tags, runningInstance(volume), true);
        } finally {
            if (made == null) book.copying(q.volumeId(), false);
        }
        return CreateSnapshotResponse.builder().snapshotId(made.snapshotId()).volumeId(made.volumeId()).volumeSize(made.volumeSizeGib())
                .state(made.state()).description(made.description()).startTime(Instant.parse(made.startTime())).progress(progress(made))
                .ownerId(cloud.accountId()).encrypted(false).tags(TagSupport.toSdk(made.tags())).build();
    }

    /**
     * The instance the volume is attached to, if its VMM runs (whatever the record's state: a stopping guest
     * still writes); its vCPUs are paused during the copy.
     */
    private String runningInstance(VolumeRecord volume) {
        if (volume.attachment() == null) return null;
        String id = volume.attachment().instanceId();
        return cloud.runtime().isRunning(id) ? id : null;
    }

    /**
     * Stores the snapshot as pending and answers with that record; the copy runs on a thread of its own, as
     * EC2's does, and the record becomes completed (or error) when it ends. A running instance is paused here,
     * before the answer, and resumed when the copy is whole: nothing the guest writes after the call is in it.
     * {@code fromVolume}: the caller announced the copy of {@code volumeId} ({@link VolumeBook#copying}); it is
     * over when the copy ends (a hot-attach or launch of the volume waits for it). On a refusal the caller ends it.
     */
    private SnapshotRecord take(String volumeId, int sizeGib, Path source, String description, Map<String, String> tags, String pauseInstance,
                                boolean fromVolume) {
        String id = Ids.next("snap");
        Path file = dir().resolve(id + ".raw");
        SnapshotRecord pending = new SnapshotRecord(id, volumeId, sizeGib, "pending", description, file.toString(),
                Instant.now(cloud.clock()).toString(), tags);
        try {
            Files.createDirectories(dir());
        } catch (IOException e) {
            throw Ec2Exception.internal("cannot make the snapshots folder: " + e.getMessage());
        }
        if (!cloud.records().store().putIfAbsent(Keys.SNAPSHOT + id, Records.encode(pending))) {
            throw Ec2Exception.internal("snapshot id " + id + " collided; retry");
        }
        VolumeBook book = cloud.fleet().volumes();
        try {
            if (pauseInstance != null) pause(pauseInstance);
        } catch (RuntimeException e) {
            cloud.records().get(Keys.SNAPSHOT + id, SnapshotRecord.class).ifPresent(v -> cloud.records().store().delete(v.entry()));
            throw e;
        }
        Thread.ofVirtual().name("flint-snapshot-" + id).start(() -> {
            try {
                copy(pending, source, pauseInstance);
            } finally {
                if (fromVolume) book.copying(volumeId, false);
            }
        });
        return pending;
    }

    /** The copy of one snapshot, off the request thread; the record says completed only once the file is whole. */
    private void copy(SnapshotRecord pending, Path source, String pausedInstance) {
        String id = pending.snapshotId();
        Path file = Path.of(pending.file());
        Snapshots.Method method;
        long started = System.nanoTime();
        try {
            try {
                method = Snapshots.cloneFile(source, file);
            } finally {
                if (pausedInstance != null) resume(pausedInstance);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warning("snapshot " + id + " of " + pending.volumeId() + " failed: " + e.getMessage());
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // the error state below is what the user sees
            }
            String why = "[flint: the copy failed: " + e.getMessage() + "]";
            settle(id, s -> s.failed(s.description().isEmpty() ? why : s.description() + " " + why));
            return;
        }
        long ms = (System.nanoTime() - started) / 1_000_000;
        String how = "[flint: " + method.label() + (pausedInstance == null ? "" : ", instance paused") + ", " + ms + " ms]";
        settle(id, s -> s.completed(s.description().isEmpty() ? how : s.description() + " " + how));
    }

    /** Moves a pending snapshot on (compare-and-set, retried: tags may change meanwhile). */
    private void settle(String id, java.util.function.UnaryOperator<SnapshotRecord> change) {
        for (int attempt = 0; attempt < 64; attempt++) {
            var current = cloud.records().get(Keys.SNAPSHOT + id, SnapshotRecord.class);
            if (current.isEmpty() || !current.get().value().state().equals("pending")) return;
            if (cloud.records().store().compareAndSet(current.get().entry(), Records.encode(change.apply(current.get().value())))) return;
        }
        LOG.warning("snapshot " + id + " could not be marked finished: the store kept changing under it");
    }

    /**
     * After a daemon restart: a snapshot that was pending when the daemon stopped lost its copy; it is marked
     * error (as EC2 marks a snapshot that could not be made) and its partial file removed.
     */
    public void settleInterrupted() {
        for (Versioned<SnapshotRecord> v : cloud.records().list(Keys.SNAPSHOT, SnapshotRecord.class)) {
            if (!v.value().state().equals("pending")) continue;
            try {
                Files.deleteIfExists(Path.of(v.value().file()));
            } catch (IOException e) {
                LOG.warning("cannot remove the partial file of snapshot " + v.value().snapshotId() + ": " + e.getMessage());
            }
            settle(v.value().snapshotId(), s -> s.failed(s.description() + (s.description().isEmpty() ? "" : " ")
                    + "[flint: the daemon stopped during the copy]"));
        }
    }

    /** EC2's Progress: 100% once completed; while pending, how far the copy has come (the file's length against the volume's). */
    private static String progress(SnapshotRecord s) {
        if (s.state().equals("completed")) return "100%";
        if (!s.state().equals("pending")) return "0%";
        try {
            long done = Files.size(Path.of(s.file()));
            long whole = Math.max(1, (long) s.volumeSizeGib() << 30);
            return Math.min(99, done * 100 / whole) + "%";
        } catch (IOException e) {
            return "0%"; // the copy has not made the file yet
        }
    }

    private void pause(String instanceId) {
        try {
            cloud.runtime().pause(instanceId);
        } catch (RuntimeFailure e) {
            throw Ec2Exception.client("IncorrectInstanceState", "Cannot take a crash-consistent snapshot: instance '" + instanceId
                    + "' could not be paused: " + e.getMessage());
        }
    }

    private void resume(String instanceId) {
        try {
            cloud.runtime().resume(instanceId);
        } catch (RuntimeFailure e) {
            LOG.warning("instance " + instanceId + " could not be resumed after a snapshot: " + e.getMessage());
        }
    }

    private DescribeSnapshotsResponse describe(DescribeSnapshotsRequest q) {
        if (!q.snapshotIds().isEmpty() && q.maxResults() != null) {
            throw Ec2Exception.client("InvalidParameterCombination", "The parameter snapshotSet cannot be used with the parameter maxResults");
        }
        List<SnapshotRecord> chosen = new ArrayList<>();
        if (q.snapshotIds().isEmpty()) {
            for (Versioned<SnapshotRecord> v : cloud.records().list(Keys.SNAPSHOT, SnapshotRecord.class)) chosen.add(v.value());
        } else {
            for (String id : new LinkedHashSet<>(q.snapshotIds())) chosen.add(find(cloud, id));
        }
        if (!q.ownerIds().isEmpty() && q.ownerIds().stream().noneMatch(o -> o.equals("self") || o.equals(cloud.accountId()))) chosen.clear();
        chosen = new ArrayList<>(filters.apply(q.filters(), chosen));
        chosen.sort(Comparator.comparing(SnapshotRecord::snapshotId));
        Paging.Page<SnapshotRecord> page = Paging.page(chosen, SnapshotRecord::snapshotId, q.maxResults(), q.nextToken(), 5, 1000);
        return DescribeSnapshotsResponse.builder().snapshots(page.items().stream().map(this::toSdk).toList()).nextToken(page.nextToken()).build();
    }

    private Snapshot toSdk(SnapshotRecord s) {
        return Snapshot.builder().snapshotId(s.snapshotId()).volumeId(s.volumeId()).volumeSize(s.volumeSizeGib()).state(s.state())
                .description(s.description()).startTime(Instant.parse(s.startTime())).progress(progress(s))
                .ownerId(cloud.accountId()).encrypted(false).storageTier("standard").tags(TagSupport.toSdk(s.tags())).build();
    }

    private DeleteSnapshotResponse delete(DeleteSnapshotRequest q) {
        if (q.snapshotId() == null) throw Ec2Exception.missingParameter("SnapshotId");
        SnapshotRecord s = find(cloud, q.snapshotId());
        if (s.state().equals("pending")) {
            throw Ec2Exception.client("IncorrectState", "The snapshot '" + s.snapshotId() + "' is " + s.state() + ".");
        }
        Versioned<SnapshotRecord> current = cloud.records().get(Keys.SNAPSHOT + s.snapshotId(), SnapshotRecord.class)
                .orElseThrow(() -> Ec2Exception.client("InvalidSnapshot.NotFound", "The snapshot '" + s.snapshotId() + "' does not exist."));
        if (!cloud.records().store().delete(current.entry())) {
            throw Ec2Exception.client("IncorrectState", "The snapshot '" + s.snapshotId() + "' changed while being deleted; retry");
        }
        try {
            Files.deleteIfExists(Path.of(s.file()));
        } catch (IOException e) {
            LOG.warning("cannot delete the file of snapshot " + s.snapshotId() + ": " + e.getMessage());
        }
        return DeleteSnapshotResponse.builder().build();
    }

    private CopySnapshotResponse copy(CopySnapshotRequest q) {
        if (q.sourceSnapshotId() == null) throw Ec2Exception.missingParameter("SourceSnapshotId");
        if (q.sourceRegion() == null) throw Ec2Exception.missingParameter("SourceRegion");
        if (!q.sourceRegion().equals(cloud.region())) {
            throw Ec2Exception.invalidParameter("The source region " + q.sourceRegion() + " is not this daemon's region " + cloud.region() + ".");
        }
        if (Boolean.TRUE.equals(q.encrypted())) throw Ec2Exception.invalidParameter("Flint snapshots are not encrypted.");
        SnapshotRecord source = find(cloud, q.sourceSnapshotId());
        if (!source.state().equals("completed")) {
            throw Ec2Exception.client("IncorrectState", "The snapshot '" + source.snapshotId() + "' is " + source.state() + ".");
        }
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "snapshot");
        String description = q.description() != null ? q.description()
                : "Copied for DestinationSnapshot from " + cloud.region() + ":" + source.snapshotId();
        SnapshotRecord made = take(source.volumeId(), source.volumeSizeGib(), Path.of(source.file()), description, tags, null, false);
        return CopySnapshotResponse.builder().snapshotId(made.snapshotId()).build();
    }

    /** An AMI from a stopped instance's root volume: the file is copied (reflink where possible) into the images. */
    private CreateImageResponse createImage(CreateImageRequest q) {
        if (q.instanceId() == null) throw Ec2Exception.missingParameter("InstanceId");
        if (q.name() == null) throw Ec2Exception.missingParameter("Name");
        InstanceActions.checkId(q.instanceId());
        InstanceRecord instance = cloud.fleet().find(q.instanceId()).map(Versioned::value)
                .orElseThrow(() -> Ec2Exception.client("InvalidInstanceID.NotFound", "The instance ID '" + q.instanceId() + "' does not exist"));
        if (instance.state() != InstanceState.STOPPED) {
            throw Ec2Exception.client("IncorrectInstanceState", "Instance '" + instance.instanceId() + "' is " + instance.state().wireName()
                    + ": Flint makes images from stopped instances only (stop it first; a running guest's file system is not at rest).");
        }
        if (!q.blockDeviceMappings().isEmpty()) {
            throw Ec2Exception.client("InvalidBlockDeviceMapping", "Flint images hold the root volume only; leave BlockDeviceMappings out.");
        }
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "image");
        Path root = Path.of(instance.rootVolume());
        ImageRecord image = new ImageActions(cloud).register(q.name(), q.description(), root,
                "instance:" + instance.instanceId(), tags);
        return CreateImageResponse.builder().imageId(image.imageId()).build();
    }

    /** The volume's snapshot file and its size, for CreateVolume and launch mappings from a snapshot. */
    static Path sourceFor(CloudContext cloud, String snapshotId, VolumeBook book) {
        SnapshotRecord s = find(cloud, snapshotId);
        if (!s.state().equals("completed")) throw Ec2Exception.client("IncorrectState", "The snapshot '" + snapshotId + "' is " + s.state() + ".");
        return Path.of(s.file());
    }
}
