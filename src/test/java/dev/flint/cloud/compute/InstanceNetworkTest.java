package dev.flint.cloud.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Names and guard entries derived from what the control plane hands over (checked, never pasted raw into nft). */
class InstanceNetworkTest {
    @Test
    void tapNamesFollowTheAddressAndFitTheKernelsLimit() {
        assertEquals("fltac1f0005", InstanceNetwork.tapFor("172.31.0.5"));
        assertEquals("fltac1f0fff", InstanceNetwork.tapFor("172.31.15.255"));
        assertTrue(InstanceNetwork.tapFor("255.255.255.255").length() <= 15);
    }

    @Test
    void malformedAddressesAndMacsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> InstanceNetwork.port("172.31.0.5; flush ruleset", "06:00:ac:1f:00:05"));
        assertThrows(IllegalArgumentException.class, () -> InstanceNetwork.port("example.com", "06:00:ac:1f:00:05"));
        assertThrows(IllegalArgumentException.class, () -> InstanceNetwork.port("172.31.0.5", "06:00:ac:1f:00:05 }"));
        assertEquals(new InstanceNetwork.Port("fltac1f0005", "06:00:ac:1f:00:05", "172.31.0.5"),
                InstanceNetwork.port("172.31.0.5", "06:00:AC:1F:00:05"));
    }

    @Test
    void theRulesetHoldsTheSurvivorsGuardEntries() {
        String rules = InstanceNetwork.ruleset(List.of(InstanceNetwork.port("172.31.0.5", "06:00:ac:1f:00:05")));
        assertTrue(rules.contains("elements = { \"fltac1f0005\" . 06:00:ac:1f:00:05 }"), rules);
        assertTrue(rules.contains("elements = { \"fltac1f0005\" . 172.31.0.5 }"), rules);
    }
}
