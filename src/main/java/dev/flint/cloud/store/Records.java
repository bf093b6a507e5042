package dev.flint.cloud.store;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.flint.cloud.store.CloudStore.Entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Typed records over a {@link CloudStore}: values are JSON (records map to objects field by field), read
 * back with the version they were read at so the caller can compare-and-set them.
 */
public final class Records {
    /** A record and the store version it was read at. */
    public record Versioned<T>(String key, T value, long version) {
        public Entry entry() { return new Entry(key, new byte[0], version); }
    }

    private static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .findAndAddModules()
            .build();

    private final CloudStore store;

    public Records(CloudStore store) {
        this.store = store;
    }

    public CloudStore store() { return store; }

    public <T> Optional<Versioned<T>> get(String key, Class<T> type) {
        return store.get(key).map(e -> new Versioned<>(e.key(), decode(e.value(), type), e.version()));
    }

    public <T> List<Versioned<T>> list(String prefix, Class<T> type) {
        List<Versioned<T>> out = new ArrayList<>();
        for (Entry e : store.list(prefix)) out.add(new Versioned<>(e.key(), decode(e.value(), type), e.version()));
        return out;
    }

    public static byte[] encode(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + value.getClass().getSimpleName(), e);
        }
    }

    static <T> T decode(byte[] bytes, Class<T> type) {
        try {
            return JSON.readValue(bytes, type);
        } catch (IOException e) {
            throw new CloudStore.StoreFailure("a stored " + type.getSimpleName() + " cannot be read: " + e.getMessage(), e);
        }
    }
}
