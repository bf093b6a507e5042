package dev.flint.cloud.fleet;

import java.util.Collection;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * The instance subnet, as agreed with the runtime's networking ({@code InstanceNetwork}): 172.31.0.0/20 (the
 * size of a default VPC subnet in EC2), gateway and host bridge at 172.31.0.1. The control plane hands out
 * 172.31.0.2 to 172.31.15.254, lowest free first; an address belongs to an instance until it is terminated,
 * so it survives stop/start. The MAC address follows from the IP ({@code 06:00:ac:1f:HI:LO}: locally
 * administered, unicast), so it is stable too.
 */
public final class AddressPlan {
    public static final String SUBNET = "172.31.0.0/20";
    public static final String GATEWAY = "172.31.0.1";
    private static final int BASE = (172 << 24) | (31 << 16);
    private static final int FIRST_HOST = 2;
    private static final int LAST_HOST = (1 << 12) - 2;

    private AddressPlan() {}

    /** The lowest address not in {@code taken}, or empty if the subnet is full. */
    public static Optional<String> lowestFree(Collection<String> taken) {
        Set<String> used = new HashSet<>(taken);
        for (int host = FIRST_HOST; host <= LAST_HOST; host++) {
            String ip = toString(BASE | host);
            if (!used.contains(ip)) return Optional.of(ip);
        }
        return Optional.empty();
    }

    public static String macFor(String ip) {
        String[] octets = ip.split("\\.");
        return String.format("06:00:%02x:%02x:%02x:%02x", Integer.parseInt(octets[0]), Integer.parseInt(octets[1]),
                Integer.parseInt(octets[2]), Integer.parseInt(octets[3]));
    }

    /** The EC2-style private DNS name of an address ({@code ip-172-31-0-2.REGION.compute.internal}). */
    public static String hostnameFor(String ip, String region) {
        return "ip-" + ip.replace('.', '-') + "." + region + ".compute.internal";
    }

    private static String toString(int address) {
        return ((address >>> 24) & 0xFF) + "." + ((address >>> 16) & 0xFF) + "." + ((address >>> 8) & 0xFF) + "." + (address & 0xFF);
    }
}
