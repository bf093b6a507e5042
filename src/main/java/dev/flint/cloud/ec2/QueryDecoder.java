package dev.flint.cloud.ec2;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.core.protocol.MarshallingType;
import software.amazon.awssdk.core.traits.ListTrait;
import software.amazon.awssdk.core.traits.MapTrait;
import software.amazon.awssdk.utils.builder.SdkBuilder;

/**
 * Decodes EC2 Query form parameters into the SDK's request object of an action, driven only by the model's
 * field metadata: a member's wire name is its {@code locationName}; lists are flattened and numbered from 1
 * ({@code InstanceId.1}); structures nest with dots ({@code TagSpecification.1.Tag.1.Key}). Nothing here
 * knows any particular action.
 *
 * <p>Every parameter must be consumed by some field: a leftover one is EC2's {@code UnknownParameter}, so
 * a misspelt option is an error and not silently ignored.
 */
public final class QueryDecoder {
    /** Parameters every request carries that are not part of the action's input shape. */
    private static final Set<String> ENVELOPE = Set.of("Action", "Version");
    /** The longest list a request may carry, whatever its numbering (a hostile "Foo.99999999" is refused). */
    static final int MAX_LIST_INDEX = 10_000;

    private QueryDecoder() {}

    /** Builds the request: {@code builder} is the action's request builder (e.g. {@code RunInstancesRequest.builder()}). */
    public static Object decode(SdkPojo builder, Map<String, String> params) {
        Set<String> used = new HashSet<>(ENVELOPE);
        fill(builder, "", params, used);
        for (String name : new TreeSet<>(params.keySet())) {
            if (!used.contains(name) && !name.startsWith("X-Amz-")) {
                throw Ec2Exception.client("UnknownParameter", "The parameter " + name + " is not recognized");
            }
        }
        return build(builder);
    }

    private static Object build(SdkPojo builder) {
        if (builder instanceof SdkBuilder<?, ?> sdkBuilder) return sdkBuilder.build();
        throw new IllegalStateException("not an SDK builder: " + builder.getClass());
    }

    private static void fill(SdkPojo builder, String prefix, Map<String, String> params, Set<String> used) {
        for (SdkField<?> field : builder.sdkFields()) {
            String name = prefix + field.locationName();
            Object value = read(field, name, params, used);
            if (value != null) field.set(builder, value);
        }
    }

    /** The value of one member under wire name {@code name}, or null when the request does not carry it. */
    private static Object read(SdkField<?> field, String name, Map<String, String> params, Set<String> used) {
        MarshallingType<?> type = field.marshallingType();
        if (type == MarshallingType.LIST) return readList(field.getRequiredTrait(ListTrait.class).memberFieldInfo(), name, params, used);
        if (type == MarshallingType.MAP) {
            if (field.getTrait(MapTrait.class) != null && hasPrefix(params, name + ".")) {
                throw Ec2Exception.invalidParameter("map parameters such as " + name + " are not supported");
            }
            return null;
        }
        if (type == MarshallingType.SDK_POJO) {
            if (!hasPrefix(params, name + ".")) return null;
            SdkPojo nested = field.constructor().get();
            fill(nested, name + ".", params, used);
            return build(nested);
        }
        String raw = params.get(name);
        if (raw == null) return null;
        used.add(name);
        return scalar(type, name, raw);
    }

    private static List<Object> readList(SdkField<?> member, String name, Map<String, String> params, Set<String> used) {
        String prefix = name + ".";
        TreeSet<Integer> indexes = new TreeSet<>();
        for (String key : params.keySet()) {
            if (!key.startsWith(prefix)) continue;
            int end = key.indexOf('.', prefix.length());
            String index = end < 0 ? key.substring(prefix.length()) : key.substring(prefix.length(), end);
            int i = parseIndex(index);
            if (i > 0) indexes.add(i);
        }
        if (indexes.isEmpty()) return null;
        List<Object> values = new ArrayList<>(indexes.size());
        for (int i : indexes) {
            Object value = read(member, prefix + i, params, used);
            if (value != null) values.add(value);
        }
        return values;
    }

    /** A list position, or -1 when the segment is not one (the parameter is then left unused, hence unknown). */
    private static int parseIndex(String segment) {
        if (segment.isEmpty() || segment.length() > 5) return -1;
        for (int i = 0; i < segment.length(); i++) {
            if (segment.charAt(i) < '0' || segment.charAt(i) > '9') return -1;
        }
        int index = Integer.parseInt(segment);
        return index >= 1 && index <= MAX_LIST_INDEX ? index : -1;
    }

    private static boolean hasPrefix(Map<String, String> params, String prefix) {
        for (String key : params.keySet()) {
            if (key.startsWith(prefix)) return true;
        }
        return false;
    }

    private static Object scalar(MarshallingType<?> type, String name, String raw) {
        try {
            if (type == MarshallingType.STRING) return raw;
            if (type == MarshallingType.INTEGER) return Integer.valueOf(raw.strip());
            if (type == MarshallingType.LONG) return Long.valueOf(raw.strip());
            if (type == MarshallingType.SHORT) return Short.valueOf(raw.strip());
            if (type == MarshallingType.BYTE) return Byte.valueOf(raw.strip());
            if (type == MarshallingType.DOUBLE) return Double.valueOf(raw.strip());
            if (type == MarshallingType.FLOAT) return Float.valueOf(raw.strip());
            if (type == MarshallingType.BIG_DECIMAL) return new java.math.BigDecimal(raw.strip());
            if (type == MarshallingType.BOOLEAN) return bool(name, raw);
            if (type == MarshallingType.INSTANT) return Instant.parse(raw.strip());
            if (type == MarshallingType.SDK_BYTES) return SdkBytes.fromByteArray(Base64.getMimeDecoder().decode(raw));
        } catch (NumberFormatException | DateTimeParseException e) {
            throw Ec2Exception.invalidParameter("Value (" + clip(raw) + ") for parameter " + name + " is invalid.");
        } catch (IllegalArgumentException e) {
            throw Ec2Exception.invalidParameter("Value for parameter " + name + " is not valid base64.");
        }
        throw Ec2Exception.invalidParameter("parameter " + name + " has a type Flint does not decode (" + type + ")");
    }

    private static Boolean bool(String name, String raw) {
        return switch (raw.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            default -> throw Ec2Exception.invalidParameter("Value (" + clip(raw) + ") for parameter " + name + " is invalid. Expected: 'true' or 'false'.");
        };
    }

    static String clip(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }
}
