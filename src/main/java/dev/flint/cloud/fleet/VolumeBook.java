package dev.flint.cloud.fleet;

import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.InstanceRuntime.Disk;
import dev.flint.cloud.compute.InstanceRuntime.RuntimeFailure;
import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.InstanceState;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.model.VolumeRecord;
import dev.flint.cloud.model.VolumeRecord.Attachment;
import dev.flint.cloud.model.VolumeState;
import dev.flint.cloud.store.CloudStore.Write;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * The EBS volume state machine. A volume is a sparse raw file in the data folder's {@code volumes/}; its record
 * goes {@code creating → available ⇄ in-use → deleting → deleted} (a deleted volume's record and file are gone).
 * Every transition is stored (compare-and-set) before it is acted on, and a refused request changes nothing:
 * all checks run before the first write.
 *
 * <p>Attaching to a stopped instance only records the attachment: the disk is in the machine from its next
 * start. Attaching to a running one asks the runtime to hot-plug it (an NVMe namespace on the instance's
 * controller); if the runtime cannot, the attachment is undone and the client gets {@code IncorrectInstanceState}
 * with the runtime's reason. Mutations share the instance state machine's lock, so a volume cannot be attached
 * while its instance is being started or terminated.
 */
public final class VolumeBook {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(VolumeBook.class.getName());
    /** EC2's device names for data volumes: /dev/sd[b-z] and /dev/xvd[b-z] (optionally one more letter). */
    static final Pattern DEVICE = Pattern.compile("/dev/(sd|xvd)[b-z][a-z]?|/dev/(sd|xvd)[b-z][1-9]|xvd[b-z][a-z]?");
    /** EC2's gp2/gp3 limits (GiB); sparse files cost nothing until written, so the cap is about sanity. */
    public static final int MAX_GIB = 16 * 1024;
    /** The root volume's device in the guest (the first virtio-blk disk). */
    public static final String ROOT_DEVICE = "/dev/vda";
    static final long GIB = 1L << 30;

    private final Records records;
    private final InstanceRuntime runtime;
    private final Path dir;
    private final Clock clock;
    private final Object lock;
    private final String zone;
    /** Snapshot copies running per volume id (its own monitor: a copy never takes the state machine's lock). */
    private final Map<String, Integer> copies = new java.util.HashMap<>();

    VolumeBook(Records records, InstanceRuntime runtime, Path dir, Clock clock, Object lock, String zone) {
        this.records = records;
        this.runtime = runtime;
        this.dir = dir;
        this.clock = clock;
        this.lock = lock;
        this.zone = zone;
    }

    public String zone() { return zone; }

    /** What one CreateVolume (or a launch's block device mapping) asks for; {@code source} is a snapshot's file or null. */
    public record Plan(int sizeGib, String volumeType, String snapshotId, Path source, Map<String, String> tags, String clientToken) {}

    public Optional<Versioned<VolumeRecord>> find(String volumeId) {
        return records.get(Keys.VOLUME + volumeId, VolumeRecord.class);
    }

    public VolumeRecord get(String volumeId) {
        checkId(volumeId);
        return find(volumeId).map(Versioned::value).orElseThrow(() -> notFound(volumeId));
    }

    public List<VolumeRecord> all() {
        List<VolumeRecord> out = new ArrayList<>();
        for (Versioned<VolumeRecord> v : records.list(Keys.VOLUME, VolumeRecord.class)) out.add(v.value());
        return out;
    }

    /** The volumes attached to {@code instanceId}, root first, then by attach time (the order the guest sees them). */
    public List<VolumeRecord> attachedTo(String instanceId) {
        List<VolumeRecord> out = new ArrayList<>();
        for (VolumeRecord v : all()) if (v.attachedTo(instanceId)) out.add(v);
        out.sort(Comparator.comparing((VolumeRecord v) -> !v.attachment().root()).thenComparing(v -> v.attachment().attachTime())
                .thenComparing(VolumeRecord::volumeId));
        return out;
    }

    /** The data volumes (not the root) to give a machine at launch. */
    public List<Disk> launchDisks(String instanceId) {
        List<Disk> out = new ArrayList<>();
        for (VolumeRecord v : attachedTo(instanceId)) if (!v.attachment().root()) out.add(disk(v));
        return out;
    }

    static Disk disk(VolumeRecord v) {
        return new Disk(v.volumeId(), Path.of(v.file()));
    }

    /** A new volume: stored as creating, its file made (empty and sparse, or a copy of the snapshot), then available. */
    public VolumeRecord create(Plan plan) {
        String id;
        VolumeRecord creating;
        synchronized (lock) {
            if (plan.clientToken() != null) {
                Optional<Versioned<VolumeRecord>> earlier = records.get(Keys.VOLUME_TOKEN + plan.clientToken(), VolumeRecord.class);
                if (earlier.isPresent()) return find(earlier.get().value().volumeId()).map(Versioned::value).orElse(earlier.get().value());
            }
            id = Ids.next("vol");
            creating = newRecord(id, plan, null);
            List<Write> writes = new ArrayList<>();
            writes.add(Write.create(Keys.VOLUME + id, Records.encode(creating)));
            if (plan.clientToken() != null) writes.add(Write.create(Keys.VOLUME_TOKEN + plan.clientToken(), Records.encode(creating)));
            if (!records.store().commit(writes)) throw Ec2Exception.internal("the store refused the new volume (a concurrent writer); retry");
        }
        try {
            makeFile(creating, plan.source());
        } catch (IOException | RuntimeException e) {
            synchronized (lock) {
                find(id).ifPresent(v -> records.store().delete(v.entry()));
            }
            Volumes.delete(Path.of(creating.file()));
            throw Ec2Exception.internal("cannot make the file of volume " + id + ": " + e.getMessage());
        }
        synchronized (lock) {
            update(id, v -> v.state() == VolumeState.CREATING ? v.withState(VolumeState.AVAILABLE) : v);
        }
        return creating;
    }

    /** A record for a new volume, attached already when {@code attachment} is given (a launch's mappings). */
    VolumeRecord newRecord(String id, Plan plan, Attachment attachment) {
        return new VolumeRecord(id, plan.sizeGib(), plan.volumeType() == null ? "gp3" : plan.volumeType(), zone, plan.snapshotId(),
                attachment == null ? VolumeState.CREATING : VolumeState.IN_USE, dir.resolve(id + ".raw").toString(),
                clock.instant().toString(), plan.clientToken(), plan.tags(), attachment);
    }

    /**
     * Makes the volume's file: a copy of the snapshot (reflinked where the file system can) grown to the size,
     * or a new sparse file. A new file is always new: no block of an earlier volume can show through.
     */
    static void makeFile(VolumeRecord v, Path source) throws IOException {
        Path file = Path.of(v.file());
        Files.createDirectories(file.getParent());
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        if (source != null) Snapshots.cloneFile(source, partial);
        try (RandomAccessFile f = new RandomAccessFile(partial.toFile(), "rw")) {
            long want = v.sizeGib() * GIB;
            if (f.length() < want) f.setLength(want);
        }
        Files.move(partial, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Marks a snapshot's copy of the volume's file as running ({@code on}) or done. Until every copy of a volume
     * is done, a hot-attach or a launch with it waits, so no guest writes into the file under a copy (a snapshot
     * holds the data of its call, nothing later).
     */
    public void copying(String volumeId, boolean on) {
        // Started under the state machine's lock, so an attach that checked for copies under it cannot cross one.
        if (on) {
            synchronized (lock) {
                synchronized (copies) {
                    copies.merge(volumeId, 1, Integer::sum);
                }
            }
            return;
        }
        synchronized (copies) {
            copies.merge(volumeId, on ? 1 : -1, (a, b) -> a + b == 0 ? null : a + b);
            if (!on) copies.notifyAll();
        }
    }

    /** Waits until no snapshot copy of these volumes runs (copies end on their own: a failed one ends too). */
    void awaitCopies(java.util.Collection<String> volumeIds) {
        synchronized (copies) {
            try {
                while (volumeIds.stream().anyMatch(copies::containsKey)) copies.wait(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Ec2Exception.internal("interrupted while a snapshot of the volume was being copied; retry");
            }
        }
    }

    public VolumeRecord attach(String volumeId, String instanceId, String device) {
        while (true) {
            awaitCopies(List.of(volumeId));
            synchronized (lock) {
                boolean copied;
                synchronized (copies) {
                    copied = copies.containsKey(volumeId);
                }
                if (!copied) return attachLocked(volumeId, instanceId, device);
            }
        }
    }

    private VolumeRecord attachLocked(String volumeId, String instanceId, String device) {
        Disk hotPlug;
        VolumeRecord attaching;
        {
            VolumeRecord v = get(volumeId);
            InstanceRecord instance = instance(instanceId);
            checkDevice(device);
            if (v.state() != VolumeState.AVAILABLE) {
                throw Ec2Exception.client(v.state() == VolumeState.IN_USE ? "VolumeInUse" : "IncorrectState",
                        v.state() == VolumeState.IN_USE ? "vol '" + volumeId + "' is already attached to an instance"
                                : "The volume '" + volumeId + "' is '" + v.state().wireName() + "', not 'available'");
            }
            if (!v.availabilityZone().equals(zone)) {
                throw Ec2Exception.invalidParameter("Volume '" + volumeId + "' is in " + v.availabilityZone() + ", instance '"
                        + instanceId + "' in " + zone + ": both must be in the same Availability Zone.");
            }
            for (VolumeRecord other : attachedTo(instanceId)) {
                if (sameDevice(other.attachment().device(), device)) {
                    throw Ec2Exception.invalidParameter("Invalid value '" + device + "' for unixDevice. Attachment point " + device
                            + " is already in use");
                }
            }
            boolean running = instance.state() == InstanceState.RUNNING;
            if (!running && instance.state() != InstanceState.STOPPED) {
                throw Ec2Exception.client("IncorrectInstanceState", "Instance '" + instanceId + "' is " + instance.state().wireName()
                        + ": volumes attach to running or stopped instances.");
            }
            Attachment a = new Attachment(instanceId, device, running ? "attaching" : "attached", clock.instant().toString(), false, false);
            attaching = update(volumeId, x -> x.withAttachment(a));
            hotPlug = running ? disk(attaching) : null;
            if (hotPlug != null) {
                // The VMM answers within the API call; holding the lock keeps a stop or terminate from crossing it.
                try {
                    runtime.attachVolume(instanceId, hotPlug);
                } catch (RuntimeFailure e) {
                    update(volumeId, x -> x.attachedTo(instanceId) ? x.withAttachment(null) : x);
                    throw Ec2Exception.client("IncorrectInstanceState", "Volume '" + volumeId + "' cannot be attached to running instance '"
                            + instanceId + "': " + e.getMessage());
                }
                return update(volumeId, x -> x.attachedTo(instanceId) ? x.withAttachment(x.attachment().withState("attached")) : x);
            }
            return attaching;
        }
    }

    /**
     * Detaches a data volume. From a stopped instance only the record changes. From a running one the attachment
     * is stored as {@code detaching} and the answer goes back at once, as on EC2. Without {@code force} the guest
     * is asked to eject the volume's NVMe controller, and the volume stays {@code in-use} / {@code detaching}
     * until it did and the VMM closed the file, for as long as that takes (docs/cloud-ebs.md); with {@code force}
     * (also while such a detach waits) the VMM removes it at once. Only once the VMM has closed the file (or is
     * gone) does the volume become {@code available}. If the VMM refuses while it still runs, the attachment goes
     * back to {@code attached}. The root volume is never detached while its instance exists.
     */
    public VolumeRecord detach(String volumeId, String instanceId, String device, boolean force) {
        synchronized (lock) {
            VolumeRecord v = get(volumeId);
            if (v.attachment() == null) {
                throw Ec2Exception.client("IncorrectState", "Volume '" + volumeId + "' is in the '" + v.state().wireName() + "' state.");
            }
            Attachment a = v.attachment();
            if (instanceId != null) {
                instance(instanceId);
                if (!a.instanceId().equals(instanceId)) {
                    throw Ec2Exception.client("InvalidAttachment.NotFound", "The volume '" + volumeId + "' is not attached to instance '" + instanceId + "'");
                }
            }
            if (device != null && !sameDevice(device, a.device())) {
                throw Ec2Exception.client("InvalidAttachment.NotFound", "The volume '" + volumeId + "' is not attached at " + device);
            }
            if (a.root()) {
                throw Ec2Exception.client("OperationNotPermitted", "Volume '" + volumeId + "' is the root device of instance '" + a.instanceId()
                        + "'; it cannot be detached while the instance exists.");
            }
            InstanceRecord instance = instanceRecord(a.instanceId());
            InstanceState state = instance == null ? InstanceState.TERMINATED : instance.state();
            boolean running = state == InstanceState.RUNNING;
            if (a.state().equals("detaching")) {
                if (!force || !running) {
                    throw Ec2Exception.client("IncorrectState", "Volume '" + volumeId + "' is already detaching from instance '"
                            + a.instanceId() + "'" + (running ? " (the guest has not released it yet; Force removes it at once)." : "."));
                }
                // Force while the guest holds a plain detach up: the VMM removes the device now, and the detach
                // already waiting sees it gone and makes the volume available.
                VolumeRecord disk = v;
                Thread.ofVirtual().name("flint-force-detach-" + volumeId).start(() -> forceWhileDetaching(volumeId, disk));
                return v;
            }
            if (!running && state != InstanceState.STOPPED && state != InstanceState.TERMINATED) {
                throw Ec2Exception.client("IncorrectInstanceState", "Instance '" + a.instanceId() + "' is " + state.wireName()
                        + ": volumes detach from running or stopped instances.");
            }
            if (!running) {
                update(volumeId, x -> x.withAttachment(null));
                return v.withAttachment(a.withState("detaching"));
            }
            VolumeRecord detaching = update(volumeId, x -> x.withAttachment(a.withState("detaching")));
            Thread.ofVirtual().name("flint-detach-" + volumeId).start(() -> finishDetach(volumeId, a, force));
            return detaching;
        }
    }

    /**
     * The VMM side of a detach from a running instance, off the request thread and outside the state machine's
     * lock (a slow VMM must not hold up other requests; while the attachment is detaching nothing else can use
     * the volume, and a stop or terminate meanwhile ends the VMM, which lets go of the file too). The record says
     * {@code available} only after the VMM has closed the file or its process is gone; a refusal from a VMM that
     * still runs puts the attachment back.
     */
    private void finishDetach(String volumeId, Attachment a, boolean force) {
        Attachment detaching = a.withState("detaching");
        VolumeRecord v;
        synchronized (lock) {
            v = find(volumeId).map(Versioned::value).orElse(null);
            if (v == null || v.attachment() == null || !v.attachment().equals(detaching)) return; // terminate released it meanwhile
        }
        boolean released;
        try {
            if (force) runtime.forceDetachVolume(a.instanceId(), disk(v));
            else runtime.detachVolume(a.instanceId(), disk(v));
            released = true;
        } catch (RuntimeFailure e) {
            released = !runtime.isRunning(a.instanceId()); // the VMM process is gone: it holds nothing any more
            if (!released) LOG.warning("volume " + volumeId + " stays attached to " + a.instanceId() + ": the VMM refused to detach it: " + e.getMessage());
        } catch (RuntimeException e) {
            released = false;
            LOG.log(java.util.logging.Level.WARNING, "volume " + volumeId + " stays attached to " + a.instanceId(), e);
        }
        boolean done = released;
        synchronized (lock) {
            if (find(volumeId).isEmpty()) return;
            update(volumeId, x -> x.attachment() == null || !x.attachment().equals(detaching) ? x
                    : x.withAttachment(done ? null : a.withState("attached")));
        }
    }

    /**
     * A forced DetachVolume of a volume whose plain detach waits for the guest: the VMM removes it at once. The
     * waiting detach then returns and stores the volume {@code available}; a refusal is only logged (the volume
     * stays {@code detaching}, the plain detach still waiting).
     */
    private void forceWhileDetaching(String volumeId, VolumeRecord v) {
        try {
            runtime.forceDetachVolume(v.attachment().instanceId(), disk(v));
        } catch (RuntimeFailure | RuntimeException e) {
            LOG.warning("volume " + volumeId + ": the forced detach from " + v.attachment().instanceId() + " failed: " + e.getMessage());
        }
    }

    /** After a daemon restart: detaches that were under way when the daemon stopped are carried out now. */
    void finishInterruptedDetaches() {
        for (VolumeRecord v : all()) {
            if (v.attachment() != null && v.attachment().state().equals("detaching")) finishDetach(v.volumeId(), v.attachment().withState("attached"), false);
        }
    }

    /** Deletes an available volume: deleting is stored, the file removed, then the record (deleted). */
    public VolumeRecord delete(String volumeId) {
        VolumeRecord deleting;
        synchronized (lock) {
            VolumeRecord v = get(volumeId);
            if (v.state() != VolumeState.AVAILABLE) {
                throw Ec2Exception.client(v.state() == VolumeState.IN_USE ? "VolumeInUse" : "IncorrectState",
                        "Volume " + volumeId + " is " + v.state().wireName() + (v.attachment() == null ? "" : " (attached to "
                                + v.attachment().instanceId() + ")"));
            }
            deleting = update(volumeId, x -> x.withState(VolumeState.DELETING));
        }
        removeFile(deleting);
        synchronized (lock) {
            find(volumeId).ifPresent(x -> records.store().delete(x.entry()));
        }
        return deleting;
    }

    private static void removeFile(VolumeRecord v) {
        try {
            Files.deleteIfExists(Path.of(v.file()));
        } catch (IOException e) {
            throw Ec2Exception.internal("cannot delete the file of volume " + v.volumeId() + ": " + e.getMessage());
        }
    }

    /**
     * Grows a volume (shrinking is refused, as on EC2). The file grows at once. A data volume attached to a
     * running instance is announced to its VMM, whose NVMe namespace takes the new size and tells the guest
     * (Linux's block device grows without a reboot); the root volume (virtio-blk) and stopped instances see it
     * at their next start. The file system on it is the guest's to grow.
     */
    public VolumeRecord grow(String volumeId, Integer sizeGib, String volumeType) {
        synchronized (lock) {
            VolumeRecord v = get(volumeId);
            if (v.state() != VolumeState.AVAILABLE && v.state() != VolumeState.IN_USE) {
                throw Ec2Exception.client("IncorrectState", "Volume " + volumeId + " is " + v.state().wireName());
            }
            int size = sizeGib == null ? v.sizeGib() : sizeGib;
            if (size < v.sizeGib()) {
                throw Ec2Exception.invalidParameter("New size (" + size + ") cannot be smaller than existing size (" + v.sizeGib() + ")");
            }
            if (size > MAX_GIB) throw Ec2Exception.invalidParameter("Volume size " + size + " GiB exceeds the maximum of " + MAX_GIB);
            if (sizeGib == null && volumeType == null) {
                throw Ec2Exception.client("MissingParameter", "At least one of Size, VolumeType, Iops or Throughput is required");
            }
            if (size > v.sizeGib()) {
                try (RandomAccessFile f = new RandomAccessFile(v.file(), "rw")) {
                    if (f.length() < size * GIB) f.setLength(size * GIB);
                } catch (IOException e) {
                    throw Ec2Exception.internal("cannot grow volume " + volumeId + ": " + e.getMessage());
                }
            }
            VolumeRecord after = update(volumeId, x -> {
                VolumeRecord grown = x.withSize(size);
                return volumeType == null ? grown : new VolumeRecord(grown.volumeId(), grown.sizeGib(), volumeType, grown.availabilityZone(),
                        grown.snapshotId(), grown.state(), grown.file(), grown.createTime(), grown.clientToken(), grown.tags(), grown.attachment());
            });
            Attachment a = v.attachment();
            if (size > v.sizeGib() && a != null && !a.root() && a.state().equals("attached") && runtime.isRunning(a.instanceId())) {
                try {
                    runtime.resizeVolume(a.instanceId(), disk(after));
                } catch (RuntimeFailure e) {
                    // The file and the record have grown; the guest takes the size at its next start.
                    LOG.warning("volume " + volumeId + " grew to " + size + " GiB, but instance " + a.instanceId()
                            + " sees it only after its next start: " + e.getMessage());
                }
            }
            return after;
        }
    }

    public void retag(String volumeId, UnaryOperator<Map<String, String>> change) {
        synchronized (lock) {
            update(volumeId, v -> v.withTags(change.apply(v.tags())));
        }
    }

    /**
     * A terminated instance's volumes: those marked DeleteOnTermination (the root by default) are deleted with
     * their files, the others become available. Returns whether a root volume record was there.
     */
    boolean released(String instanceId) {
        boolean root = false;
        for (VolumeRecord v : attachedTo(instanceId)) {
            root |= v.attachment().root();
            if (v.attachment().deleteOnTermination()) {
                update(v.volumeId(), x -> x.withState(VolumeState.DELETING));
                Volumes.delete(Path.of(v.file()));
                find(v.volumeId()).ifPresent(x -> records.store().delete(x.entry()));
            } else {
                update(v.volumeId(), x -> x.withAttachment(null));
            }
        }
        return root;
    }

    /** Applies {@code change} with compare-and-set, retrying if another writer got there first. */
    VolumeRecord update(String volumeId, UnaryOperator<VolumeRecord> change) {
        for (int attempt = 0; attempt < 16; attempt++) {
            Versioned<VolumeRecord> current = find(volumeId).orElseThrow(() -> notFound(volumeId));
            VolumeRecord next = change.apply(current.value());
            if (next.equals(current.value())) return next;
            if (records.store().compareAndSet(current.entry(), Records.encode(next))) return next;
        }
        throw Ec2Exception.internal("volume " + volumeId + " is being changed by another writer; retry");
    }

    private InstanceRecord instanceRecord(String instanceId) {
        return records.get(Keys.INSTANCE + instanceId, InstanceRecord.class).map(Versioned::value).orElse(null);
    }

    private InstanceRecord instance(String instanceId) {
        if (instanceId == null || !Ids.INSTANCE.matcher(instanceId).matches()) {
            throw Ec2Exception.client("InvalidInstanceID.Malformed", "Invalid id: \"" + instanceId + "\" (expecting \"i-...\")");
        }
        InstanceRecord r = instanceRecord(instanceId);
        if (r == null || r.state() == InstanceState.TERMINATED) {
            throw Ec2Exception.client("InvalidInstanceID.NotFound", "The instance ID '" + instanceId + "' does not exist");
        }
        return r;
    }

    public static void checkId(String volumeId) {
        if (volumeId == null || !Ids.VOLUME.matcher(volumeId).matches()) {
            throw Ec2Exception.client("InvalidVolumeID.Malformed", "Invalid id: \"" + volumeId + "\" (expecting \"vol-...\")");
        }
    }

    static Ec2Exception notFound(String volumeId) {
        return Ec2Exception.client("InvalidVolume.NotFound", "The volume '" + volumeId + "' does not exist.");
    }

    public static void checkDevice(String device) {
        if (device == null) throw Ec2Exception.missingParameter("Device");
        if (!DEVICE.matcher(device).matches()) {
            throw Ec2Exception.invalidParameter("Invalid value '" + device + "' for unixDevice. Expected /dev/sd[b-z] or /dev/xvd[b-z].");
        }
    }

    /** /dev/sdf and /dev/xvdf name the same attachment point, as on EC2's Xen-era naming. */
    static boolean sameDevice(String a, String b) {
        return canonical(a).equals(canonical(b));
    }

    private static String canonical(String device) {
        String d = device.startsWith("/dev/") ? device.substring(5) : device;
        if (d.startsWith("xvd")) d = d.substring(3);
        else if (d.startsWith("sd")) d = d.substring(2);
        else if (d.startsWith("vd")) d = d.substring(2);
        return d;
    }

    /** Runs {@code body} under the state machine's lock (for the launch path). */
    <T> T locked(Supplier<T> body) {
        synchronized (lock) {
            return body.get();
        }
    }
}
