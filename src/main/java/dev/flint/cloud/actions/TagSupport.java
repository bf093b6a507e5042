package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/** Tag rules shared by every taggable resource: EC2's key/value limits, the reserved {@code aws:} prefix, 50 per resource. */
final class TagSupport {
    static final int MAX_TAGS = 50;

    private TagSupport() {}

    /** The tags a request's TagSpecifications give {@code resourceType}; other resource types are refused. */
    static Map<String, String> fromSpecifications(List<TagSpecification> specs, String resourceType) {
        Map<String, String> tags = new LinkedHashMap<>();
        if (specs == null) return tags;
        for (TagSpecification spec : specs) {
            if (spec.resourceTypeAsString() == null) throw Ec2Exception.missingParameter("TagSpecification.N.ResourceType");
            if (!resourceType.equals(spec.resourceTypeAsString())) {
                throw Ec2Exception.invalidParameter("'" + spec.resourceTypeAsString() + "' is not a valid taggable resource type for this operation.");
            }
            for (Tag tag : spec.tags()) put(tags, tag.key(), tag.value());
        }
        return tags;
    }

    static void put(Map<String, String> tags, String key, String value) {
        check(key, value);
        tags.put(key, value == null ? "" : value);
        if (tags.size() > MAX_TAGS) throw Ec2Exception.client("TagLimitExceeded", "The maximum number of tags (" + MAX_TAGS + ") per resource would be exceeded.");
    }

    static void check(String key, String value) {
        if (key == null || key.isEmpty()) throw Ec2Exception.invalidParameter("Tag keys must not be empty.");
        if (key.length() > 128) throw Ec2Exception.invalidParameter("Tag key exceeds the maximum length of 128 characters");
        if (value != null && value.length() > 256) throw Ec2Exception.invalidParameter("Tag value exceeds the maximum length of 256 characters");
        if (key.toLowerCase(java.util.Locale.ROOT).startsWith("aws:")) {
            throw Ec2Exception.invalidParameter("Tag keys starting with 'aws:' are reserved for internal use");
        }
    }

    static List<Tag> toSdk(Map<String, String> tags) {
        List<Tag> out = new ArrayList<>(tags.size());
        tags.forEach((k, v) -> out.add(Tag.builder().key(k).value(v).build()));
        return out;
    }
}
