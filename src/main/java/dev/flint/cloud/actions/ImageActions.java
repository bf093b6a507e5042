package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.fleet.Volumes;
import dev.flint.cloud.model.ImageRecord;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.DeregisterImageRequest;
import software.amazon.awssdk.services.ec2.model.DeregisterImageResponse;
import software.amazon.awssdk.services.ec2.model.DescribeImagesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeImagesResponse;
import software.amazon.awssdk.services.ec2.model.EbsBlockDevice;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.RegisterImageRequest;
import software.amazon.awssdk.services.ec2.model.RegisterImageResponse;

/**
 * DescribeImages, RegisterImage, DeregisterImage. An image is an ext4 root file system in a file. RegisterImage
 * takes its {@code ImageLocation} as a path on the daemon's host (absolute, or a {@code file://} URL); the
 * daemon copies the file into its data folder ({@code images/ami-ID.ext4}), so the original may change or go
 * and the image stays as registered. Instances boot from their own copy of it (the root volume).
 */
public final class ImageActions {
    /** The device the root volume appears as in the guest (the first virtio-blk disk). */
    public static final String ROOT_DEVICE = "/dev/vda";
    /** Root device names a BlockDeviceMapping may use for the root volume (EC2's usual ones, and Flint's). */
    static final Set<String> ROOT_DEVICE_ALIASES = Set.of(ROOT_DEVICE, "/dev/xvda", "/dev/sda1", "/dev/sda");
    private static final int EXT_MAGIC_OFFSET = 1024 + 56;

    private final CloudContext cloud;
    private final Filters<ImageRecord> filters;

    public ImageActions(CloudContext cloud) {
        this.cloud = cloud;
        Map<String, Function<ImageRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("image-id", i -> List.of(i.imageId()));
        a.put("name", i -> List.of(i.name()));
        a.put("description", i -> List.of(i.description()));
        a.put("state", i -> List.of("available"));
        a.put("owner-id", i -> List.of(cloud.accountId()));
        a.put("architecture", i -> List.of("x86_64"));
        a.put("image-type", i -> List.of("machine"));
        a.put("root-device-type", i -> List.of("ebs"));
        a.put("root-device-name", i -> List.of(ROOT_DEVICE));
        a.put("virtualization-type", i -> List.of("hvm"));
        a.put("is-public", i -> List.of("false"));
        a.put("manifest-location", i -> List.of(i.location()));
        this.filters = new Filters<>(a, ImageRecord::tags);
    }

    public void register(ActionRegistry registry) {
        registry.add(DescribeImagesRequest.class, this::describe)
                .add(RegisterImageRequest.class, this::registerImage)
                .add(DeregisterImageRequest.class, this::deregister);
    }

    static ImageRecord findImage(CloudContext cloud, String imageId) {
        if (!Ids.IMAGE.matcher(imageId).matches()) {
            throw Ec2Exception.client("InvalidAMIID.Malformed", "Invalid id: \"" + imageId + "\" (expecting \"ami-...\")");
        }
        return cloud.records().get(Keys.IMAGE + imageId, ImageRecord.class).map(Versioned::value)
                .orElseThrow(() -> Ec2Exception.client("InvalidAMIID.NotFound", "The image id '[" + imageId + "]' does not exist"));
    }

    private List<ImageRecord> all() {
        List<ImageRecord> out = new ArrayList<>();
        for (Versioned<ImageRecord> v : cloud.records().list(Keys.IMAGE, ImageRecord.class)) out.add(v.value());
        return out;
    }

    public Optional<ImageRecord> byName(String name) {
        return all().stream().filter(i -> i.name().equals(name)).findFirst();
    }

    private DescribeImagesResponse describe(DescribeImagesRequest q) {
        List<ImageRecord> chosen = new ArrayList<>();
        if (q.imageIds().isEmpty()) {
            chosen.addAll(all());
        } else {
            for (String id : q.imageIds()) chosen.add(findImage(cloud, id));
        }
        if (!q.owners().isEmpty()) {
            boolean ours = q.owners().stream().anyMatch(o -> o.equals("self") || o.equals(cloud.accountId()));
            if (!ours) chosen.clear();
        }
        chosen = new ArrayList<>(filters.apply(q.filters(), chosen));
        chosen.sort(Comparator.comparing(ImageRecord::imageId));
        Paging.Page<ImageRecord> page = Paging.page(chosen, ImageRecord::imageId, q.maxResults(), q.nextToken(), 5, 1000);
        return DescribeImagesResponse.builder().images(page.items().stream().map(this::toSdk).toList()).nextToken(page.nextToken()).build();
    }

    private Image toSdk(ImageRecord i) {
        int gib = (int) Math.max(1, (i.sizeBytes() + (1L << 30) - 1) >> 30);
        return Image.builder().imageId(i.imageId()).name(i.name()).description(i.description()).imageLocation(i.location())
                .state("available").ownerId(cloud.accountId()).creationDate(i.creationDate()).publicLaunchPermissions(false)
                .architecture("x86_64").imageType("machine").rootDeviceType("ebs").rootDeviceName(ROOT_DEVICE)
                .virtualizationType("hvm").hypervisor("xen").enaSupport(false)
                .blockDeviceMappings(BlockDeviceMapping.builder().deviceName(ROOT_DEVICE)
                        .ebs(EbsBlockDevice.builder().volumeSize(gib).deleteOnTermination(true).volumeType("standard").encrypted(false).build())
                        .build())
                .tags(TagSupport.toSdk(i.tags())).build();
    }

    private RegisterImageResponse registerImage(RegisterImageRequest q) {
        if (q.name() == null) throw Ec2Exception.missingParameter("Name");
        if (q.imageLocation() == null) throw Ec2Exception.missingParameter("ImageLocation");
        String name = q.name();
        if (name.length() < 3 || name.length() > 128 || !name.matches("[A-Za-z0-9()\\[\\] ./\\-'@_]+")) {
            throw Ec2Exception.invalidParameter("AMI names must be between 3 and 128 characters long, and may contain letters, numbers, "
                    + "'(', ')', '.', '-', '/', '_', '[', ']', ' ', '@' and \"'\"");
        }
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "image");
        Path source = locationPath(q.imageLocation());
        ImageRecord image = register(name, q.description(), source, q.imageLocation(), tags);
        return RegisterImageResponse.builder().imageId(image.imageId()).build();
    }

    /** Registers the file at {@code source} as an image called {@code name}: checked, copied, stored. */
    public ImageRecord register(String name, String description, Path source, String location, Map<String, String> tags) {
        checkExt4(source);
        if (byName(name).isPresent()) throw Ec2Exception.client("InvalidAMIName.Duplicate", "AMI name " + name + " is already in use by an AMI");
        String id = Ids.next("ami");
        Path file = cloud.imagesDir().resolve(id + ".ext4");
        try {
            Volumes.copy(source, file, 0);
            ImageRecord record = new ImageRecord(id, name, description, location, file.toString(), Files.size(file),
                    Instant.now(cloud.clock()).toString(), tags);
            if (!cloud.records().store().putIfAbsent(Keys.IMAGE + id, Records.encode(record))) {
                throw Ec2Exception.internal("image id " + id + " collided; retry");
            }
            return record;
        } catch (IOException e) {
            Volumes.delete(file);
            throw Ec2Exception.invalidParameter("cannot copy the image from " + source + ": " + e.getMessage());
        } catch (RuntimeException e) {
            Volumes.delete(file);
            throw e;
        }
    }

    private static Path locationPath(String location) {
        String path = location.startsWith("file://") ? location.substring("file://".length()) : location;
        if (!path.startsWith("/")) {
            throw Ec2Exception.invalidParameter("ImageLocation must be an absolute path (or file:// URL) of an ext4 image on the daemon's host, got "
                    + location);
        }
        return Path.of(path);
    }

    private static void checkExt4(Path file) {
        if (!Files.isRegularFile(file)) throw Ec2Exception.invalidParameter("ImageLocation " + file + " is not a file on the daemon's host");
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            if (in.length() < EXT_MAGIC_OFFSET + 2) throw Ec2Exception.invalidParameter(file + " is too small to be an ext4 file system");
            in.seek(EXT_MAGIC_OFFSET);
            int magic = in.read() | (in.read() << 8);
            if (magic != 0xEF53) throw Ec2Exception.invalidParameter(file + " is not an ext4 file system (no ext superblock magic)");
        } catch (IOException e) {
            throw Ec2Exception.invalidParameter("cannot read " + file + ": " + e.getMessage());
        }
    }

    private DeregisterImageResponse deregister(DeregisterImageRequest q) {
        if (q.imageId() == null) throw Ec2Exception.missingParameter("ImageId");
        ImageRecord image = findImage(cloud, q.imageId());
        Optional<Versioned<ImageRecord>> current = cloud.records().get(Keys.IMAGE + image.imageId(), ImageRecord.class);
        if (current.isEmpty() || !cloud.records().store().delete(current.get().entry())) {
            throw Ec2Exception.client("InvalidAMIID.Unavailable", "The image " + image.imageId() + " changed while being deregistered; retry");
        }
        // Instances keep their own copies; only the image's file goes.
        Volumes.delete(Path.of(image.file()));
        return DeregisterImageResponse.builder().returnValue(true).build();
    }
}
