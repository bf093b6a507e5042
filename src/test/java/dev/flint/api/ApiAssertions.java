package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the API tests check of an answer the API refused. */
final class ApiAssertions {
    private ApiAssertions() {
    }

    /** The answer is a 400 whose fault_message names what was wrong (a part of it: `containing`). */
    static void assertFault(UnixSocketClient.Reply reply, String containing) {
        assertEquals(400, reply.status(), reply.body());
        String fault = reply.fault();
        assertNotNull(fault, reply.body());
        assertTrue(fault.contains(containing), "fault `" + fault + "` should contain `" + containing + "`");
    }
}
