package dev.flint.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The one JSON mapper of the API, strict the way Firecracker's serde structs are: unknown fields, wrong
 * types (no "1" for a number, no 1 for a string or a boolean, no 1.5 for an integer), duplicate keys and
 * anything after the document are errors, and errors become one-line fault messages.
 */
public final class Json {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonParser.Feature.ALLOW_COMMENTS)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .withCoercionConfig(LogicalType.Textual, c -> c
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Boolean, c -> c
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Integer, c -> c
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail))
            .build();

    private Json() {}

    /** Parses {@code body} as one {@code type}; a missing body, bad syntax or a mismatch → 400. */
    public static <T> T parse(byte[] body, Class<T> type) {
        if (body.length == 0) throw ApiException.badRequest("the request needs a JSON body");
        try {
            T value = MAPPER.readValue(body, type);
            if (value == null) throw ApiException.badRequest("the request body must be a JSON object, not null");
            return value;
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest(describe(e));
        } catch (java.io.IOException e) {
            throw ApiException.badRequest("unreadable request body: " + e.getMessage());
        }
    }

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize " + value.getClass().getSimpleName(), e);
        }
    }

    public static ObjectMapper mapper() { return MAPPER; }

    /** One line a client can act on: which field, what went wrong, without Jackson's Java class names. */
    static String describe(JsonProcessingException e) {
        if (e instanceof UnrecognizedPropertyException u) {
            String parent = path(u.getPath().subList(0, u.getPath().size() - 1));
            return "unknown field `" + u.getPropertyName() + "`" + (parent.isEmpty() ? "" : " in `" + parent + "`");
        }
        if (e.getOriginalMessage().startsWith("Trailing token")) {
            return "invalid JSON: more content after the JSON document";
        }
        if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
            String field = path(m.getPath());
            return (field.isEmpty() ? "the body" : "`" + field + "`") + " must be " + kind(m.getTargetType());
        }
        String original = e.getOriginalMessage();
        int newline = original.indexOf('\n');
        if (newline >= 0) original = original.substring(0, newline);
        String location = e.getLocation() == null ? ""
                : " at line " + e.getLocation().getLineNr() + " column " + e.getLocation().getColumnNr();
        return "invalid JSON" + location + ": " + original;
    }

    private static String path(List<JsonMappingException.Reference> references) {
        return references.stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
    }

    private static String kind(Class<?> type) {
        if (type == Integer.class || type == Long.class || type == int.class || type == long.class) return "an integer";
        if (type == String.class) return "a string";
        if (type == Boolean.class || type == boolean.class) return "true or false";
        if (List.class.isAssignableFrom(type)) return "an array";
        return "an object";
    }
}
