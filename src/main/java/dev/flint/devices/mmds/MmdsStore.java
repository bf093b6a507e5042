package dev.flint.devices.mmds;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * The MMDS data store: one JSON object, replaced by {@code PUT /mmds}, merged into by {@code PATCH /mmds}
 * (RFC 7396 JSON Merge Patch), read by the API and by guests. A change that would make the store larger
 * than its limit (its compact JSON, in bytes) is refused whole. Readers get an immutable snapshot: each
 * change builds a new tree, so a guest reads either the old or the new version, never a mix.
 */
public final class MmdsStore {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int sizeLimit;
    private volatile JsonNode root = JsonNodeFactory.instance.objectNode();

    /** @param sizeLimit the largest store in bytes of compact JSON (Firecracker's --mmds-size-limit) */
    public MmdsStore(int sizeLimit) {
        if (sizeLimit < 2) throw new IllegalArgumentException("the MMDS size limit must be at least 2 bytes");
        this.sizeLimit = sizeLimit;
    }

    public int sizeLimit() { return sizeLimit; }

    /** The whole store (do not modify it). */
    public JsonNode snapshot() { return root; }

    /** Replaces the store; {@code data} must be a JSON object. */
    public synchronized void put(JsonNode data) {
        if (data == null || !data.isObject()) throw new MmdsException("the MMDS data store must be a JSON object");
        JsonNode copy = data.deepCopy();
        checkSize(copy);
        root = copy;
    }

    /** Merges {@code patch} into the store as RFC 7396 says: null deletes a member, objects merge, the rest replaces. */
    public synchronized void patch(JsonNode patch) {
        if (patch == null || !patch.isObject()) throw new MmdsException("an MMDS patch must be a JSON object");
        JsonNode merged = merge(root.deepCopy(), patch);
        checkSize(merged);
        root = merged;
    }

    /** The value at {@code pointer} ("/latest/meta-data"), or null if there is none. */
    public JsonNode at(String pointer) {
        JsonNode node = root.at(pointer);
        return node.isMissingNode() ? null : node;
    }

    private static JsonNode merge(JsonNode target, JsonNode patch) {
        if (!patch.isObject()) return patch.deepCopy();
        ObjectNode result = target != null && target.isObject() ? (ObjectNode) target : JsonNodeFactory.instance.objectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = patch.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> member = it.next();
            if (member.getValue().isNull()) result.remove(member.getKey());
            else result.set(member.getKey(), merge(result.get(member.getKey()), member.getValue()));
        }
        return result;
    }

    private void checkSize(JsonNode candidate) {
        int size;
        try {
            size = JSON.writeValueAsBytes(candidate).length;
        } catch (JsonProcessingException e) {
            throw new MmdsException("the MMDS data cannot be serialized: " + e.getOriginalMessage());
        }
        if (size > sizeLimit) {
            throw new MmdsException("the MMDS data store would be " + size + " bytes, over its limit of " + sizeLimit
                    + " (--mmds-size-limit)");
        }
    }
}
