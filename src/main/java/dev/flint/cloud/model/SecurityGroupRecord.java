package dev.flint.cloud.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A security group as the control plane stores it: its rules one per source (EC2's {@code IpPermission}s are
 * grouped from these when described), each with its own {@code sgr-} id. Immutable; every change is a new
 * record written with compare-and-set.
 */
public record SecurityGroupRecord(
        String groupId,
        String groupName,
        String description,
        String vpcId,
        List<Rule> ingress,
        List<Rule> egress,
        Map<String, String> tags) {

    /** The name of each VPC's own group, which cannot be deleted. */
    public static final String DEFAULT_NAME = "default";

    /**
     * One rule: traffic of {@code protocol} ({@code tcp}, {@code udp}, {@code icmp}, {@code -1} for all, or an
     * IP protocol number) on ports {@code fromPort}..{@code toPort} (for icmp: type and code, -1 = any), from
     * (ingress) or to (egress) either {@code cidr} or the members of {@code groupId}, never both.
     */
    public record Rule(String ruleId, String protocol, int fromPort, int toPort, String cidr, String groupId, String description) {
        /** Whether two rules let the same traffic through (EC2's duplicate test: the description does not count). */
        public boolean sameAs(Rule o) {
            return protocol.equals(o.protocol) && fromPort == o.fromPort && toPort == o.toPort
                    && java.util.Objects.equals(cidr, o.cidr) && java.util.Objects.equals(groupId, o.groupId);
        }
    }

    public SecurityGroupRecord {
        ingress = ingress == null ? List.of() : List.copyOf(ingress);
        egress = egress == null ? List.of() : List.copyOf(egress);
        tags = tags == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tags));
    }

    public boolean isDefault() {
        return DEFAULT_NAME.equals(groupName);
    }

    public List<Rule> rules(boolean egressSide) {
        return egressSide ? egress : ingress;
    }

    public SecurityGroupRecord withRules(boolean egressSide, List<Rule> rules) {
        return egressSide ? new SecurityGroupRecord(groupId, groupName, description, vpcId, ingress, rules, tags)
                : new SecurityGroupRecord(groupId, groupName, description, vpcId, rules, egress, tags);
    }

    public SecurityGroupRecord withTags(Map<String, String> newTags) {
        return new SecurityGroupRecord(groupId, groupName, description, vpcId, ingress, egress, newTags);
    }

    /** Every rule of both directions. */
    public List<Rule> allRules() {
        List<Rule> all = new ArrayList<>(ingress);
        all.addAll(egress);
        return all;
    }
}
