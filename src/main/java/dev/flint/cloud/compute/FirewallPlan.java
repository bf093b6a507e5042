package dev.flint.cloud.compute;

import java.util.List;
import java.util.Map;

/**
 * What the security groups allow, as the control plane hands it to the runtime: for every instance that holds
 * an address, the traffic it may receive ({@code ingress}) and send ({@code egress}) when a connection starts,
 * and for every group the addresses of its members (so "source group" rules follow membership). Replies of
 * allowed connections always pass; everything else to or from an instance is dropped. The runtime trusts
 * nothing in it: {@link SecurityGroupRuleset} checks every address, name and number before it reaches nft.
 */
public record FirewallPlan(List<Interface> interfaces, Map<String, List<String>> groupMembers) {
    public FirewallPlan {
        interfaces = List.copyOf(interfaces);
        groupMembers = Map.copyOf(groupMembers);
    }

    /** One instance's interface: its private address and its groups' rules, merged. */
    public record Interface(String instanceId, String ip, List<Rule> ingress, List<Rule> egress) {
        public Interface {
            ingress = List.copyOf(ingress);
            egress = List.copyOf(egress);
        }
    }

    /**
     * One allow rule: {@code protocol} is {@code tcp}, {@code udp}, {@code icmp}, {@code -1} (all) or an IP
     * protocol number; ports are a range for tcp/udp, type and code for icmp (-1 = any); the peer is either
     * {@code cidr} or the members of {@code group} (a key of {@link #groupMembers}).
     */
    public record Rule(String protocol, int fromPort, int toPort, String cidr, String group) {}

    public static FirewallPlan empty() {
        return new FirewallPlan(List.of(), Map.of());
    }
}
