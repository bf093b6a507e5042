package dev.flint.cloud.compute;

import dev.flint.cloud.compute.MetadataSource.InstanceMetadata;
import dev.flint.cloud.compute.MetadataSource.PublicKey;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The paths of the metadata service and what each holds for one instance. Folders list their entries one
 * a line, sub-folders with a trailing slash, as EC2 does; {@code public-keys/} lists {@code N=name}.
 */
final class MetadataTree {
    private MetadataTree() {}

    private static final String META = "/latest/meta-data/";

    /** The body for {@code path}, or null (404). */
    static byte[] lookup(InstanceMetadata md, String rawPath) {
        String path = rawPath.replaceAll("/{2,}", "/");
        String text = switch (path) {
            case "/" -> "latest";
            case "/latest", "/latest/" -> "dynamic\nmeta-data\nuser-data";
            case "/latest/user-data" -> null;
            case "/latest/meta-data", META -> String.join("\n", List.of("ami-id", "hostname", "instance-id",
                    "instance-type", "local-hostname", "local-ipv4", "mac", "placement/", "public-keys/"));
            default -> metaData(md, path.startsWith(META) ? path.substring(META.length()) : null);
        };
        if (path.equals("/latest/user-data")) {
            return md.userData() == null || md.userData().length == 0 ? null : md.userData().clone();
        }
        return text == null ? null : text.getBytes(StandardCharsets.UTF_8);
    }

    private static String metaData(InstanceMetadata md, String item) {
        if (item == null) return null;
        if (item.endsWith("/") && !item.equals("placement/") && !item.startsWith("public-keys/")) return null;
        return switch (item) {
            case "ami-id" -> md.imageId();
            case "hostname", "local-hostname" -> md.hostname();
            case "instance-id" -> md.instanceId();
            case "instance-type" -> md.instanceType();
            case "local-ipv4" -> md.privateIp();
            case "mac" -> md.macAddress();
            case "placement", "placement/" -> "availability-zone";
            case "placement/availability-zone" -> md.availabilityZone();
            case "public-keys", "public-keys/" -> keyListing(md.publicKeys());
            default -> item.startsWith("public-keys/") ? publicKey(md.publicKeys(), item.substring("public-keys/".length())) : null;
        };
    }

    private static String keyListing(List<PublicKey> keys) {
        if (keys.isEmpty()) return null;
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < keys.size(); i++) {
            if (i > 0) b.append('\n');
            b.append(i).append('=').append(keys.get(i).name());
        }
        return b.toString();
    }

    /** {@code N}, {@code N/} (lists openssh-key) or {@code N/openssh-key}. */
    private static String publicKey(List<PublicKey> keys, String rest) {
        int slash = rest.indexOf('/');
        String index = slash < 0 ? rest : rest.substring(0, slash);
        String leaf = slash < 0 ? "" : rest.substring(slash + 1);
        if (!index.matches("\\d{1,4}")) return null;
        int i = Integer.parseInt(index);
        if (i >= keys.size()) return null;
        return switch (leaf) {
            case "" -> "openssh-key";
            case "openssh-key" -> keys.get(i).openSshKey().strip() + "\n";
            default -> null;
        };
    }
}
