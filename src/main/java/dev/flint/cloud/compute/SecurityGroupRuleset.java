package dev.flint.cloud.compute;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Renders a {@link FirewallPlan} as one nftables transaction that replaces the table {@code ip flint_sg}
 * whole, so a rule change reaches running instances at once and no packet ever sees half a ruleset.
 *
 * <p>Where it hooks: the instances' TAPs are ports of the bridge, and with {@code br_netfilter}
 * ({@code bridge-nf-call-iptables=1}) bridged IPv4 frames pass the IPv4 hooks too, with connection tracking.
 * (The bridge family's own {@code ct} needs {@code nf_conntrack_bridge}, which kernels do not all have.) At
 * those hooks a frame's bridge port is not visible, so an instance is recognised by its address, which the
 * bridge guard of {@link InstanceNetwork} makes trustworthy: a frame from a TAP must carry that instance's
 * source address, and a frame to a TAP that instance's destination address.
 * <ul>
 *   <li>{@code egress} (prerouting, every packet that arrives over the bridge): replies pass; traffic to the
 *       metadata service passes (as on EC2, groups do not govern it); a new connection from an instance
 *       jumps to its {@code out_} chain ({@code ip saddr} verdict map); what that chain does not accept, and
 *       anything from an instance address without a chain, is dropped.</li>
 *   <li>{@code ingress} (postrouting, every packet that leaves over the bridge, whether bridged from another
 *       instance, routed from outside or sent by the host itself, e.g. the user's SSH): the same with
 *       {@code ip daddr} and the {@code in_} chains.</li>
 *   <li>one set {@code m_GROUP} per group with its members' addresses, for rules whose peer is a group.</li>
 * </ul>
 */
final class SecurityGroupRuleset {
    static final String TABLE = "flint_sg";
    private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    private static final Pattern GROUP = Pattern.compile("sg-[0-9a-f]{1,32}");
    private static final Pattern PROTOCOL_NUMBER = Pattern.compile("\\d{1,3}");

    private SecurityGroupRuleset() {}

    static String render(FirewallPlan plan, String bridge, String subnet, String metadataAddress) {
        StringBuilder sets = new StringBuilder();
        Map<String, String> setNames = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> g : new java.util.TreeMap<>(plan.groupMembers()).entrySet()) {
            String name = setName(g.getKey());
            setNames.put(g.getKey(), name);
            sets.append("  set ").append(name).append(" { type ipv4_addr; ");
            List<String> members = g.getValue().stream().map(SecurityGroupRuleset::ip).distinct().sorted().toList();
            if (!members.isEmpty()) sets.append("elements = { ").append(String.join(", ", members)).append(" }; ");
            sets.append("}\n");
        }
        StringBuilder chains = new StringBuilder();
        StringBuilder outMap = new StringBuilder(), inMap = new StringBuilder();
        for (FirewallPlan.Interface i : plan.interfaces()) {
            String ip = ip(i.ip());
            String suffix = InstanceNetwork.tapFor(ip).substring(3);
            if (!outMap.isEmpty()) { outMap.append(", "); inMap.append(", "); }
            outMap.append(ip).append(" : jump out_").append(suffix);
            inMap.append(ip).append(" : jump in_").append(suffix);
            chains.append("  chain out_").append(suffix).append(" {\n");
            for (FirewallPlan.Rule r : i.egress()) chains.append("    ").append(rule(r, "daddr", setNames)).append('\n');
            chains.append("  }\n  chain in_").append(suffix).append(" {\n");
            for (FirewallPlan.Rule r : i.ingress()) chains.append("    ").append(rule(r, "saddr", setNames)).append('\n');
            chains.append("  }\n");
        }
        return "table ip " + TABLE + "\ndelete table ip " + TABLE + "\ntable ip " + TABLE + " {\n" + sets
                + "  chain egress {\n"
                + "    type filter hook prerouting priority 0; policy accept;\n"
                + "    iifname != \"" + bridge + "\" accept\n"
                + "    ct state established,related accept\n"
                + "    ip daddr " + ip(metadataAddress) + " accept\n"
                + (outMap.isEmpty() ? "" : "    ip saddr vmap { " + outMap + " }\n")
                + "    ip saddr " + subnet + " drop\n"
                + "  }\n"
                + "  chain ingress {\n"
                + "    type filter hook postrouting priority 0; policy accept;\n"
                + "    oifname != \"" + bridge + "\" accept\n"
                + "    ct state established,related accept\n"
                + (inMap.isEmpty() ? "" : "    ip daddr vmap { " + inMap + " }\n")
                + "    ip daddr " + subnet + " drop\n"
                + "  }\n"
                + chains + "}\n";
    }

    /** One allow rule; {@code peerField} is {@code saddr} for ingress (the sender) and {@code daddr} for egress. */
    static String rule(FirewallPlan.Rule r, String peerField, Map<String, String> setNames) {
        StringBuilder s = new StringBuilder();
        if (r.group() != null) {
            String set = setNames.get(r.group());
            if (set == null) throw new IllegalArgumentException("rule names group " + r.group() + ", which has no member list");
            s.append("ip ").append(peerField).append(" @").append(set).append(' ');
        } else if (!r.cidr().equals("0.0.0.0/0")) {
            s.append("ip ").append(peerField).append(' ').append(cidr(r.cidr())).append(' ');
        }
        switch (r.protocol()) {
            case "-1" -> { }
            case "tcp", "udp" -> {
                checkPort(r.fromPort());
                checkPort(r.toPort());
                if (r.fromPort() > r.toPort()) throw new IllegalArgumentException("port range " + r.fromPort() + "-" + r.toPort());
                if (r.fromPort() == 0 && r.toPort() == 65535) s.append("meta l4proto ").append(r.protocol()).append(' ');
                else s.append(r.protocol()).append(" dport ").append(r.fromPort() == r.toPort() ? String.valueOf(r.fromPort())
                        : r.fromPort() + "-" + r.toPort()).append(' ');
            }
            case "icmp" -> {
                if (r.fromPort() == -1) {
                    s.append("meta l4proto icmp ");
                } else {
                    checkIcmp(r.fromPort());
                    s.append("icmp type ").append(r.fromPort()).append(' ');
                    if (r.toPort() != -1) {
                        checkIcmp(r.toPort());
                        s.append("icmp code ").append(r.toPort()).append(' ');
                    }
                }
            }
            default -> {
                if (!PROTOCOL_NUMBER.matcher(r.protocol()).matches() || Integer.parseInt(r.protocol()) > 255) {
                    throw new IllegalArgumentException("not an IP protocol: " + r.protocol());
                }
                s.append("meta l4proto ").append(Integer.parseInt(r.protocol())).append(' ');
            }
        }
        return s.append("accept").toString();
    }

    static String setName(String group) {
        if (!GROUP.matcher(group).matches()) throw new IllegalArgumentException("not a security group id: " + group);
        return "m_" + group.replace('-', '_');
    }

    static String ip(String ip) {
        if (ip == null || !IPV4.matcher(ip).matches()) throw new IllegalArgumentException("not an IPv4 address: " + ip);
        return ip;
    }

    static String cidr(String cidr) {
        int slash = cidr.indexOf('/');
        if (slash < 0) throw new IllegalArgumentException("not a CIDR block: " + cidr);
        ip(cidr.substring(0, slash));
        String bits = cidr.substring(slash + 1);
        if (!bits.matches("\\d{1,2}") || Integer.parseInt(bits) > 32) throw new IllegalArgumentException("not a CIDR block: " + cidr);
        return cidr;
    }

    private static void checkPort(int port) {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("not a port: " + port);
    }

    private static void checkIcmp(int value) {
        if (value < 0 || value > 255) throw new IllegalArgumentException("not an ICMP type or code: " + value);
    }
}
