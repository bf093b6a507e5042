package dev.flint.cloud.fleet;

import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.InstanceRuntime.LaunchSpec;
import dev.flint.cloud.compute.InstanceRuntime.RuntimeFailure;
import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.InstanceState;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.model.RunToken;
import dev.flint.cloud.model.VolumeRecord;
import dev.flint.cloud.model.VolumeState;
import dev.flint.cloud.store.CloudStore;
import dev.flint.cloud.store.CloudStore.Write;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The instance state machine. Every transition is written to the store (compare-and-set) before anything is
 * done about it, and the runtime's reports ({@link #booted}, {@link #exited}) drive the asynchronous halves:
 * <pre>
 *   pending --booted--> running --stop--> stopping --exited--> stopped --start--> pending
 *   any but terminated --terminate--> shutting-down --exited--> terminated (root volume deleted)
 * </pre>
 * A stop asks the guest to power off (ACPI) and kills the VMM if it has not after {@code stopTimeout};
 * {@code Force} kills at once. A reboot keeps the instance running: the VMM is shut down the same way and
 * launched again on the same volume and address.
 *
 * <p>Mutations are serialised by one lock (this host's control plane is the only writer it plans for; the
 * compare-and-set writes still refuse to overwrite anyone else's).
 */
public final class Fleet implements InstanceRuntime.Listener {
    private static final Logger LOG = Logger.getLogger(Fleet.class.getName());
    /** vCPUs of running instances may add up to this many times the host's cores, as KVM hosts overcommit. */
    public static final int VCPU_OVERCOMMIT = 4;
    private static final DateTimeFormatter REASON_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'GMT'").withZone(ZoneOffset.UTC);

    private final Records records;
    private final InstanceRuntime runtime;
    private final Path volumes;
    private final Clock clock;
    private final Duration stopTimeout;
    private final int hostCpus;
    private final ScheduledExecutorService executor;
    private final Object lock = new Object();
    /** Told when instances are made or terminated, so the security groups' member lists follow (before launches). */
    private volatile Runnable membershipChanged = () -> {};
    /** Instances whose volume is being prepared or whose VMM is being started (the runtime may not know them yet). */
    private final Set<String> launching = ConcurrentHashMap.newKeySet();
    /** Exits reported while the instance was {@link #launching}: handled once the launch has settled. */
    private final Set<String> exitedWhileLaunching = ConcurrentHashMap.newKeySet();
    private final VolumeBook volumeBook;
    /** Snapshot files that launch-time volumes of an instance are made from, until its launch made them. */
    private final Map<String, Path> pendingSources = new ConcurrentHashMap<>();

    public Fleet(Records records, InstanceRuntime runtime, Path volumes, Clock clock, Duration stopTimeout, int hostCpus,
            ScheduledExecutorService executor, String zone) {
        this.volumeBook = new VolumeBook(records, runtime, volumes, clock, lock, zone);
        this.records = records;
        this.runtime = runtime;
        this.volumes = volumes;
        this.clock = clock;
        this.stopTimeout = stopTimeout;
        this.hostCpus = hostCpus;
        this.executor = executor;
    }

    /** What one RunInstances asks for, validated by the handler. */
    public record RunPlan(String imageId, Path imageFile, String instanceType, int vcpus, int memoryMib, int minCount, int maxCount,
            String keyName, String publicKey, String userData, boolean tokensRequired, int rootVolumeGib, Map<String, String> tags,
            String clientToken, String requestDigest, List<String> securityGroupIds,
            // The root volume's DeleteOnTermination (EC2's default: true), and data volumes made at launch.
            boolean rootDeleteOnTermination, List<LaunchVolume> launchVolumes) {}

    /** A data volume a launch's block device mapping asks for: new and empty, or from a snapshot. */
    public record LaunchVolume(String device, VolumeBook.Plan plan, boolean deleteOnTermination) {}

    /** The EBS volumes: create, attach, detach, delete, and what each instance has. */
    public VolumeBook volumes() {
        return volumeBook;
    }


    public void onMembershipChange(Runnable action) {
        this.membershipChanged = action;
    }

    /** A failure here leaves the new or gone address without connections (the filter fails closed); the next change retries. */
    private void membershipChanged() {
        try {
            membershipChanged.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the security groups could not follow an instance change", e);
        }
    }

    public Optional<Versioned<InstanceRecord>> find(String instanceId) {
        return records.get(Keys.INSTANCE + instanceId, InstanceRecord.class);
    }

    public List<InstanceRecord> all() {
        List<InstanceRecord> out = new ArrayList<>();
        for (Versioned<InstanceRecord> v : records.list(Keys.INSTANCE, InstanceRecord.class)) out.add(v.value());
        return out;
    }

    public int vcpuCapacity() {
        return hostCpus * VCPU_OVERCOMMIT;
    }

    /**
     * Launches as many instances as fit, from {@code maxCount} down to {@code minCount}, in one reservation (all
     * records in one commit: nothing half made), or, for a known ClientToken, returns what that token made.
     */
    public List<InstanceRecord> run(RunPlan plan) {
        List<InstanceRecord> made = new ArrayList<>();
        synchronized (lock) {
            if (plan.clientToken() != null) {
                Optional<Versioned<RunToken>> earlier = records.get(Keys.RUN_TOKEN + plan.clientToken(), RunToken.class);
                if (earlier.isPresent()) return replay(earlier.get().value(), plan);
            }
            List<InstanceRecord> current = all();
            int count = fitting(current, plan);
            List<String> taken = new ArrayList<>();
            for (InstanceRecord r : current) if (r.state().holdsAddress()) taken.add(r.privateIp());
            String reservationId = Ids.next("r");
            String now = clock.instant().toString();
            List<Write> writes = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String ip = AddressPlan.lowestFree(taken).orElseThrow(() -> new Ec2Exception(500, "InsufficientFreeAddressesInSubnet",
                        "The subnet " + AddressPlan.SUBNET + " has no free addresses left."));
                taken.add(ip);
                String id = Ids.next("i");
                InstanceRecord record = new InstanceRecord(id, reservationId, plan.imageId(), plan.instanceType(), plan.vcpus(),
                        plan.memoryMib(), plan.keyName(), plan.publicKey(), InstanceState.PENDING, "", null, ip, AddressPlan.macFor(ip),
                        volumes.resolve(id + ".ext4").toString(), plan.rootVolumeGib(), plan.userData(), plan.tokensRequired(),
                        now, i, plan.clientToken(), plan.tags(), false, plan.securityGroupIds(), null);
                made.add(record);
                writes.add(Write.create(Keys.INSTANCE + id, Records.encode(record)));
                writes.addAll(launchVolumeWrites(record, plan, now));
            }
            if (plan.clientToken() != null) {
                writes.add(Write.create(Keys.RUN_TOKEN + plan.clientToken(), Records.encode(new RunToken(plan.clientToken(),
                        plan.requestDigest(), reservationId, made.stream().map(InstanceRecord::instanceId).toList()))));
            }
            // The groups are rewritten unchanged: a DeleteSecurityGroup racing with this launch fails its compare-and-set.
            for (String groupId : plan.securityGroupIds()) {
                CloudStore.Entry group = records.store().get(Keys.SECURITY_GROUP + groupId).orElseThrow(() -> Ec2Exception.client(
                        "InvalidGroup.NotFound", "The security group '" + groupId + "' does not exist"));
                writes.add(Write.update(group, group.value()));
            }
            if (!records.store().commit(writes)) throw Ec2Exception.internal("the store refused the new instances (a concurrent writer); retry");
            for (InstanceRecord r : made) launching.add(r.instanceId());
        }
        membershipChanged();
        for (InstanceRecord r : made) executor.execute(() -> prepareAndLaunch(r.instanceId(), plan.imageFile()));
        return made;
    }

    /** The instance's root volume record and the records of its launch-time data volumes (their files come at launch). */
    private List<Write> launchVolumeWrites(InstanceRecord instance, RunPlan plan, String now) {
        List<Write> writes = new ArrayList<>();
        int rootGib = plan.rootVolumeGib();
        if (rootGib == 0) {
            long bytes = 0;
            try {
                bytes = plan.imageFile() == null ? 0 : Files.size(plan.imageFile());
            } catch (IOException e) {
                // the copy at launch reports a missing image; the record just says 1 GiB
            }
            rootGib = (int) Math.max(1, (bytes + VolumeBook.GIB - 1) / VolumeBook.GIB);
        }
        String rootId = Ids.next("vol");
        VolumeRecord root = new VolumeRecord(rootId, rootGib, "gp3", volumeBook.zone(), null, VolumeState.IN_USE, instance.rootVolume(),
                now, null, Map.of(), new VolumeRecord.Attachment(instance.instanceId(), VolumeBook.ROOT_DEVICE, "attached", now,
                        plan.rootDeleteOnTermination(), true));
        writes.add(Write.create(Keys.VOLUME + rootId, Records.encode(root)));
        for (LaunchVolume lv : plan.launchVolumes()) {
            String id = Ids.next("vol");
            VolumeRecord v = volumeBook.newRecord(id, lv.plan(), new VolumeRecord.Attachment(instance.instanceId(), lv.device(), "attached", now,
                    lv.deleteOnTermination(), false));
            if (lv.plan().source() != null) pendingSources.put(id, lv.plan().source());
            writes.add(Write.create(Keys.VOLUME + id, Records.encode(v)));
        }
        return writes;
    }

    private int fitting(List<InstanceRecord> current, RunPlan plan) {
        long memory = 0;
        long vcpus = 0;
        for (InstanceRecord r : current) {
            if (r.state().holdsCapacity()) {
                memory += r.memoryMib();
                vcpus += r.vcpus();
            }
        }
        long byMemory = (runtime.memoryCapacityMib() - memory) / Math.max(1, plan.memoryMib());
        long byVcpus = (vcpuCapacity() - vcpus) / Math.max(1, plan.vcpus());
        long n = Math.min(plan.maxCount(), Math.min(byMemory, byVcpus));
        if (n < plan.minCount()) checkCapacity(current, plan.minCount() * (long) plan.memoryMib(), plan.minCount() * plan.vcpus());
        return (int) Math.max(n, plan.minCount());
    }

    private List<InstanceRecord> replay(RunToken token, RunPlan plan) {
        if (!token.requestDigest().equals(plan.requestDigest())) {
            throw Ec2Exception.client("IdempotentParameterMismatch", "The client token " + plan.clientToken()
                    + " was already used with different parameters.");
        }
        List<InstanceRecord> out = new ArrayList<>();
        for (String id : token.instanceIds()) find(id).ifPresent(v -> out.add(v.value()));
        return out;
    }

    private void checkCapacity(List<InstanceRecord> current, long extraMemoryMib, int extraVcpus) {
        long memory = 0;
        int vcpus = 0;
        for (InstanceRecord r : current) {
            if (r.state().holdsCapacity()) {
                memory += r.memoryMib();
                vcpus += r.vcpus();
            }
        }
        if (memory + extraMemoryMib > runtime.memoryCapacityMib()) {
            throw new Ec2Exception(500, "InsufficientInstanceCapacity", "There is not enough memory on this host: "
                    + extraMemoryMib + " MiB asked, " + Math.max(0, runtime.memoryCapacityMib() - memory) + " MiB of "
                    + runtime.memoryCapacityMib() + " MiB free.");
        }
        if (vcpus + extraVcpus > vcpuCapacity()) {
            throw new Ec2Exception(500, "InsufficientInstanceCapacity", "There are not enough vCPUs on this host: " + extraVcpus
                    + " asked, " + (vcpuCapacity() - vcpus) + " of " + vcpuCapacity() + " (" + hostCpus + " cores x "
                    + VCPU_OVERCOMMIT + ") free.");
        }
    }

    /** Copies the image to the instance's own volume (first launch only), then starts its VMM. */
    private void prepareAndLaunch(String instanceId, Path imageFile) {
        try {
            Optional<Versioned<InstanceRecord>> found = find(instanceId);
            if (found.isEmpty()) return;
            InstanceRecord record = found.get().value();
            Path volume = Path.of(record.rootVolume());
            if (imageFile != null && record.state() == InstanceState.PENDING && !Files.exists(volume)) {
                Volumes.copy(imageFile, volume, record.rootVolumeGib());
            }
            for (VolumeRecord v : volumeBook.attachedTo(instanceId)) {
                if (!v.attachment().root() && !Files.exists(Path.of(v.file()))) VolumeBook.makeFile(v, pendingSources.remove(v.volumeId()));
            }
            launch(instanceId);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "instance " + instanceId + " could not be launched", e);
            launchFailed(instanceId, e.getMessage());
        } finally {
            launching.remove(instanceId);
            settleAfterLaunch(instanceId);
        }
    }

    private void launch(String instanceId) {
        Optional<Versioned<InstanceRecord>> found = find(instanceId);
        if (found.isEmpty() || found.get().value().state() != InstanceState.PENDING && !found.get().value().rebootPending()) return;
        InstanceRecord r = found.get().value();
        try {
            List<InstanceRuntime.Disk> disks = volumeBook.launchDisks(instanceId);
            volumeBook.awaitCopies(disks.stream().map(InstanceRuntime.Disk::volumeId).toList());
            runtime.launch(new LaunchSpec(r.instanceId(), r.vcpus(), r.memoryMib(), Path.of(r.rootVolume()), disks,
                    r.privateIp(), r.macAddress()));
        } catch (RuntimeFailure e) {
            LOG.warning("instance " + instanceId + ": " + e.getMessage());
            launchFailed(instanceId, e.getMessage());
        }
    }

    /** A launch that failed leaves the instance stopped, its volume kept (a new one's copy is all it has). */
    private void launchFailed(String instanceId, String detail) {
        synchronized (lock) {
            transition(instanceId, r -> r.state() == InstanceState.PENDING || r.rebootPending()
                    ? r.withState(InstanceState.STOPPED, "Server.InternalError: " + detail, "Server.InternalError") : r);
        }
    }

    /** A stop or terminate that arrived while the VMM was being started is carried out now. */
    private void settleAfterLaunch(String instanceId) {
        if (exitedWhileLaunching.remove(instanceId) && !runtime.isRunning(instanceId)) {
            exited(instanceId, "the VMM ended during its launch");
            return;
        }
        Optional<Versioned<InstanceRecord>> found = find(instanceId);
        if (found.isEmpty()) return;
        InstanceState state = found.get().value().state();
        if (state == InstanceState.SHUTTING_DOWN || state == InstanceState.STOPPING) {
            if (runtime.isRunning(instanceId)) {
                if (state == InstanceState.SHUTTING_DOWN) runtime.kill(instanceId);
                else shutDownOrKill(instanceId, false);
            } else {
                exited(instanceId, "never started");
            }
        }
    }

    @Override
    public void booted(String instanceId) {
        synchronized (lock) {
            transition(instanceId, r -> r.state() == InstanceState.PENDING ? r.withState(InstanceState.RUNNING, "", null) : r);
        }
    }

    @Override
    public void exited(String instanceId, String detail) {
        exited(instanceId, detail, false);
    }

    /** A reboot from inside the guest: a running instance is launched again and stays running, as on EC2. */
    @Override
    public void reset(String instanceId, String detail) {
        exited(instanceId, detail, true);
    }

    private void exited(String instanceId, String detail, boolean guestReset) {
        boolean relaunch = false;
        Path deleteVolume = null;
        boolean terminated = false;
        synchronized (lock) {
            Optional<Versioned<InstanceRecord>> found = find(instanceId);
            if (found.isEmpty()) return;
            if (launching.contains(instanceId)) {
                exitedWhileLaunching.add(instanceId);
                return;
            }
            InstanceRecord r = found.get().value();
            String when = REASON_TIME.format(clock.instant());
            switch (r.state()) {
                case SHUTTING_DOWN -> {
                    // Volumes marked DeleteOnTermination go, the others become available; an instance from before
                    // volume records has only its root file. This comes before the state, since readers see the
                    // store without this lock: whoever sees "terminated" must also see the volumes released.
                    if (!volumeBook.released(instanceId)) deleteVolume = Path.of(r.rootVolume());
                    String at = clock.instant().toString();
                    transition(instanceId, x -> x.withState(InstanceState.TERMINATED, "User initiated (" + when + ")",
                            "Client.UserInitiatedShutdown").withTerminatedAt(at));
                    terminated = true;
                }
                case STOPPING -> transition(instanceId, x -> x.withState(InstanceState.STOPPED,
                        "User initiated (" + when + ")", "Client.UserInitiatedShutdown"));
                case PENDING, RUNNING -> {
                    if (r.rebootPending() || guestReset) {
                        // The launch below brings back a running instance only while a reboot is pending.
                        if (!r.rebootPending() && r.state() == InstanceState.RUNNING) transition(instanceId, x -> x.withReboot(true));
                        relaunch = true;
                    } else {
                        transition(instanceId, x -> x.withState(InstanceState.STOPPED, "Instance initiated shutdown ("
                                + when + "): " + detail, "Client.InstanceInitiatedShutdown"));
                    }
                }
                case STOPPED, TERMINATED -> { }
            }
            if (relaunch) launching.add(instanceId);
        }
        if (deleteVolume != null) Volumes.delete(deleteVolume);
        if (terminated) membershipChanged(); // it leaves its groups, and the packet filter forgets its address
        if (relaunch) {
            executor.execute(() -> {
                try {
                    launch(instanceId);
                    synchronized (lock) {
                        transition(instanceId, x -> x.rebootPending() ? x.withReboot(false) : x);
                    }
                } finally {
                    launching.remove(instanceId);
                    settleAfterLaunch(instanceId);
                }
            });
        }
    }

    /** The previous and current state of one instance after a Start/Stop/Terminate. */
    public record Change(String instanceId, InstanceState previous, InstanceState current) {}

    public List<Change> stop(List<String> ids, boolean force) {
        List<Change> changes = new ArrayList<>();
        synchronized (lock) {
            List<InstanceRecord> targets = existing(ids);
            for (InstanceRecord r : targets) {
                if (r.state() == InstanceState.SHUTTING_DOWN || r.state() == InstanceState.TERMINATED) {
                    throw incorrectState(r, "stopped");
                }
            }
            for (InstanceRecord r : targets) {
                InstanceRecord now = r;
                if (r.state() == InstanceState.PENDING || r.state() == InstanceState.RUNNING) {
                    now = transition(r.instanceId(), x -> x.withState(InstanceState.STOPPING, "", null));
                }
                changes.add(new Change(r.instanceId(), r.state(), now.state()));
            }
        }
        for (Change c : changes) {
            if (c.current() == InstanceState.STOPPING) stopVmm(c.instanceId(), force);
        }
        return changes;
    }

    private void stopVmm(String instanceId, boolean force) {
        if (launching.contains(instanceId)) return; // settleAfterLaunch carries it out
        if (!runtime.isRunning(instanceId)) {
            exited(instanceId, "not running");
            return;
        }
        shutDownOrKill(instanceId, force);
    }

    private void shutDownOrKill(String instanceId, boolean force) {
        if (force) {
            runtime.kill(instanceId);
            return;
        }
        runtime.requestShutdown(instanceId);
        executor.schedule(() -> {
            Optional<Versioned<InstanceRecord>> found = find(instanceId);
            if (found.isEmpty()) return;
            InstanceRecord r = found.get().value();
            boolean stillGoing = r.state() == InstanceState.STOPPING || r.state() == InstanceState.SHUTTING_DOWN || r.rebootPending();
            if (stillGoing && runtime.isRunning(instanceId)) {
                LOG.info("instance " + instanceId + " did not power off within " + stopTimeout.toSeconds() + " s: killing its VMM");
                runtime.kill(instanceId);
            }
        }, stopTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public List<Change> start(List<String> ids) {
        List<Change> changes = new ArrayList<>();
        List<String> toLaunch = new ArrayList<>();
        synchronized (lock) {
            List<InstanceRecord> targets = existing(ids);
            long memory = 0;
            int vcpus = 0;
            for (InstanceRecord r : targets) {
                if (r.state() == InstanceState.STOPPED) {
                    memory += r.memoryMib();
                    vcpus += r.vcpus();
                } else if (r.state() != InstanceState.RUNNING && r.state() != InstanceState.PENDING) {
                    throw incorrectState(r, "started");
                }
            }
            checkCapacity(all(), memory, vcpus);
            for (InstanceRecord r : targets) {
                InstanceRecord now = r;
                if (r.state() == InstanceState.STOPPED) {
                    now = transition(r.instanceId(), x -> x.withState(InstanceState.PENDING, "", null).withLaunchTime(clock.instant().toString()));
                    launching.add(r.instanceId());
                    toLaunch.add(r.instanceId());
                }
                changes.add(new Change(r.instanceId(), r.state(), now.state()));
            }
        }
        for (String id : toLaunch) executor.execute(() -> prepareAndLaunch(id, null));
        return changes;
    }

    public void reboot(List<String> ids) {
        List<String> toReboot = new ArrayList<>();
        synchronized (lock) {
            List<InstanceRecord> targets = existing(ids);
            for (InstanceRecord r : targets) {
                if (r.state() == InstanceState.TERMINATED || r.state() == InstanceState.SHUTTING_DOWN || r.state() == InstanceState.STOPPED
                        || r.state() == InstanceState.STOPPING) {
                    throw incorrectState(r, "rebooted");
                }
            }
            for (InstanceRecord r : targets) {
                if (r.state() == InstanceState.RUNNING && !r.rebootPending() && runtime.isRunning(r.instanceId())) {
                    transition(r.instanceId(), x -> x.withReboot(true));
                    toReboot.add(r.instanceId());
                }
            }
        }
        for (String id : toReboot) shutDownOrKill(id, false);
    }

    public List<Change> terminate(List<String> ids) {
        List<Change> changes = new ArrayList<>();
        synchronized (lock) {
            for (InstanceRecord r : existing(ids)) {
                InstanceRecord now = r;
                if (r.state() != InstanceState.TERMINATED && r.state() != InstanceState.SHUTTING_DOWN) {
                    now = transition(r.instanceId(), x -> x.withState(InstanceState.SHUTTING_DOWN, "", null));
                }
                changes.add(new Change(r.instanceId(), r.state(), now.state()));
            }
        }
        for (Change c : changes) {
            if (c.current() != InstanceState.SHUTTING_DOWN || launching.contains(c.instanceId())) continue;
            if (runtime.isRunning(c.instanceId())) runtime.kill(c.instanceId());
            else exited(c.instanceId(), "not running");
        }
        return changes;
    }

    public Optional<byte[]> consoleOutput(String instanceId) {
        return runtime.consoleOutput(instanceId);
    }

    /**
     * After a daemon restart: takes back the VMMs that still run and settles every record whose VMM is gone.
     * Running or pending instances whose VMM died while the daemon was down become stopped (volumes
     * intact); interrupted stops and terminations are finished.
     */
    public void reconcile() {
        Set<String> alive = Set.copyOf(runtime.adoptSurvivors());
        for (InstanceRecord r : all()) {
            boolean running = alive.contains(r.instanceId());
            switch (r.state()) {
                case PENDING, RUNNING -> {
                    if (!running) {
                        synchronized (lock) {
                            transition(r.instanceId(), x -> x.withState(InstanceState.STOPPED,
                                    "Server.InternalError: the VMM ended while the control plane was down", "Server.InternalError"));
                        }
                    } else if (r.rebootPending()) {
                        shutDownOrKill(r.instanceId(), false);
                    } else if (r.state() == InstanceState.PENDING) {
                        // The boot report may have come while nobody listened: a surviving VMM has booted or will
                        // report again; treat it as running rather than leave it pending forever.
                        booted(r.instanceId());
                    }
                }
                case STOPPING -> {
                    if (running) shutDownOrKill(r.instanceId(), false);
                    else exited(r.instanceId(), "ended while the control plane was down");
                }
                case SHUTTING_DOWN -> {
                    if (running) runtime.kill(r.instanceId());
                    else exited(r.instanceId(), "ended while the control plane was down");
                }
                case STOPPED, TERMINATED -> {
                    if (running) runtime.kill(r.instanceId()); // a VMM the records say should not exist
                }
            }
        }
        volumeBook.finishInterruptedDetaches();
    }

    /**
     * Forgets the instances terminated longer than {@code retention} before {@code now}: EC2 lists a terminated
     * instance for about an hour and then no longer knows its id. Their ClientTokens go once all the instances a
     * token made are forgotten, and the runtime drops their console logs. A record from before termination
     * times were kept gets one now, so its hour starts with this daemon. Returns the ids forgotten.
     */
    public List<String> forgetTerminated(Instant now, Duration retention) {
        List<String> forgotten = new ArrayList<>();
        synchronized (lock) {
            for (Versioned<InstanceRecord> v : records.list(Keys.INSTANCE, InstanceRecord.class)) {
                InstanceRecord r = v.value();
                if (r.state() != InstanceState.TERMINATED) continue;
                if (r.terminatedAt() == null) {
                    transition(r.instanceId(), x -> x.withTerminatedAt(now.toString()));
                } else if (!Instant.parse(r.terminatedAt()).plus(retention).isAfter(now) && records.store().delete(v.entry())) {
                    forgotten.add(r.instanceId());
                }
            }
            if (!forgotten.isEmpty()) {
                for (Versioned<RunToken> t : records.list(Keys.RUN_TOKEN, RunToken.class)) {
                    if (t.value().instanceIds().stream().noneMatch(id -> find(id).isPresent())) records.store().delete(t.entry());
                }
            }
        }
        for (String id : forgotten) runtime.forget(id);
        return forgotten;
    }

    private List<InstanceRecord> existing(List<String> ids) {
        List<InstanceRecord> out = new ArrayList<>();
        for (String id : ids) {
            out.add(find(id).orElseThrow(() -> Ec2Exception.client("InvalidInstanceID.NotFound",
                    "The instance ID '" + id + "' does not exist")).value());
        }
        return out;
    }

    private static Ec2Exception incorrectState(InstanceRecord r, String verb) {
        return Ec2Exception.client("IncorrectInstanceState", "The instance '" + r.instanceId() + "' is not in a state from which it can be "
                + verb + " (it is " + r.state().wireName() + ").");
    }

    /** Applies {@code change} to the stored record with compare-and-set, retrying if another writer got there first. */
    InstanceRecord transition(String instanceId, UnaryOperator<InstanceRecord> change) {
        for (int attempt = 0; attempt < 16; attempt++) {
            Optional<Versioned<InstanceRecord>> found = find(instanceId);
            if (found.isEmpty()) throw Ec2Exception.client("InvalidInstanceID.NotFound", "The instance ID '" + instanceId + "' does not exist");
            InstanceRecord next = change.apply(found.get().value());
            if (next.equals(found.get().value())) return next;
            CloudStore.Entry entry = found.get().entry();
            if (records.store().compareAndSet(entry, Records.encode(next))) return next;
        }
        throw Ec2Exception.internal("instance " + instanceId + " is being changed by another writer; retry");
    }

    /** Updates tags through the same compare-and-set path. */
    public void retag(String instanceId, UnaryOperator<Map<String, String>> change) {
        synchronized (lock) {
            transition(instanceId, r -> r.withTags(change.apply(r.tags())));
        }
    }
}
