package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.model.SecurityGroupRecord.Rule;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import software.amazon.awssdk.services.ec2.model.IpPermission;
import software.amazon.awssdk.services.ec2.model.IpRange;
import software.amazon.awssdk.services.ec2.model.UserIdGroupPair;

/**
 * Security group rules from a request, checked as EC2 checks them: protocol ({@code tcp}, {@code udp},
 * {@code icmp}, {@code -1}/{@code all}, or a number), ports (both ends for tcp/udp, 0-65535, from ≤ to; ICMP
 * type and code, -1 = any), an IPv4 CIDR block in canonical form, or an existing source group. One rule per
 * source, each with a fresh {@code sgr-} id.
 */
final class RuleParser {
    private RuleParser() {}

    static List<Rule> parse(CloudContext cloud, List<IpPermission> permissions, SecurityGroupActions.Legacy legacy, boolean fresh) {
        if (!permissions.isEmpty() && legacy.given()) {
            throw Ec2Exception.client("InvalidParameterCombination", "Give either IpPermissions or the top-level IpProtocol/FromPort/ToPort/CidrIp, not both.");
        }
        List<Rule> out = new ArrayList<>();
        if (permissions.isEmpty()) {
            if (!legacy.given()) throw Ec2Exception.missingParameter("IpPermissions");
            String protocol = legacy.protocol() == null && legacy.sourceGroupName() != null ? "-1" : legacy.protocol();
            int[] ports = ports(protocol(protocol), legacy.fromPort(), legacy.toPort());
            if (legacy.cidr() != null) out.add(rule(protocol(protocol), ports, cidr(legacy.cidr()), null, null));
            if (legacy.sourceGroupName() != null) {
                out.add(rule(protocol(protocol), ports, null, SecurityGroupActions.byName(cloud, legacy.sourceGroupName()).groupId(), null));
            }
            if (out.isEmpty()) throw Ec2Exception.missingParameter("CidrIp or SourceSecurityGroupName");
            return out;
        }
        for (IpPermission p : permissions) {
            String protocol = protocol(p.ipProtocol());
            int[] ports = ports(protocol, p.fromPort(), p.toPort());
            if (!p.ipv6Ranges().isEmpty()) throw Ec2Exception.invalidParameter("Flint's VPC has no IPv6: Ipv6Ranges are not supported.");
            if (!p.prefixListIds().isEmpty()) throw Ec2Exception.invalidParameter("Flint has no managed prefix lists: PrefixListIds are not supported.");
            int before = out.size();
            for (IpRange range : p.ipRanges()) {
                if (range.cidrIp() == null) throw Ec2Exception.missingParameter("IpRanges.N.CidrIp");
                out.add(rule(protocol, ports, cidr(range.cidrIp()), null, description(range.description())));
            }
            for (UserIdGroupPair pair : p.userIdGroupPairs()) {
                String group;
                if (pair.groupId() != null) group = SecurityGroupActions.byId(cloud, pair.groupId()).value().groupId();
                else if (pair.groupName() != null) group = SecurityGroupActions.byName(cloud, pair.groupName()).groupId();
                else throw Ec2Exception.missingParameter("Groups.N.GroupId");
                out.add(rule(protocol, ports, null, group, description(pair.description())));
            }
            if (out.size() == before) throw Ec2Exception.missingParameter("IpPermissions.N.IpRanges or IpPermissions.N.Groups");
        }
        return out;
    }

    private static Rule rule(String protocol, int[] ports, String cidr, String group, String description) {
        return new Rule(Ids.next("sgr"), protocol, ports[0], ports[1], cidr, group, description);
    }

    private static String description(String d) {
        if (d == null) return null;
        if (d.length() > 255 || !d.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
            throw Ec2Exception.invalidParameter("Invalid rule description: at most 255 printable ASCII characters.");
        }
        return d;
    }

    /** The protocol as stored: tcp, udp, icmp, -1, or another IP protocol number. */
    static String protocol(String p) {
        if (p == null) throw Ec2Exception.missingParameter("IpProtocol");
        String s = p.toLowerCase(Locale.ROOT);
        return switch (s) {
            case "tcp", "6" -> "tcp";
            case "udp", "17" -> "udp";
            case "icmp", "1" -> "icmp";
            case "-1", "all" -> "-1";
            default -> {
                if (s.matches("\\d{1,3}") && Integer.parseInt(s) <= 255) yield String.valueOf(Integer.parseInt(s));
                throw Ec2Exception.invalidParameter("Invalid value '" + p + "' for IP protocol. Unknown protocol.");
            }
        };
    }

    /** From and to: a port range for tcp/udp, ICMP type and code, -1/-1 for everything else (ports do not apply). */
    private static int[] ports(String protocol, Integer from, Integer to) {
        switch (protocol) {
            case "tcp", "udp" -> {
                if (from == null || to == null) {
                    throw Ec2Exception.invalidParameter("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.");
                }
                if (from < 0 || to > 65535 || from > to) {
                    throw Ec2Exception.invalidParameter("Invalid TCP/UDP port range " + from + "-" + to + ": ports are 0 to 65535, from <= to.");
                }
                return new int[] {from, to};
            }
            case "icmp" -> {
                int type = from == null ? -1 : from, code = to == null ? -1 : to;
                if (type < -1 || type > 255 || code < -1 || code > 255 || type == -1 && code != -1) {
                    throw Ec2Exception.invalidParameter("Invalid ICMP type " + type + " or code " + code + " (-1 to 255; code -1 when type is -1).");
                }
                return new int[] {type, code};
            }
            default -> {
                return new int[] {-1, -1};
            }
        }
    }

    /** An IPv4 CIDR block in canonical form (no bits set past the prefix). */
    static String cidr(String c) {
        String[] parts = c.split("/", -1);
        if (parts.length == 2 && parts[0].matches("\\d{1,3}(\\.\\d{1,3}){3}") && parts[1].matches("\\d{1,2}")) {
            long address = 0;
            boolean ok = true;
            for (String octet : parts[0].split("\\.")) {
                int o = Integer.parseInt(octet);
                ok &= o <= 255 && (octet.length() == 1 || octet.charAt(0) != '0');
                address = address << 8 | o;
            }
            int bits = Integer.parseInt(parts[1]);
            long mask = bits == 0 ? 0 : 0xFFFFFFFFL << (32 - bits) & 0xFFFFFFFFL;
            if (ok && bits <= 32 && (address & ~mask & 0xFFFFFFFFL) == 0) return parts[0] + "/" + bits;
        }
        throw Ec2Exception.invalidParameter("CIDR block " + c + " is malformed (an IPv4 network such as 10.0.0.0/24 or 0.0.0.0/0).");
    }

    /** EC2's words for a rule in its errors. */
    static String describe(Rule r) {
        String peer = r.cidr() != null ? r.cidr() : r.groupId();
        String proto = r.protocol().equals("-1") ? "ALL" : r.protocol().toUpperCase(Locale.ROOT);
        return "peer: " + peer + ", " + proto + ", from port: " + r.fromPort() + ", to port: " + r.toPort() + ", ALLOW";
    }
}
