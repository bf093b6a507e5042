package dev.flint.cloud.compute;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.boot.NetNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The security groups' nftables rules against real packets, with no guest: a namespace stands in for the
 * daemon's (bridge, guard, NAT and the {@code flint_sg} table, set up by {@link InstanceNetwork} itself), and
 * three more for instances, each joined to the bridge by a veth pair named as an instance's TAP would be.
 * TCP servers ({@code socat}) in the instances answer with their name; a connection either gets that answer or
 * is dropped (the client gives up after a few seconds).
 */
class SecurityGroupFirewallTest {
    private static final String D = "sg-00000000000000d0d";
    private static final String G = "sg-0000000000000000a";
    private static final String A = "172.31.0.2", B = "172.31.0.3", C = "172.31.0.4";
    private static final FirewallPlan.Rule ALL_OUT = new FirewallPlan.Rule("-1", -1, -1, "0.0.0.0/0", null);
    private static final FirewallPlan.Rule FROM_D = new FirewallPlan.Rule("-1", -1, -1, null, D);
    private static final FirewallPlan.Rule SSH = new FirewallPlan.Rule("tcp", 22, 22, "0.0.0.0/0", null);

    private static boolean tools() {
        for (String tool : List.of("/usr/sbin/nft", "/usr/bin/socat", "/usr/bin/ping")) if (!new java.io.File(tool).canExecute()) return false;
        return true;
    }

    @Test
    void rulesPassAndDropRealPacketsAndFollowChangesAtOnce() throws Exception {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, "network namespaces unavailable: " + reason);
        assumeTrue(tools(), "nft, socat and ping are needed (bin/test installs them)");
        List<NetNamespace> all = new ArrayList<>();
        try {
            NetNamespace host = NetNamespace.create();
            all.add(host);
            InstanceNetwork network = new InstanceNetwork(new HostCommands(host.wrapper()));
            network.setUp(List.of());
            NetNamespace a = instance(host, network, A, "a", all), b = instance(host, network, B, "b", all), c = instance(host, network, C, "c", all);

            // A and B in the default group, C in another that lets nothing in.
            Map<String, List<String>> members = Map.of(D, List.of(A, B), G, List.of(C));
            network.applyFirewall(new FirewallPlan(List.of(iface(A, List.of(FROM_D), List.of(ALL_OUT)), iface(B, List.of(FROM_D), List.of(ALL_OUT)),
                    iface(C, List.of(), List.of(ALL_OUT))), members));
            assertTrue(reaches(b, A, 22, "a22"), "a member of the same group gets in");
            assertFalse(reaches(host, A, 22, "a22"), "the daemon's namespace has no rule: SSH is dropped");
            assertFalse(reaches(c, A, 22, "a22"), "an instance of another group is dropped");
            assertFalse(reaches(a, C, 80, "c80"), "C lets nothing in");

            // Authorize SSH from anywhere: the host gets in, at once, with no restart of anything.
            network.applyFirewall(new FirewallPlan(List.of(iface(A, List.of(FROM_D, SSH), List.of(ALL_OUT)), iface(B, List.of(FROM_D), List.of(ALL_OUT)),
                    iface(C, List.of(), List.of(ALL_OUT))), members));
            assertTrue(reaches(host, A, 22, "a22"), "SSH authorized");
            assertFalse(reaches(host, A, 80, "a80"), "only port 22");
            // Stateful: A may send nothing new, yet the replies of the connections it accepts pass.
            network.applyFirewall(new FirewallPlan(List.of(iface(A, List.of(FROM_D, SSH), List.of()), iface(B, List.of(FROM_D), List.of(ALL_OUT)),
                    iface(C, List.of(), List.of(ALL_OUT))), members));
            assertTrue(reaches(host, A, 22, "a22"), "replies pass with no egress rule");
            assertFalse(reaches(a, B, 22, "b22"), "A starts no connection");

            // Revoke SSH; move C into the default group: the source-group rule follows membership.
            network.applyFirewall(new FirewallPlan(List.of(iface(A, List.of(FROM_D), List.of(ALL_OUT)), iface(B, List.of(FROM_D), List.of(ALL_OUT)),
                    iface(C, List.of(FROM_D), List.of(ALL_OUT))), Map.of(D, List.of(A, B, C), G, List.of())));
            assertFalse(reaches(host, A, 22, "a22"), "SSH revoked");
            assertTrue(reaches(c, A, 22, "a22"), "C is a member of the default group now");
            assertTrue(reaches(a, C, 80, "c80"), "and A reaches C");

            // Port ranges, ICMP, and an address the plan does not know (fails closed).
            FirewallPlan.Rule web = new FirewallPlan.Rule("tcp", 79, 81, "172.31.0.0/20", null);
            FirewallPlan.Rule ping = new FirewallPlan.Rule("icmp", 8, -1, "0.0.0.0/0", null);
            network.applyFirewall(new FirewallPlan(List.of(iface(A, List.of(web, ping), List.of(ALL_OUT)), iface(C, List.of(), List.of(ALL_OUT))),
                    Map.of(D, List.of(A, C))));
            assertTrue(reaches(host, A, 80, "a80"), "port 80 is in 79-81 and 172.31.0.1 in 172.31.0.0/20");
            assertTrue(host.succeeds("ping", "-c", "1", "-W", "5", A), "ICMP echo allowed");
            assertFalse(host.succeeds("ping", "-c", "1", "-W", "2", C), "C allows no ICMP");
            assertFalse(reaches(host, B, 22, "b22"), "B is in no plan: nothing gets in");
        } finally {
            for (NetNamespace ns : all.reversed()) ns.close();
        }
    }

    private static FirewallPlan.Interface iface(String ip, List<FirewallPlan.Rule> in, List<FirewallPlan.Rule> out) {
        return new FirewallPlan.Interface("i-" + ip, ip, in, out);
    }

    /** A namespace wired to the bridge as an instance at {@code ip}, with servers on 22 and 80 that answer NAME22/NAME80. */
    private static NetNamespace instance(NetNamespace host, InstanceNetwork network, String ip, String name, List<NetNamespace> all)
            throws Exception {
        NetNamespace ns = NetNamespace.create();
        all.add(ns);
        InstanceNetwork.Port port = InstanceNetwork.port(ip, dev.flint.cloud.fleet.AddressPlan.macFor(ip));
        host.exec("ip", "link", "add", port.tap(), "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        host.exec("ip", "link", "set", "dev", port.tap(), "master", InstanceNetwork.BRIDGE, "up");
        network.admit(port);
        ns.exec("ip", "link", "set", "dev", "eth0", "address", port.mac());
        ns.exec("ip", "addr", "add", ip + "/" + InstanceNetwork.PREFIX, "dev", "eth0");
        ns.exec("ip", "link", "set", "dev", "eth0", "up");
        ns.exec("ip", "route", "add", "default", "via", InstanceNetwork.GATEWAY);
        for (int p : new int[] {22, 80}) {
            ns.spawn("socat", "TCP-LISTEN:" + p + ",fork,reuseaddr", "SYSTEM:echo " + name + p);
        }
        return ns;
    }

    /**
     * Whether a TCP connection from {@code from} to {@code ip:port} gets the server's answer. An allowed one is
     * retried (a busy machine may be slow to start the server); a dropped one times out each time.
     */
    private static boolean reaches(NetNamespace from, String ip, int port, String expected) throws IOException, InterruptedException {
        for (int attempt = 0; attempt < 3; attempt++) {
            List<String> argv = new ArrayList<>(from.wrapper());
            argv.addAll(List.of("socat", "-T", "5", "-", "TCP:" + ip + ":" + port + ",connect-timeout=3"));
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            if (out.strip().equals(expected)) return true;
            if (out.contains("timed out")) return false; // dropped: no answer at all, not even a reset
            Thread.sleep(500); // refused: the server is not listening yet
        }
        return false;
    }
}
