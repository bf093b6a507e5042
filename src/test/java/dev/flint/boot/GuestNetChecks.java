package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * virtio-net as a user of the default guest sees it, whichever engine runs it: {@code flint run --net
 * tap=...} inside a network namespace the test makes (never on the host's own interfaces), with HTTP both
 * ways. The guest fetches 4 MiB from a server on the host side and checks its SHA-256; the host fetches
 * 2 MiB the guest generated and compares with the guest's SHA-256. The frames counted during each transfer
 * show the TSO offloads at work: without them 4 MiB would take at least 2,897 1500-byte frames. Shared by the emu test on this
 * host and the kvm test that runs nested; both need {@link NetNamespace} to be available.
 */
public final class GuestNetChecks {
    private static final Duration BOOT = Duration.ofMinutes(10);
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final String TAP = "flint0", GUEST_MAC = "06:00:0a:2a:00:02";
    private static final int TO_GUEST = 4 << 20, TO_HOST = 2 << 20;

    private GuestNetChecks() {}

    /** Flint creates the TAP itself (and removes it when it exits). */
    public static void overTheCli(String engine, Path dir) throws Exception {
        Path busybox = GuestAssets.open(GuestAssets.defaultCacheDir()).busybox();
        Path www = Files.createDirectories(dir.resolve("www"));
        HostDataDisk served = HostDataDisk.write(www.resolve("big.bin"), TO_GUEST, 7);

        try (NetNamespace ns = NetNamespace.create();
             FlintProcess flint = FlintProcess.startUnder(ns.wrapper(), "run", "--engine", engine, "--memory", "256",
                     "--net", "tap=" + TAP + ",mac=" + GUEST_MAC)) {
            // Flint creates the TAP at start; the host side gets its address once it is there.
            Await.until("flint created the TAP", Duration.ofMinutes(3), () -> ns.succeeds("ip", "link", "show", TAP)); // minutes when nested
            assertTrue(ns.exec("ip", "-d", "link", "show", TAP).contains("persist off"), "the TAP Flint creates is not persistent");
            ns.exec("ip", "addr", "add", "10.42.0.1/24", "dev", TAP);
            ns.exec("ip", "link", "set", TAP, "up");
            ns.spawn(busybox.toString(), "httpd", "-f", "-p", "10.42.0.1:8080", "-h", www.toString());

            flint.await("Flint guest: busybox", BOOT);
            flint.await("# ", STEP);
            // Typed lines are echoed; each check waits for text only the command's output contains.
            flint.type("ip addr add 10.42.0.2/24 dev eth0 && ip link set eth0 up && echo mac=$(cat /sys/class/net/eth0/address)-$((1+1))");
            flint.await("mac=" + GUEST_MAC + "-2", STEP);
            // Frames counted during each transfer alone: data segments, a few control ones, no ACKs for the other way.
            flint.type("S=/sys/class/net/eth0/statistics; rx0=$(cat $S/rx_packets); wget -q -O /tmp/big.bin http://10.42.0.1:8080/big.bin;"
                    + " sha256sum /tmp/big.bin; echo frames-in=$(($(cat $S/rx_packets)-rx0)) get-$((1+2))-done");
            flint.await("get-3-done", STEP);
            assertTrue(flint.output().contains(served.sha256() + "  /tmp/big.bin"), "the guest got the host's 4 MiB intact");

            flint.type("mkdir -p /www && head -c " + TO_HOST + " /dev/urandom > /www/out.bin && httpd -p 80 -h /www"
                    + " && sha256sum /www/out.bin && tx0=$(cat $S/tx_packets) && echo serve-$((2+2))-up");
            flint.await("serve-4-up", STEP);
            Matcher guestSum = Pattern.compile("([0-9a-f]{64})  /www/out.bin").matcher(flint.output());
            assertTrue(guestSum.find(), flint.output());
            Path fetched = dir.resolve("from-guest.bin");
            ns.exec(busybox.toString(), "wget", "-q", "-O", fetched.toString(), "http://10.42.0.2/out.bin");
            assertEquals(TO_HOST, Files.size(fetched));
            assertEquals(guestSum.group(1), HostDataDisk.sha256(Files.readAllBytes(fetched)), "the host got the guest's 2 MiB intact");
            flint.type("echo frames-out=$(($(cat $S/tx_packets)-tx0)) end-$((3+3))");
            flint.await("end-6", STEP);

            // Without the offloads each direction needs a frame per 1448-byte segment at least; with them the
            // host's (and the guest's) TCP sends at least 2 segments a frame even when slow (tcp_min_tso_segs).
            Matcher in = Pattern.compile("frames-in=(\\d+) get-3-done").matcher(flint.output());
            Matcher out = Pattern.compile("frames-out=(\\d+) end-6").matcher(flint.output());
            assertTrue(in.find() && out.find(), flint.output());
            String frames = "frames-in=" + in.group(1) + " frames-out=" + out.group(1);
            System.out.println(engine + " virtio-net frames: " + frames);
            assertTrue(Long.parseLong(in.group(1)) < TO_GUEST / 1448, "the guest received TSO frames (GUEST_TSO4): " + frames);
            assertTrue(Long.parseLong(out.group(1)) < TO_HOST / 1448, "the guest sent TSO frames (HOST_TSO4): " + frames);

            flint.type("poweroff -f");
            assertEquals(0, flint.exitCode(STEP), flint.output());
            assertFalse(ns.succeeds("ip", "link", "show", TAP), "the TAP Flint created is gone once Flint exits");
        }
    }
}
