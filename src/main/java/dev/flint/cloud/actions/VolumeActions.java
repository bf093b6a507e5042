package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.VolumeBook;
import dev.flint.cloud.model.VolumeRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.AttachVolumeRequest;
import software.amazon.awssdk.services.ec2.model.AttachVolumeResponse;
import software.amazon.awssdk.services.ec2.model.CreateVolumeRequest;
import software.amazon.awssdk.services.ec2.model.CreateVolumeResponse;
import software.amazon.awssdk.services.ec2.model.DeleteVolumeRequest;
import software.amazon.awssdk.services.ec2.model.DeleteVolumeResponse;
import software.amazon.awssdk.services.ec2.model.DescribeVolumeStatusRequest;
import software.amazon.awssdk.services.ec2.model.DescribeVolumeStatusResponse;
import software.amazon.awssdk.services.ec2.model.DescribeVolumesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeVolumesResponse;
import software.amazon.awssdk.services.ec2.model.DetachVolumeRequest;
import software.amazon.awssdk.services.ec2.model.DetachVolumeResponse;
import software.amazon.awssdk.services.ec2.model.ModifyVolumeRequest;
import software.amazon.awssdk.services.ec2.model.ModifyVolumeResponse;
import software.amazon.awssdk.services.ec2.model.Volume;
import software.amazon.awssdk.services.ec2.model.VolumeAttachment;
import software.amazon.awssdk.services.ec2.model.VolumeModification;
import software.amazon.awssdk.services.ec2.model.VolumeStatusDetails;
import software.amazon.awssdk.services.ec2.model.VolumeStatusInfo;
import software.amazon.awssdk.services.ec2.model.VolumeStatusItem;

/**
 * CreateVolume, DescribeVolumes, AttachVolume, DetachVolume, DeleteVolume, ModifyVolume, DescribeVolumeStatus.
 * The handlers check and translate; {@link VolumeBook} keeps the state machine and the files.
 */
public final class VolumeActions {
    /** VolumeType labels EC2 knows; every one is the same sparse file here. */
    static final java.util.Set<String> TYPES = java.util.Set.of("standard", "io1", "io2", "gp2", "gp3", "sc1", "st1");

    private final CloudContext cloud;
    private final Filters<VolumeRecord> filters;

    public VolumeActions(CloudContext cloud) {
        this.cloud = cloud;
        Map<String, Function<VolumeRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("volume-id", v -> List.of(v.volumeId()));
        a.put("status", v -> List.of(v.state().wireName()));
        a.put("size", v -> List.of(String.valueOf(v.sizeGib())));
        a.put("volume-type", v -> List.of(v.volumeType()));
        a.put("availability-zone", v -> List.of(v.availabilityZone()));
        a.put("snapshot-id", v -> v.snapshotId() == null ? List.of() : List.of(v.snapshotId()));
        a.put("create-time", v -> List.of(v.createTime()));
        a.put("encrypted", v -> List.of("false"));
        a.put("multi-attach-enabled", v -> List.of("false"));
        a.put("attachment.instance-id", v -> v.attachment() == null ? List.of() : List.of(v.attachment().instanceId()));
        a.put("attachment.device", v -> v.attachment() == null ? List.of() : List.of(v.attachment().device()));
        a.put("attachment.status", v -> v.attachment() == null ? List.of() : List.of(v.attachment().state()));
        a.put("attachment.delete-on-termination", v -> v.attachment() == null ? List.of()
                : List.of(String.valueOf(v.attachment().deleteOnTermination())));
        this.filters = new Filters<>(a, VolumeRecord::tags);
    }

    public void register(ActionRegistry registry) {
        registry.add(CreateVolumeRequest.class, this::create)
                .add(DescribeVolumesRequest.class, this::describe)
                .add(AttachVolumeRequest.class, this::attach)
                .add(DetachVolumeRequest.class, this::detach)
                .add(DeleteVolumeRequest.class, this::delete)
                .add(ModifyVolumeRequest.class, this::modify)
                .add(DescribeVolumeStatusRequest.class, this::describeStatus);
    }

    private VolumeBook book() {
        return cloud.fleet().volumes();
    }

    private CreateVolumeResponse create(CreateVolumeRequest q) {
        if (q.availabilityZone() == null && q.availabilityZoneId() == null) throw Ec2Exception.missingParameter("AvailabilityZone");
        String zone = q.availabilityZone() != null ? q.availabilityZone() : q.availabilityZoneId();
        if (!zone.equals(cloud.availabilityZone())) {
            throw Ec2Exception.invalidParameter("Invalid availability zone: [" + zone + "]. This region has only " + cloud.availabilityZone() + ".");
        }
        String type = checkType(q.volumeTypeAsString());
        Integer size = q.size();
        java.nio.file.Path source = null;
        if (q.snapshotId() != null) {
            var snapshot = SnapshotActions.find(cloud, q.snapshotId());
            source = SnapshotActions.sourceFor(cloud, q.snapshotId(), book());
            if (size == null) size = snapshot.volumeSizeGib();
            if (size < snapshot.volumeSizeGib()) {
                throw Ec2Exception.invalidParameter("Volume of " + size + "GiB is smaller than snapshot '" + q.snapshotId() + "', expect size >= "
                        + snapshot.volumeSizeGib() + "GiB");
            }
        }
        if (size == null) throw Ec2Exception.missingParameter("Size");
        checkSize(size);
        if (q.clientToken() != null && q.clientToken().length() > 64) throw Ec2Exception.invalidParameter("ClientToken is longer than 64 characters.");
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "volume");
        VolumeRecord v = book().create(new VolumeBook.Plan(size, type, q.snapshotId(), source, tags, q.clientToken()));
        Volume sdk = toSdk(v);
        return CreateVolumeResponse.builder().volumeId(sdk.volumeId()).size(sdk.size()).snapshotId(sdk.snapshotId())
                .availabilityZone(sdk.availabilityZone()).state(sdk.state()).createTime(sdk.createTime()).volumeType(sdk.volumeType())
                .encrypted(false).multiAttachEnabled(false).iops(sdk.iops()).tags(sdk.tags()).attachments(sdk.attachments()).build();
    }

    static String checkType(String type) {
        if (type == null) return "gp3";
        if (!TYPES.contains(type)) {
            throw Ec2Exception.invalidParameter("Value (" + type + ") for parameter volumeType is invalid. Expected one of " + new java.util.TreeSet<>(TYPES) + ".");
        }
        return type;
    }

    static void checkSize(int size) {
        if (size < 1 || size > VolumeBook.MAX_GIB) {
            throw Ec2Exception.invalidParameter("Volume size " + size + " is out of range: it must be between 1 and " + VolumeBook.MAX_GIB + " GiB.");
        }
    }

    private DescribeVolumesResponse describe(DescribeVolumesRequest q) {
        if (!q.volumeIds().isEmpty() && q.maxResults() != null) {
            throw Ec2Exception.client("InvalidParameterCombination", "The parameter volumeSet cannot be used with the parameter maxResults");
        }
        List<VolumeRecord> chosen = select(q.volumeIds());
        chosen = filters.apply(q.filters(), chosen);
        Paging.Page<VolumeRecord> page = Paging.page(chosen, VolumeRecord::volumeId, q.maxResults(), q.nextToken(), 5, 500);
        return DescribeVolumesResponse.builder().volumes(page.items().stream().map(this::toSdk).toList()).nextToken(page.nextToken()).build();
    }

    /** The named volumes (each must exist), or all of them, sorted by id. */
    private List<VolumeRecord> select(List<String> ids) {
        List<VolumeRecord> out = new ArrayList<>();
        if (ids.isEmpty()) {
            out.addAll(book().all());
        } else {
            List<String> missing = new ArrayList<>();
            for (String id : new LinkedHashSet<>(ids)) {
                VolumeBook.checkId(id);
                book().find(id).ifPresentOrElse(v -> out.add(v.value()), () -> missing.add(id));
            }
            if (!missing.isEmpty()) {
                throw Ec2Exception.client("InvalidVolume.NotFound", missing.size() == 1 ? "The volume '" + missing.getFirst() + "' does not exist."
                        : "The volumes '" + String.join(", ", missing) + "' do not exist.");
            }
        }
        out.sort(Comparator.comparing(VolumeRecord::volumeId));
        return out;
    }

    private AttachVolumeResponse attach(AttachVolumeRequest q) {
        if (q.volumeId() == null) throw Ec2Exception.missingParameter("VolumeId");
        if (q.instanceId() == null) throw Ec2Exception.missingParameter("InstanceId");
        VolumeAttachment a = attachmentOf(book().attach(q.volumeId(), q.instanceId(), q.device()));
        return AttachVolumeResponse.builder().volumeId(a.volumeId()).instanceId(a.instanceId()).device(a.device()).state(a.state())
                .attachTime(a.attachTime()).deleteOnTermination(a.deleteOnTermination()).build();
    }

    private DetachVolumeResponse detach(DetachVolumeRequest q) {
        if (q.volumeId() == null) throw Ec2Exception.missingParameter("VolumeId");
        VolumeAttachment a = attachmentOf(book().detach(q.volumeId(), q.instanceId(), q.device(), Boolean.TRUE.equals(q.force())));
        return DetachVolumeResponse.builder().volumeId(a.volumeId()).instanceId(a.instanceId()).device(a.device()).state(a.state())
                .attachTime(a.attachTime()).deleteOnTermination(a.deleteOnTermination()).build();
    }

    private DeleteVolumeResponse delete(DeleteVolumeRequest q) {
        if (q.volumeId() == null) throw Ec2Exception.missingParameter("VolumeId");
        book().delete(q.volumeId());
        return DeleteVolumeResponse.builder().build();
    }

    private ModifyVolumeResponse modify(ModifyVolumeRequest q) {
        if (q.volumeId() == null) throw Ec2Exception.missingParameter("VolumeId");
        VolumeRecord before = book().get(q.volumeId());
        String type = q.volumeTypeAsString() == null ? null : checkType(q.volumeTypeAsString());
        if (q.size() != null) checkSize(q.size());
        VolumeRecord after = book().grow(q.volumeId(), q.size(), type);
        Instant now = cloud.clock().instant();
        return ModifyVolumeResponse.builder().volumeModification(VolumeModification.builder().volumeId(after.volumeId())
                .modificationState("completed").originalSize(before.sizeGib()).targetSize(after.sizeGib())
                .originalVolumeType(before.volumeType()).targetVolumeType(after.volumeType()).progress(100L)
                .startTime(now).endTime(now).build()).build();
    }

    private DescribeVolumeStatusResponse describeStatus(DescribeVolumeStatusRequest q) {
        if (!q.volumeIds().isEmpty() && q.maxResults() != null) {
            throw Ec2Exception.client("InvalidParameterCombination", "The parameter volumeSet cannot be used with the parameter maxResults");
        }
        List<VolumeRecord> chosen = select(q.volumeIds());
        Map<String, Function<VolumeRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("volume-id", v -> List.of(v.volumeId()));
        a.put("availability-zone", v -> List.of(v.availabilityZone()));
        a.put("volume-status.status", v -> List.of(status(v)));
        a.put("volume-status.details-name", v -> List.of("io-enabled", "io-performance"));
        chosen = new Filters<>(a, null).apply(q.filters(), chosen);
        Paging.Page<VolumeRecord> page = Paging.page(chosen, VolumeRecord::volumeId, q.maxResults(), q.nextToken(), 5, 1000);
        List<VolumeStatusItem> items = new ArrayList<>();
        for (VolumeRecord v : page.items()) {
            String status = status(v);
            items.add(VolumeStatusItem.builder().volumeId(v.volumeId()).availabilityZone(v.availabilityZone())
                    .volumeStatus(VolumeStatusInfo.builder().status(status).details(
                            VolumeStatusDetails.builder().name("io-enabled").status(status.equals("ok") ? "passed" : "failed").build(),
                            VolumeStatusDetails.builder().name("io-performance").status("not-applicable").build()).build())
                    .actions(List.of()).events(List.of()).build());
        }
        return DescribeVolumeStatusResponse.builder().volumeStatuses(items).nextToken(page.nextToken()).build();
    }

    /** "ok" while the volume's file is there to read and write; "impaired" if it has gone from under the daemon. */
    private static String status(VolumeRecord v) {
        return switch (v.state()) {
            case AVAILABLE, IN_USE -> java.nio.file.Files.isRegularFile(java.nio.file.Path.of(v.file())) ? "ok" : "impaired";
            default -> "insufficient-data";
        };
    }

    static VolumeAttachment attachmentOf(VolumeRecord v) {
        VolumeRecord.Attachment a = v.attachment();
        if (a == null) throw Ec2Exception.internal("volume " + v.volumeId() + " has no attachment");
        return VolumeAttachment.builder().volumeId(v.volumeId()).instanceId(a.instanceId()).device(a.device()).state(a.state())
                .attachTime(Instant.parse(a.attachTime())).deleteOnTermination(a.deleteOnTermination()).build();
    }

    Volume toSdk(VolumeRecord v) {
        return Volume.builder().volumeId(v.volumeId()).size(v.sizeGib()).snapshotId(v.snapshotId() == null ? "" : v.snapshotId())
                .availabilityZone(v.availabilityZone()).state(v.state().wireName()).createTime(Instant.parse(v.createTime()))
                .volumeType(v.volumeType()).encrypted(false).multiAttachEnabled(false)
                .iops(v.volumeType().equals("gp3") ? 3000 : null)
                .attachments(v.attachment() == null ? List.of() : List.of(attachmentOf(v)))
                .tags(TagSupport.toSdk(v.tags())).build();
    }
}
