package dev.flint.devices.virtio.net;

import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;

/**
 * A network interface as the user gave it: {@code --net tap=NAME[,mac=MAC][,rx-bandwidth=..][,rx-ops=..]
 * [,tx-bandwidth=..][,tx-ops=..]} (each {@code SIZE/MS[/BURST]}), or the API's network-interfaces entry.
 *
 * @param tap the host TAP device: attached if it exists (a persistent TAP is left in place), created
 *            otherwise (a TAP Flint creates disappears when Flint closes it)
 * @param mac the guest's MAC address, or null for a random locally administered one
 * @param mtu the MTU announced to the guest (VIRTIO_NET_F_MTU), or null to announce none
 * @param mmds the metadata service this interface answers for (frames to its address never reach the
 *             TAP), or null
 * @param rxRateLimit what the guest may receive (Firecracker's {@code rx_rate_limiter}): frame bytes and frames
 * @param txRateLimit what the guest may send ({@code tx_rate_limiter})
 */
public record NetConfig(String tap, MacAddress mac, Integer mtu, Mmds mmds, RateLimit rxRateLimit, RateLimit txRateLimit) {
    /** Linux's IFNAMSIZ, including the terminating NUL. */
    public static final int IFNAMSIZ = 16;
    public static final int MIN_MTU = 68, MAX_MTU = 65535;

    public NetConfig {
        rxRateLimit = RateLimit.orNone(rxRateLimit);
        txRateLimit = RateLimit.orNone(txRateLimit);
        String problem = nameProblem(tap);
        if (problem != null) throw new IllegalArgumentException(problem);
        if (mtu != null && (mtu < MIN_MTU || mtu > MAX_MTU)) {
            throw new IllegalArgumentException("mtu must be between " + MIN_MTU + " and " + MAX_MTU + ", not " + mtu);
        }
    }

    public NetConfig(String tap, MacAddress mac, Integer mtu, Mmds mmds) { this(tap, mac, mtu, mmds, RateLimit.NONE, RateLimit.NONE); }

    public NetConfig(String tap, MacAddress mac) { this(tap, mac, null, null); }

    public NetConfig(String tap, MacAddress mac, Integer mtu) { this(tap, mac, mtu, null); }

    /**
     * Why {@code name} cannot name a network interface (the kernel's dev_valid_name rules), or null.
     * '%' is refused too: the kernel would treat it as a template and pick a name Flint did not ask for.
     */
    public static String nameProblem(String name) {
        if (name == null || name.isEmpty()) return "a TAP device needs a name: tap=NAME";
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= IFNAMSIZ) {
            return "TAP name '" + name + "' is too long: at most " + (IFNAMSIZ - 1) + " bytes";
        }
        if (name.equals(".") || name.equals("..")) return "'" + name + "' is not an interface name";
        for (char c : name.toCharArray()) {
            if (c == '/' || c == ':' || c == '%' || Character.isWhitespace(c) || c < 0x20) {
                return "TAP name '" + name + "' contains '" + (c < 0x20 ? "\\x" + Integer.toHexString(c) : c)
                        + "', which interface names cannot";
            }
        }
        return null;
    }

    /** Parses {@code tap=NAME[,mac=MAC]}; the message of the IllegalArgumentException is one line for the user. */
    public static NetConfig parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("expected tap=NAME[,mac=MAC]");
        String tap = null;
        MacAddress mac = null;
        BucketConfig rxBandwidth = null, rxOps = null, txBandwidth = null, txOps = null;
        for (String option : spec.split(",", -1)) {
            int eq = option.indexOf('=');
            String key = eq < 0 ? option : option.substring(0, eq), value = eq < 0 ? null : option.substring(eq + 1);
            switch (key) {
                case "tap" -> {
                    if (tap != null) throw new IllegalArgumentException("tap= given twice: " + spec);
                    tap = value == null ? "" : value;
                }
                case "mac" -> {
                    if (mac != null) throw new IllegalArgumentException("mac= given twice: " + spec);
                    try {
                        mac = MacAddress.parse(value);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("mac: " + e.getMessage());
                    }
                }
                case "rx-bandwidth" -> rxBandwidth = RateLimit.parseBucket(key, String.valueOf(value));
                case "rx-ops" -> rxOps = RateLimit.parseBucket(key, String.valueOf(value));
                case "tx-bandwidth" -> txBandwidth = RateLimit.parseBucket(key, String.valueOf(value));
                case "tx-ops" -> txOps = RateLimit.parseBucket(key, String.valueOf(value));
                default -> throw new IllegalArgumentException("unknown option '" + option
                        + "' (expected tap=NAME[,mac=MAC][,rx-bandwidth=|rx-ops=|tx-bandwidth=|tx-ops=SIZE/MS[/BURST]]): " + spec);
            }
        }
        if (tap == null) throw new IllegalArgumentException("tap=NAME missing: " + spec);
        String problem = nameProblem(tap);
        if (problem != null) throw new IllegalArgumentException(problem);
        return new NetConfig(tap, mac, null, null, new RateLimit(rxBandwidth, rxOps), new RateLimit(txBandwidth, txOps));
    }
}
