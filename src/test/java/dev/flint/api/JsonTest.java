package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.model.Drive;
import dev.flint.api.model.MachineConfiguration;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The strictness of the API's JSON and the wording of its fault messages. */
class JsonTest {
    private static String fault(String body, Class<?> type) {
        return assertThrows(ApiException.class, () -> Json.parse(body.getBytes(StandardCharsets.UTF_8), type)).getMessage();
    }

    @Test
    void faultsNameTheFieldAndTheExpectedType() {
        assertEquals("unknown field `foo`", fault("{\"vcpu_count\": 1, \"foo\": 2}", MachineConfiguration.class));
        assertEquals("unknown field `sizee` in `rate_limiter.bandwidth`",
                fault("{\"rate_limiter\": {\"bandwidth\": {\"sizee\": 1}}}", Drive.class));
        assertEquals("`vcpu_count` must be an integer", fault("{\"vcpu_count\": \"1\"}", MachineConfiguration.class));
        assertEquals("`vcpu_count` must be an integer", fault("{\"vcpu_count\": 1.0}", MachineConfiguration.class));
        assertEquals("`smt` must be true or false", fault("{\"smt\": 0}", MachineConfiguration.class));
        assertEquals("`drive_id` must be a string", fault("{\"drive_id\": 7}", Drive.class));
        assertEquals("the body must be an object", fault("[1]", Drive.class));
        assertEquals("invalid JSON: more content after the JSON document", fault("{} {}", Drive.class));
        assertEquals("the request needs a JSON body", fault("", Drive.class));
        assertEquals("the request body must be a JSON object, not null", fault("null", Drive.class));
    }

    @Test
    void syntaxErrorsSayWhere() {
        String duplicate = fault("{\"smt\": true, \"smt\": false}", MachineConfiguration.class);
        assertEquals("invalid JSON at line 1 column 20: Duplicate field 'smt'", duplicate);
        assertTrue(fault("{\"smt\": true,", MachineConfiguration.class)
                .matches("invalid JSON at line 1 column \\d+: Unexpected end-of-input.*"));
    }

    @Test
    void validBodiesParseAndOptionalFieldsStayAbsent() {
        MachineConfiguration c = Json.parse("{\"vcpu_count\": 2, \"mem_size_mib\": 256}".getBytes(StandardCharsets.UTF_8),
                MachineConfiguration.class);
        assertEquals(new MachineConfiguration(2, 256L, null, null, null, null), c);
        assertEquals("{\"vcpu_count\":2,\"mem_size_mib\":256}", new String(Json.write(c), StandardCharsets.UTF_8));
    }
}
