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

    @Test
    void theSecurityGroupRulesetChecksEverythingItPastesIntoNft() {
        FirewallPlan.Rule ssh = new FirewallPlan.Rule("tcp", 22, 22, "0.0.0.0/0", null);
        String rules = SecurityGroupRuleset.render(new FirewallPlan(List.of(new FirewallPlan.Interface("i-1", "172.31.0.5",
                List.of(ssh, new FirewallPlan.Rule("-1", -1, -1, null, "sg-0123456789abcdef0")), List.of())),
                java.util.Map.of("sg-0123456789abcdef0", List.of("172.31.0.5"))), "flintbr0", "172.31.0.0/20", "169.254.169.254");
        assertTrue(rules.contains("set m_sg_0123456789abcdef0 { type ipv4_addr; elements = { 172.31.0.5 }; }"), rules);
        assertTrue(rules.contains("ip daddr vmap { 172.31.0.5 : jump in_ac1f0005 }"), rules);
        assertTrue(rules.contains("chain in_ac1f0005 {\n    tcp dport 22 accept\n    ip saddr @m_sg_0123456789abcdef0 accept\n  }"), rules);
        for (FirewallPlan.Rule bad : List.of(new FirewallPlan.Rule("tcp", 22, 22, "0.0.0.0/0; flush ruleset", null),
                new FirewallPlan.Rule("tcp; drop", 22, 22, "0.0.0.0/0", null), new FirewallPlan.Rule("tcp", 22, 70000, "0.0.0.0/0", null),
                new FirewallPlan.Rule("-1", -1, -1, null, "sg-1 } flush"), new FirewallPlan.Rule("-1", -1, -1, null, "sg-0123456789abcdef1"))) {
            assertThrows(IllegalArgumentException.class, () -> SecurityGroupRuleset.render(new FirewallPlan(List.of(new FirewallPlan.Interface("i-1",
                    "172.31.0.5", List.of(bad), List.of())), java.util.Map.of()), "flintbr0", "172.31.0.0/20", "169.254.169.254"), bad.toString());
        }
        assertThrows(IllegalArgumentException.class, () -> SecurityGroupRuleset.render(new FirewallPlan(List.of(new FirewallPlan.Interface("i-1",
                "172.31.0.5 }", List.of(), List.of())), java.util.Map.of()), "flintbr0", "172.31.0.0/20", "169.254.169.254"));
    }
}
