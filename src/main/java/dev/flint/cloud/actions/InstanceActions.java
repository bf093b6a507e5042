package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.AddressPlan;
import dev.flint.cloud.fleet.Fleet;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.model.ImageRecord;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.InstanceTypes;
import dev.flint.cloud.model.KeyPairRecord;
import dev.flint.cloud.model.Keys;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.DescribeInstanceStatusRequest;
import software.amazon.awssdk.services.ec2.model.DescribeInstanceStatusResponse;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesResponse;
import software.amazon.awssdk.services.ec2.model.GetConsoleOutputRequest;
import software.amazon.awssdk.services.ec2.model.GetConsoleOutputResponse;
import software.amazon.awssdk.services.ec2.model.EbsInstanceBlockDevice;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceBlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.InstanceMetadataOptionsResponse;
import software.amazon.awssdk.services.ec2.model.InstanceStateChange;
import software.amazon.awssdk.services.ec2.model.InstanceStatus;
import software.amazon.awssdk.services.ec2.model.InstanceStatusDetails;
import software.amazon.awssdk.services.ec2.model.InstanceStatusSummary;
import software.amazon.awssdk.services.ec2.model.Placement;
import software.amazon.awssdk.services.ec2.model.RebootInstancesRequest;
import software.amazon.awssdk.services.ec2.model.RebootInstancesResponse;
import software.amazon.awssdk.services.ec2.model.Reservation;
import software.amazon.awssdk.services.ec2.model.RunInstancesRequest;
import software.amazon.awssdk.services.ec2.model.RunInstancesResponse;
import software.amazon.awssdk.services.ec2.model.StartInstancesRequest;
import software.amazon.awssdk.services.ec2.model.StartInstancesResponse;
import software.amazon.awssdk.services.ec2.model.StateReason;
import software.amazon.awssdk.services.ec2.model.StopInstancesRequest;
import software.amazon.awssdk.services.ec2.model.StopInstancesResponse;
import software.amazon.awssdk.services.ec2.model.TerminateInstancesRequest;
import software.amazon.awssdk.services.ec2.model.TerminateInstancesResponse;

/** RunInstances, DescribeInstances, DescribeInstanceStatus, Start/Stop/Reboot/TerminateInstances, GetConsoleOutput. */
public final class InstanceActions {
    /** EC2's limit on user data, decoded. */
    static final int MAX_USER_DATA = 16 * 1024;
    /** Root volume sizes a client may ask for (GiB); volumes are sparse files, so the cap is about sanity. */
    static final int MAX_ROOT_GIB = 16 * 1024;
    static final String DEFAULT_TYPE = "t3.micro";

    private final CloudContext cloud;
    private final Filters<InstanceRecord> instanceFilters;

    public InstanceActions(CloudContext cloud) {
        this.cloud = cloud;
        Map<String, Function<InstanceRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("instance-id", r -> List.of(r.instanceId()));
        a.put("instance-state-name", r -> List.of(r.state().wireName()));
        a.put("instance-state-code", r -> List.of(String.valueOf(r.state().code())));
        a.put("instance-type", r -> List.of(r.instanceType()));
        a.put("image-id", r -> List.of(r.imageId()));
        a.put("key-name", r -> r.keyName() == null ? List.of() : List.of(r.keyName()));
        a.put("private-ip-address", r -> List.of(r.privateIp()));
        a.put("private-dns-name", r -> List.of(hostname(r)));
        a.put("reservation-id", r -> List.of(r.reservationId()));
        a.put("availability-zone", r -> List.of(cloud.availabilityZone()));
        a.put("launch-index", r -> List.of(String.valueOf(r.launchIndex())));
        a.put("client-token", r -> r.clientToken() == null ? List.of() : List.of(r.clientToken()));
        a.put("owner-id", r -> List.of(cloud.accountId()));
        a.put("instance.group-id", r -> SecurityGroupActions.identifiers(cloud, r).stream().map(g -> g.groupId()).toList());
        a.put("instance.group-name", r -> SecurityGroupActions.identifiers(cloud, r).stream().map(g -> g.groupName()).toList());
        a.put("metadata-options.http-tokens", r -> List.of(r.tokensRequired() ? "required" : "optional"));
        this.instanceFilters = new Filters<>(a, InstanceRecord::tags);
    }

    public void register(ActionRegistry registry) {
        registry.add(RunInstancesRequest.class, this::run)
                .add(DescribeInstancesRequest.class, this::describe)
                .add(DescribeInstanceStatusRequest.class, this::describeStatus)
                .add(StartInstancesRequest.class, this::start)
                .add(StopInstancesRequest.class, this::stop)
                .add(RebootInstancesRequest.class, this::reboot)
                .add(TerminateInstancesRequest.class, this::terminate)
                .add(GetConsoleOutputRequest.class, this::consoleOutput);
    }

    private RunInstancesResponse run(RunInstancesRequest q) {
        if (q.imageId() == null) throw Ec2Exception.missingParameter("ImageId");
        if (q.minCount() == null) throw Ec2Exception.missingParameter("MinCount");
        if (q.maxCount() == null) throw Ec2Exception.missingParameter("MaxCount");
        if (q.minCount() < 1) throw Ec2Exception.invalidParameter("Value (" + q.minCount() + ") for parameter minCount is invalid. Expected a positive integer.");
        if (q.maxCount() < q.minCount()) throw Ec2Exception.invalidParameter("Value (" + q.maxCount() + ") for parameter maxCount is invalid. Expected a value >= minCount.");
        if (q.minCount() > 4093) throw Ec2Exception.client("InstanceLimitExceeded", "You have requested more instances (" + q.minCount() + ") than this host's subnet holds.");
        ImageRecord image = ImageActions.findImage(cloud, q.imageId());
        String typeName = q.instanceTypeAsString() == null ? DEFAULT_TYPE : q.instanceTypeAsString();
        InstanceTypes.Shape shape = InstanceTypeActions.usableShape(cloud, typeName);
        String keyName = q.keyName();
        String publicKey = null;
        if (keyName != null) {
            publicKey = cloud.records().get(Keys.KEY_PAIR + keyName, KeyPairRecord.class).map(v -> v.value().publicKey())
                    .orElseThrow(() -> Ec2Exception.client("InvalidKeyPair.NotFound", "The key pair '" + keyName + "' does not exist"));
        }
        String userData = checkUserData(q.userData());
        boolean tokensRequired = false;
        if (q.metadataOptions() != null && q.metadataOptions().httpTokensAsString() != null) {
            String tokens = q.metadataOptions().httpTokensAsString();
            if (!tokens.equals("required") && !tokens.equals("optional")) {
                throw Ec2Exception.invalidParameter("Value (" + tokens + ") for parameter MetadataOptions.HttpTokens is invalid. Expected 'required' or 'optional'.");
            }
            tokensRequired = tokens.equals("required");
        }
        int rootGib = rootVolumeGib(q.blockDeviceMappings(), image);
        boolean rootDeleteOnTermination = rootDeleteOnTermination(q.blockDeviceMappings());
        List<Fleet.LaunchVolume> launchVolumes = launchVolumes(q.blockDeviceMappings());
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "instance");
        String token = q.clientToken();
        if (token != null && token.length() > 64) throw Ec2Exception.invalidParameter("ClientToken is longer than 64 characters.");
        List<String> groups = SecurityGroupActions.forLaunch(cloud, q.securityGroupIds(), q.securityGroups());
        String digest = Integer.toHexString(q.toBuilder().clientToken(null).dryRun(null).build().hashCode());
        List<InstanceRecord> made = cloud.fleet().run(new Fleet.RunPlan(image.imageId(), Path.of(image.file()), shape.name(),
                shape.vcpus(), shape.memoryMib(), q.minCount(), q.maxCount(), keyName, publicKey, userData, tokensRequired, rootGib, tags,
                token, digest, groups, rootDeleteOnTermination, launchVolumes));
        InstanceRecord first = made.getFirst();
        return RunInstancesResponse.builder().reservationId(first.reservationId()).ownerId(cloud.accountId())
                .groups(List.of()).instances(made.stream().map(this::toSdk).toList()).build();
    }

    private static String checkUserData(String userData) {
        if (userData == null || userData.isEmpty()) return null;
        byte[] decoded;
        try {
            decoded = Base64.getMimeDecoder().decode(userData);
        } catch (IllegalArgumentException e) {
            throw Ec2Exception.invalidParameter("Invalid BASE64 encoding of user data.");
        }
        if (decoded.length > MAX_USER_DATA) throw Ec2Exception.invalidParameter("User data is limited to " + MAX_USER_DATA + " bytes");
        return userData;
    }

    /**
     * The root volume size a block device mapping for the root asks for (at least the image's size, rounded up
     * to GiB), or 0 when none does: the volume is then exactly the image's size.
     */
    private static int rootVolumeGib(List<BlockDeviceMapping> mappings, ImageRecord image) {
        int imageGib = (int) Math.max(1, (image.sizeBytes() + (1L << 30) - 1) >> 30);
        for (BlockDeviceMapping m : mappings) {
            if (!isRoot(m)) continue;
            if (m.ebs() == null || m.ebs().volumeSize() == null) continue;
            int size = m.ebs().volumeSize();
            if (size < imageGib) {
                throw Ec2Exception.client("InvalidBlockDeviceMapping", "Volume of size " + size
                        + "GB is smaller than snapshot '" + image.imageId() + "', expect size >= " + imageGib + "GB");
            }
            if (size > MAX_ROOT_GIB) throw Ec2Exception.invalidParameter("Volume size " + size + " GiB exceeds the maximum of " + MAX_ROOT_GIB);
            return size;
        }
        return 0;
    }

    private static boolean isRoot(BlockDeviceMapping m) {
        return m.deviceName() == null || ImageActions.ROOT_DEVICE_ALIASES.contains(m.deviceName());
    }

    private static boolean rootDeleteOnTermination(List<BlockDeviceMapping> mappings) {
        for (BlockDeviceMapping m : mappings) {
            if (isRoot(m) && m.ebs() != null && m.ebs().deleteOnTermination() != null) return m.ebs().deleteOnTermination();
        }
        return true;
    }

    /** The data volumes the mappings ask for at launch (new and empty, or from a snapshot), checked before anything is made. */
    private List<Fleet.LaunchVolume> launchVolumes(List<BlockDeviceMapping> mappings) {
        List<Fleet.LaunchVolume> out = new ArrayList<>();
        List<String> devices = new ArrayList<>();
        for (BlockDeviceMapping m : mappings) {
            if (isRoot(m)) continue;
            if (m.noDevice() != null || m.virtualName() != null) {
                throw Ec2Exception.client("InvalidBlockDeviceMapping", "Flint instances have no instance-store volumes: map " + m.deviceName()
                        + " to an EBS volume.");
            }
            if (m.ebs() == null) throw Ec2Exception.client("InvalidBlockDeviceMapping", "The mapping of " + m.deviceName() + " has no Ebs.");
            try {
                dev.flint.cloud.fleet.VolumeBook.checkDevice(m.deviceName());
            } catch (Ec2Exception e) {
                throw Ec2Exception.client("InvalidBlockDeviceMapping", e.getMessage());
            }
            for (String d : devices) {
                if (d.equals(m.deviceName())) throw Ec2Exception.client("InvalidBlockDeviceMapping", "The device " + d + " is mapped twice.");
            }
            devices.add(m.deviceName());
            out.add(launchVolume(m));
        }
        return out;
    }

    private Fleet.LaunchVolume launchVolume(BlockDeviceMapping m) {
        var ebs = m.ebs();
        String type = VolumeActions.checkType(ebs.volumeTypeAsString());
        Path source = null;
        Integer size = ebs.volumeSize();
        if (ebs.snapshotId() != null) {
            var snapshot = SnapshotActions.find(cloud, ebs.snapshotId());
            source = Path.of(snapshot.file());
            if (size == null) size = snapshot.volumeSizeGib();
            if (size < snapshot.volumeSizeGib()) {
                throw Ec2Exception.client("InvalidBlockDeviceMapping", "Volume of size " + size + "GB is smaller than snapshot '"
                        + ebs.snapshotId() + "', expect size >= " + snapshot.volumeSizeGib() + "GB");
            }
        }
        if (size == null) throw Ec2Exception.client("InvalidBlockDeviceMapping", "The mapping of " + m.deviceName() + " needs VolumeSize or SnapshotId.");
        VolumeActions.checkSize(size);
        boolean deleteOnTermination = ebs.deleteOnTermination() == null || ebs.deleteOnTermination();
        return new Fleet.LaunchVolume(m.deviceName(), new dev.flint.cloud.fleet.VolumeBook.Plan(size, type, ebs.snapshotId(), source, Map.of(),
                null), deleteOnTermination);
    }

    private DescribeInstancesResponse describe(DescribeInstancesRequest q) {
        if (!q.instanceIds().isEmpty() && q.maxResults() != null) {
            throw Ec2Exception.client("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults");
        }
        List<InstanceRecord> chosen = select(q.instanceIds());
        chosen = instanceFilters.apply(q.filters(), chosen);
        Paging.Page<InstanceRecord> page = Paging.page(chosen, InstanceRecord::instanceId, q.maxResults(), q.nextToken(), 5, 1000);
        Map<String, List<Instance>> byReservation = new LinkedHashMap<>();
        for (InstanceRecord r : page.items()) byReservation.computeIfAbsent(r.reservationId(), k -> new ArrayList<>()).add(toSdk(r));
        List<Reservation> reservations = new ArrayList<>();
        byReservation.forEach((id, instances) -> reservations.add(Reservation.builder().reservationId(id).ownerId(cloud.accountId())
                .groups(List.of()).instances(instances).build()));
        return DescribeInstancesResponse.builder().reservations(reservations).nextToken(page.nextToken()).build();
    }

    /** The named instances (every id must exist and be well formed), or all of them, sorted by id. */
    private List<InstanceRecord> select(List<String> ids) {
        List<InstanceRecord> out = new ArrayList<>();
        if (ids.isEmpty()) {
            out.addAll(cloud.fleet().all());
        } else {
            List<String> missing = new ArrayList<>();
            for (String id : ids) {
                checkId(id);
                Optional<InstanceRecord> r = cloud.fleet().find(id).map(v -> v.value());
                if (r.isPresent()) out.add(r.get());
                else missing.add(id);
            }
            if (!missing.isEmpty()) {
                throw Ec2Exception.client("InvalidInstanceID.NotFound", missing.size() == 1
                        ? "The instance ID '" + missing.getFirst() + "' does not exist"
                        : "The instance IDs '" + String.join(", ", missing) + "' do not exist");
            }
        }
        out.sort(Comparator.comparing(InstanceRecord::instanceId));
        return out;
    }

    static void checkId(String id) {
        if (id == null || !Ids.INSTANCE.matcher(id).matches()) {
            throw Ec2Exception.client("InvalidInstanceID.Malformed", "Invalid id: \"" + id + "\" (expecting \"i-...\")");
        }
    }

    private List<String> checkedIds(List<String> ids) {
        if (ids.isEmpty()) throw Ec2Exception.missingParameter("InstanceId");
        select(ids);
        return List.copyOf(new java.util.LinkedHashSet<>(ids));
    }

    private DescribeInstanceStatusResponse describeStatus(DescribeInstanceStatusRequest q) {
        if (!q.instanceIds().isEmpty() && q.maxResults() != null) {
            throw Ec2Exception.client("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults");
        }
        boolean all = Boolean.TRUE.equals(q.includeAllInstances());
        List<InstanceRecord> chosen = new ArrayList<>();
        for (InstanceRecord r : select(q.instanceIds())) {
            if (all || r.state() == dev.flint.cloud.model.InstanceState.RUNNING) chosen.add(r);
        }
        Map<String, Function<InstanceRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("instance-state-name", r -> List.of(r.state().wireName()));
        a.put("instance-state-code", r -> List.of(String.valueOf(r.state().code())));
        a.put("availability-zone", r -> List.of(cloud.availabilityZone()));
        a.put("instance-status.status", r -> List.of(statusOf(r)));
        a.put("system-status.status", r -> List.of(statusOf(r)));
        chosen = new Filters<>(a, null).apply(q.filters(), chosen);
        Paging.Page<InstanceRecord> page = Paging.page(chosen, InstanceRecord::instanceId, q.maxResults(), q.nextToken(), 5, 1000);
        List<InstanceStatus> statuses = new ArrayList<>();
        for (InstanceRecord r : page.items()) {
            String status = statusOf(r);
            InstanceStatusSummary summary = InstanceStatusSummary.builder().status(status)
                    .details(status.equals("ok") ? List.of(InstanceStatusDetails.builder().name("reachability").status("passed").build()) : List.of())
                    .build();
            statuses.add(InstanceStatus.builder().instanceId(r.instanceId()).availabilityZone(cloud.availabilityZone())
                    .instanceState(state(r)).instanceStatus(summary).systemStatus(summary).build());
        }
        return DescribeInstanceStatusResponse.builder().instanceStatuses(statuses).nextToken(page.nextToken()).build();
    }

    /** "ok" once the guest reported it booted (running), "initializing" before, "not-applicable" when not running. */
    private static String statusOf(InstanceRecord r) {
        return switch (r.state()) {
            case RUNNING -> "ok";
            case PENDING -> "initializing";
            default -> "not-applicable";
        };
    }

    private StartInstancesResponse start(StartInstancesRequest q) {
        return StartInstancesResponse.builder().startingInstances(changes(cloud.fleet().start(checkedIds(q.instanceIds())))).build();
    }

    private StopInstancesResponse stop(StopInstancesRequest q) {
        if (Boolean.TRUE.equals(q.hibernate())) throw Ec2Exception.client("UnsupportedHibernationConfiguration", "Flint instances cannot hibernate.");
        boolean force = Boolean.TRUE.equals(q.force()) || Boolean.TRUE.equals(q.skipOsShutdown());
        return StopInstancesResponse.builder().stoppingInstances(changes(cloud.fleet().stop(checkedIds(q.instanceIds()), force))).build();
    }

    private RebootInstancesResponse reboot(RebootInstancesRequest q) {
        cloud.fleet().reboot(checkedIds(q.instanceIds()));
        return RebootInstancesResponse.builder().build();
    }

    private TerminateInstancesResponse terminate(TerminateInstancesRequest q) {
        return TerminateInstancesResponse.builder().terminatingInstances(changes(cloud.fleet().terminate(checkedIds(q.instanceIds())))).build();
    }

    private static List<InstanceStateChange> changes(List<Fleet.Change> changes) {
        return changes.stream().map(c -> InstanceStateChange.builder().instanceId(c.instanceId())
                .previousState(state(c.previous())).currentState(state(c.current())).build()).toList();
    }

    private GetConsoleOutputResponse consoleOutput(GetConsoleOutputRequest q) {
        if (q.instanceId() == null) throw Ec2Exception.missingParameter("InstanceId");
        InstanceRecord r = select(List.of(q.instanceId())).getFirst();
        GetConsoleOutputResponse.Builder out = GetConsoleOutputResponse.builder().instanceId(r.instanceId()).timestamp(cloud.clock().instant());
        cloud.fleet().consoleOutput(r.instanceId()).ifPresent(bytes -> out.output(Base64.getEncoder().encodeToString(bytes)));
        return out.build();
    }

    private String hostname(InstanceRecord r) {
        return AddressPlan.hostnameFor(r.privateIp(), cloud.region());
    }

    private static software.amazon.awssdk.services.ec2.model.InstanceState state(InstanceRecord r) {
        return state(r.state());
    }

    private static software.amazon.awssdk.services.ec2.model.InstanceState state(dev.flint.cloud.model.InstanceState s) {
        return software.amazon.awssdk.services.ec2.model.InstanceState.builder().code(s.code()).name(s.wireName()).build();
    }

    private List<InstanceBlockDeviceMapping> blockDevices(InstanceRecord r) {
        List<InstanceBlockDeviceMapping> out = new ArrayList<>();
        for (var v : cloud.fleet().volumes().attachedTo(r.instanceId())) {
            var a = v.attachment();
            out.add(InstanceBlockDeviceMapping.builder().deviceName(a.device()).ebs(EbsInstanceBlockDevice.builder().volumeId(v.volumeId())
                    .status(a.state()).attachTime(Instant.parse(a.attachTime())).deleteOnTermination(a.deleteOnTermination()).build()).build());
        }
        return out;
    }

    Instance toSdk(InstanceRecord r) {
        boolean hasAddress = r.state() != dev.flint.cloud.model.InstanceState.TERMINATED;
        Instance.Builder b = Instance.builder()
                .instanceId(r.instanceId())
                .imageId(r.imageId())
                .state(state(r))
                .privateDnsName(hasAddress ? hostname(r) : "")
                .publicDnsName("")
                .stateTransitionReason(r.stateReason())
                .keyName(r.keyName())
                .amiLaunchIndex(r.launchIndex())
                .instanceType(r.instanceType())
                .launchTime(Instant.parse(r.launchTime()))
                .placement(Placement.builder().availabilityZone(cloud.availabilityZone()).tenancy("default").groupName("").build())
                .monitoring(m -> m.state("disabled"))
                .architecture("x86_64")
                .rootDeviceType("ebs")
                .rootDeviceName(ImageActions.ROOT_DEVICE)
                .virtualizationType("hvm")
                .clientToken(r.clientToken() == null ? "" : r.clientToken())
                .hypervisor("xen")
                .cpuOptions(c -> c.coreCount(Math.max(1, r.vcpus() / 2)).threadsPerCore(r.vcpus() >= 2 ? 2 : 1))
                .metadataOptions(InstanceMetadataOptionsResponse.builder().state("applied")
                        .httpTokens(r.tokensRequired() ? "required" : "optional").httpEndpoint("enabled")
                        .httpPutResponseHopLimit(1).build())
                .tags(TagSupport.toSdk(r.tags()))
                .blockDeviceMappings(blockDevices(r));
        if (hasAddress) b.privateIpAddress(r.privateIp()).vpcId(dev.flint.cloud.fleet.Firewall.VPC_ID);
        b.securityGroups(SecurityGroupActions.identifiers(cloud, r));
        if (r.stateReasonCode() != null) b.stateReason(StateReason.builder().code(r.stateReasonCode()).message(r.stateReasonCode()).build());
        return b.build();
    }
}
