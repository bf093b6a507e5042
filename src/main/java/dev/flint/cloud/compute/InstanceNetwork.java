package dev.flint.cloud.compute;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Collection;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The host side of the instance network, in the namespace the daemon runs in:
 * <ul>
 *   <li>a bridge ({@value #BRIDGE}) holding the gateway address 172.31.0.1/20 and the metadata address
 *       169.254.169.254/32, with IPv4 forwarding on;</li>
 *   <li>outbound NAT: packets from 172.31.0.0/20 leaving by another interface are masqueraded
 *       (nftables table {@code ip flint});</li>
 *   <li>one persistent TAP per instance ({@code flt} + the address in hex), a port of the bridge, which the
 *       instance's VMM attaches to;</li>
 *   <li>an anti-spoofing guard on every TAP port (nftables table {@code bridge flint}): a frame from an
 *       instance must carry its own MAC, and its ARP and IPv4 packets its own address; every other
 *       ethertype (IPv6 included) is dropped. So the source address the metadata service sees is the
 *       instance's own, and no instance can pass for another;</li>
 *   <li>the same guard on the way out: an IPv4 packet may leave by an instance's TAP only if it is addressed to
 *       that instance, so the security groups ({@link SecurityGroupRuleset}), which know instances by
 *       address, see the instance a packet is really delivered to;</li>
 *   <li>a cap of {@value #METADATA_CONNECTIONS_PER_INSTANCE} open connections per instance to the
 *       metadata service (nftables {@code ct count}): more are reset, so one guest cannot take the
 *       service from the others.</li>
 * </ul>
 * The guard lives in two nftables sets (port . MAC, port . address); a port joins them when its instance
 * launches and leaves them when it exits.
 */
final class InstanceNetwork {
    static final String BRIDGE = "flintbr0";
    static final String GATEWAY = "172.31.0.1";
    static final int PREFIX = 20;
    static final String SUBNET = "172.31.0.0/20";
    static final String METADATA_ADDRESS = "169.254.169.254";
    /** Open connections one instance may hold to the metadata service, so it cannot starve the others. */
    static final int METADATA_CONNECTIONS_PER_INSTANCE = 16;
    private static final String TAP_PREFIX = "flt";
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    /** One instance's port: its TAP, MAC and address. */
    record Port(String tap, String mac, String ip) {}

    private final HostCommands host;

    InstanceNetwork(HostCommands host) {
        this.host = host;
    }

    /** The TAP name of the instance at {@code ip}: unique per address, at most 11 characters. */
    static String tapFor(String ip) {
        return TAP_PREFIX + HexFormat.of().formatHex(ipv4(ip).getAddress());
    }

    static Port port(String ip, String mac) {
        String m = mac.toLowerCase(java.util.Locale.ROOT);
        if (!MAC.matcher(m).matches()) throw new IllegalArgumentException("not a MAC address: " + mac);
        return new Port(tapFor(ip), m, ipv4(ip).getHostAddress());
    }

    private static Inet4Address ipv4(String ip) {
        if (!ip.matches("\\d{1,3}(\\.\\d{1,3}){3}")) throw new IllegalArgumentException("not an IPv4 address: " + ip);
        try {
            return (Inet4Address) InetAddress.getByName(ip);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IPv4 address: " + ip);
        }
    }

    /**
     * Makes the bridge, forwarding and the nftables tables (replacing Flint's tables whole, in one
     * transaction), with the guard already holding {@code survivors}: the ports of VMMs that outlived a
     * previous daemon keep their protection without a gap.
     */
    void setUp(Collection<Port> survivors) throws IOException {
        if (!host.succeeds("ip", "link", "show", "dev", BRIDGE)) {
            host.run("ip", "link", "add", "name", BRIDGE, "type", "bridge");
        }
        host.run("ip", "addr", "replace", GATEWAY + "/" + PREFIX, "dev", BRIDGE);
        host.run("ip", "addr", "replace", METADATA_ADDRESS + "/32", "dev", BRIDGE);
        host.run("ip", "link", "set", "dev", BRIDGE, "up");
        host.run("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward");
        // Security groups filter at the IPv4 hooks with connection tracking; bridged frames reach those only
        // through br_netfilter. Without it instances on the bridge would reach each other unfiltered: refuse.
        if (!host.succeeds("sh", "-c", "[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter")) {
            throw new IOException("security groups need the kernel's br_netfilter (modprobe br_netfilter failed)");
        }
        host.run("sh", "-c", "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables");
        host.runWithInput(ruleset(survivors), "nft", "-f", "-");
    }

    static String ruleset(Collection<Port> ports) {
        StringBuilder macs = new StringBuilder(), ips = new StringBuilder();
        for (Port p : ports) {
            if (!macs.isEmpty()) { macs.append(", "); ips.append(", "); }
            macs.append('"').append(p.tap).append("\" . ").append(p.mac);
            ips.append('"').append(p.tap).append("\" . ").append(p.ip);
        }
        return """
                table bridge flint
                delete table bridge flint
                table ip flint
                delete table ip flint
                table bridge flint {
                  set macs { type ifname . ether_addr; %s}
                  set ips { type ifname . ipv4_addr; %s}
                  chain guard {
                    type filter hook prerouting priority 0; policy accept;
                    iifname != "%s*" accept
                    iifname . ether saddr != @macs drop
                    ether type arp iifname . arp saddr ether != @macs drop
                    ether type arp iifname . arp saddr ip != @ips drop
                    ether type ip iifname . ip saddr != @ips drop
                    ether type != { ip, arp } drop
                  }
                  chain deliver {
                    type filter hook postrouting priority 0; policy accept;
                    oifname != "%s*" accept
                    ether type ip oifname . ip daddr != @ips drop
                  }
                }
                table ip flint {
                  set imds_conns { type ipv4_addr; size 65535; flags dynamic; }
                  chain input {
                    type filter hook input priority 0; policy accept;
                    iifname "%s" ip daddr %s tcp dport 80 ct state new add @imds_conns { ip saddr ct count over %d } reject with tcp reset
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr %s oifname != "%s" masquerade
                  }
                }
                """.formatted(
                macs.isEmpty() ? "" : "elements = { " + macs + " }; ",
                ips.isEmpty() ? "" : "elements = { " + ips + " }; ",
                TAP_PREFIX, TAP_PREFIX, BRIDGE, METADATA_ADDRESS, METADATA_CONNECTIONS_PER_INSTANCE, SUBNET, BRIDGE);
    }

    /** Creates the instance's TAP on the bridge and admits its MAC and address. */
    void addPort(Port p) throws IOException {
        if (host.succeeds("ip", "link", "show", "dev", p.tap)) removePort(p);
        host.run("ip", "tuntap", "add", "dev", p.tap, "mode", "tap");
        try {
            host.run("ip", "link", "set", "dev", p.tap, "master", BRIDGE, "up");
            admit(p);
        } catch (IOException e) {
            removePort(p);
            throw e;
        }
    }

    /** Admits the port's MAC and address through the guard (the port is on the bridge already). */
    void admit(Port p) throws IOException {
        host.runWithInput("add element bridge flint macs { \"" + p.tap + "\" . " + p.mac + " }\n"
                + "add element bridge flint ips { \"" + p.tap + "\" . " + p.ip + " }\n", "nft", "-f", "-");
    }

    /** Deletes the TAP and its guard entries; quiet about what is already gone. */
    void removePort(Port p) {
        host.succeeds("ip", "link", "delete", "dev", p.tap);
        host.succeeds("nft", "delete", "element", "bridge", "flint", "macs", "{ \"" + p.tap + "\" . " + p.mac + " }");
        host.succeeds("nft", "delete", "element", "bridge", "flint", "ips", "{ \"" + p.tap + "\" . " + p.ip + " }");
    }

    /** Replaces the security groups' table with {@code plan}'s, in one transaction. */
    void applyFirewall(FirewallPlan plan) throws IOException {
        String rules;
        try {
            rules = SecurityGroupRuleset.render(plan, BRIDGE, SUBNET, METADATA_ADDRESS);
        } catch (IllegalArgumentException e) {
            throw new IOException("refusing a firewall plan: " + e.getMessage(), e);
        }
        host.runWithInput(rules, "nft", "-f", "-");
    }
}
