package dev.flint.devices.virtio.net;

import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.virtio.SevereLogCounter;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** virtio-net driven on its rings from the host side (no guest), over a socket pair standing in for the TAP. */
class VirtioNetTest {
    private static final long MB = 1 << 20;
    private static final long OFFERED = VirtioNet.F_MAC | VirtioNet.OFFLOADS | VirtioSpec.F_VERSION_1 | VirtioSpec.F_INDIRECT_DESC
            | VirtioSpec.F_EVENT_IDX;

    @Test
    void offersOnlyWhatItImplementsAndShowsItsMacAndMtu() {
        try (NetRig rig = new NetRig(4 * MB, null)) {
            assertEquals(0x1041, rig.driver.cfgRead(0x02, 2), "modern virtio-net device ID");
            assertEquals(0x020000, rig.driver.cfgRead(0x08, 4) >>> 8, "Ethernet controller class");
            assertEquals(OFFERED, rig.driver.offeredFeatures(), "no MRG_RXBUF, CTRL_VQ, STATUS, MQ or MTU");
            byte[] mac = new byte[6];
            for (int i = 0; i < 6; i++) mac[i] = (byte) rig.driver.deviceConfig(i, 1);
            assertArrayEquals(NetRig.MAC.bytes(), mac);
        }
        try (NetRig rig = new NetRig(4 * MB, 9000)) {
            assertEquals(OFFERED | VirtioNet.F_MTU, rig.driver.offeredFeatures());
            assertEquals(9000, rig.driver.deviceConfig(10, 2));
        }
    }

    @Test
    void theBackendTakesOffloadedFramesOnlyAsFarAsTheDriverAccepted() {
        try (NetRig rig = new NetRig(4 * MB, null)) {
            assertEquals(-1, rig.backend.offloads, "nothing before a driver came");
            rig.start(-1L);
            assertEquals(TapDevice.TUN_F_CSUM | TapDevice.TUN_F_TSO4 | TapDevice.TUN_F_TSO6, rig.backend.offloads);
            rig.driver.common(0x14, 1, 0);
            assertEquals(0, rig.backend.offloads, "a reset turns them off");
            rig.start(-1L & ~VirtioNet.F_GUEST_TSO6);
            assertEquals(TapDevice.TUN_F_CSUM | TapDevice.TUN_F_TSO4, rig.backend.offloads);
            rig.driver.common(0x14, 1, 0);
            rig.start(-1L & ~VirtioNet.F_GUEST_CSUM);
            assertEquals(0, rig.backend.offloads, "TSO without checksum offload is not an offload the TAP can do");
        }
    }

    @Test
    void aTransmittedChainReachesTheBackendAsOneFrameWithItsHeader() {
        try (NetRig rig = new NetRig(4 * MB, null)) {
            rig.start(-1L);
            byte[] frame = frame(1514, 1);
            rig.memory.write(NetRig.BUFFERS, frame, 0, 12);
            rig.memory.write(NetRig.BUFFERS + 0x1000, frame, 12, 500);
            rig.memory.write(NetRig.BUFFERS + 0x3000, frame, 512, frame.length - 512);
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, 12), Segment.in(NetRig.BUFFERS + 0x1000, 500),
                    Segment.in(NetRig.BUFFERS + 0x3000, frame.length - 512))));
            assertArrayEquals(frame, rig.backend.receiveFromGuest(2000));
            VirtioTestDriver.awaitMsis(rig.irq, 0x42, 1);
            assertEquals(1L, rig.device.counters().get("tx_packets_count"));
            assertEquals(1502L, rig.device.counters().get("tx_bytes_count"), "payload bytes, header not counted");
        }
    }

    @Test
    void aReceivedFrameWaitsForABufferThenArrivesWholeWithNumBuffersSet() {
        try (NetRig rig = new NetRig(4 * MB, null)) {
            rig.start(-1L);
            byte[] first = frame(1000, 2);
            rig.backend.sendToGuest(first);
            assertFalse(rig.rx.awaitUsed(1, 200), "no buffer posted: the frame waits");
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS, 2048))));
            rig.rx.kick();
            assertTrue(rig.rx.awaitUsed(1, 30_000));
            assertEquals(first.length, rig.rx.usedLength(0));
            byte[] got = new byte[first.length];
            rig.memory.read(NetRig.BUFFERS, got, 0, got.length);
            byte[] expected = first.clone();
            expected[10] = 1; // num_buffers
            assertArrayEquals(expected, got);
            VirtioTestDriver.awaitMsis(rig.irq, 0x41, 1);

            // Buffers posted first: a frame arriving later needs no kick, and may span descriptors.
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS + 0x10000, 12),
                    Segment.out(NetRig.BUFFERS + 0x20000, 4096), Segment.out(NetRig.BUFFERS + 0x30000, 4096))));
            rig.rx.kick();
            byte[] second = frame(6000, 3);
            rig.backend.sendToGuest(second);
            assertTrue(rig.rx.awaitUsed(1, 30_000));
            assertEquals(second.length, rig.rx.usedLength(1));
            byte[] payload = new byte[4096];
            rig.memory.read(NetRig.BUFFERS + 0x20000, payload, 0, 4096);
            assertArrayEquals(Arrays.copyOfRange(second, 12, 12 + 4096), payload);
            assertEquals(2L, rig.device.counters().get("rx_packets_count"));
            assertEquals(0, rig.device.guestErrors());
        }
    }

    @Test
    void framesForTheMetadataServiceAreAnsweredOnTheReceiveQueueAndNeverReachTheTap() {
        try (NetRig rig = new NetRig(4 * MB, null, new Mmds(1024))) {
            rig.start(-1L);
            // An ARP request for 169.254.169.254 behind a 12-byte virtio_net_hdr of zeros.
            byte[] arp = new byte[12 + 42];
            Arrays.fill(arp, 12, 18, (byte) 0xff);
            System.arraycopy(NetRig.MAC.bytes(), 0, arp, 18, 6);
            arp[24] = 0x08; arp[25] = 0x06;                 // ARP
            arp[26] = 0; arp[27] = 1; arp[28] = 0x08; arp[29] = 0; arp[30] = 6; arp[31] = 4;
            arp[33] = 1;                                      // request
            System.arraycopy(NetRig.MAC.bytes(), 0, arp, 34, 6);
            arp[40] = 10; arp[43] = 2;                        // sender 10.0.0.2
            arp[50] = (byte) 169; arp[51] = (byte) 254; arp[52] = (byte) 169; arp[53] = (byte) 254;
            rig.memory.write(NetRig.BUFFERS, arp, 0, arp.length);
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS + 0x10000, 2048))));
            rig.rx.kick();
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, arp.length))));
            assertTrue(rig.rx.awaitUsed(1, 30_000), "the answer arrives without any frame from the TAP");
            assertEquals(12 + 42, rig.rx.usedLength(0));
            byte[] reply = new byte[12 + 42];
            rig.memory.read(NetRig.BUFFERS + 0x10000, reply, 0, reply.length);
            assertEquals(1, reply[10], "num_buffers");
            assertArrayEquals(NetRig.MAC.bytes(), Arrays.copyOfRange(reply, 12, 18), "to the guest");
            assertEquals(2, reply[12 + 21], "an ARP reply");
            assertNull(rig.backend.receiveFromGuest(300), "the TAP saw nothing");
            // Any other frame still goes to the TAP.
            byte[] other = frame(200, 4);
            rig.memory.write(NetRig.BUFFERS + 0x2000, other, 0, other.length);
            rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS + 0x2000, other.length)));
            assertArrayEquals(other, rig.backend.receiveFromGuest(2000));
            assertEquals(1L, rig.device.counters().get("mmds_arp_replies"));
        }
    }

    @Test
    void aBufferTooSmallForTheFrameDropsItAndTheNextFrameStillArrives() {
        try (NetRig rig = new NetRig(4 * MB, null)) {
            rig.start(-1L);
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS, 100))));
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS + 0x1000, 2048))));
            rig.rx.kick();
            rig.backend.sendToGuest(frame(1514, 4));
            assertTrue(rig.rx.awaitUsed(1, 30_000));
            assertEquals(0, rig.rx.usedLength(0), "nothing written into the short buffer");
            byte[] next = frame(60, 5);
            rig.backend.sendToGuest(next);
            assertTrue(rig.rx.awaitUsed(1, 30_000));
            assertEquals(next.length, rig.rx.usedLength(1));
            assertEquals(1, rig.device.guestErrors());
            assertEquals(1L, rig.device.counters().get("rx_fails"));
        }
    }

    @Test
    void offloadedFramesAreNotGivenToADriverThatDidNotAcceptThem() {
        try (NetRig rig = new NetRig(4 * MB, null)) {
            rig.start(-1L & ~(VirtioNet.F_GUEST_CSUM | VirtioNet.F_GUEST_TSO4 | VirtioNet.F_GUEST_TSO6));
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS, 2048))));
            rig.rx.kick();
            byte[] partial = frame(1000, 6);
            partial[0] = VirtioNet.HDR_F_NEEDS_CSUM;
            rig.backend.sendToGuest(partial);
            byte[] plain = frame(200, 7);
            rig.backend.sendToGuest(plain);
            assertTrue(rig.rx.awaitUsed(1, 30_000));
            assertEquals(plain.length, rig.rx.usedLength(0), "the partial-checksum frame was dropped");
        }
    }

    @Test
    void hostileTransmitChainsAreRefusedWithoutReachingTheBackend() {
        try (SevereLogCounter severe = new SevereLogCounter(); NetRig rig = new NetRig(4 * MB, null)) {
            rig.start(-1L);
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, 12), Segment.out(NetRig.BUFFERS + 0x1000, 100))));
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, 8))), "shorter than the header");
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, VirtioNet.MAX_FRAME + 1))), "too large");
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, 12), Segment.in(4 * MB - 0x1000, 0x2000))),
                    "runs off the end of RAM");
            assertEquals(0, rig.tx.submit(List.of(Segment.in(0xFFFF_FFFF_F000L, 100))), "nowhere near RAM");
            assertNull(rig.backend.receiveFromGuest(200), "nothing was sent");
            assertEquals(5, rig.device.guestErrors());
            assertEquals(3L, rig.device.counters().get("tx_malformed_frames"));
            byte[] ok = frame(64, 8);
            rig.memory.write(NetRig.BUFFERS, ok);
            rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, ok.length)));
            assertArrayEquals(ok, rig.backend.receiveFromGuest(2000), "the queue still works");
            assertEquals(0, severe.count());
        }
    }

    /**
     * Receiving needs no thread of its own: the device's one I/O thread waits on the TAP beside its queues,
     * sleeps while nothing arrives, and close stops it.
     */
    @Test
    void anIdleDeviceSleepsOnOneThreadAndCloseStopsIt() throws Exception {
        var threads = ManagementFactory.getThreadMXBean();
        java.util.Set<Thread> others = Thread.getAllStackTraces().keySet();
        NetRig rig = new NetRig(4 * MB, null).start(-1L);
        try {
            List<Thread> mine = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> !others.contains(t) && t.getName().startsWith("virtio-net")).toList();
            assertEquals(1, mine.size(), "one thread per device: " + mine);
            Thread io = mine.get(0);
            long before = threads.getThreadCpuTime(io.threadId());
            Thread.sleep(500);
            long usedNanos = threads.getThreadCpuTime(io.threadId()) - before;
            assertTrue(usedNanos < 20_000_000, "the I/O thread burned " + usedNanos / 1000 + " µs of CPU while idle");
            rig.close();
            io.join(2000);
            assertFalse(io.isAlive(), "close stops the I/O thread");
        } finally {
            rig.close();
        }
    }

    @Test
    void randomChainsOnBothQueuesNeverEscapeNorStall() {
        int budget = Integer.getInteger("flint.virtio.fuzz.chains", 20_000) / 4;
        long seed = Long.getLong("flint.virtio.fuzz.seed", System.nanoTime());
        Random r = new Random(seed);
        long ram = 16 * MB, area = 8 * MB;
        try (SevereLogCounter severe = new SevereLogCounter(); NetRig rig = new NetRig(ram, null).start(-1L)) {
            int resets = 0;
            for (int submitted = 0; submitted < budget; ) {
                boolean onRx = r.nextBoolean();
                VirtioTestDriver.Queue q = onRx ? rig.rx : rig.tx;
                int batch = 1 + r.nextInt(8);
                for (int i = 0; i < batch; i++, submitted++) {
                    List<Segment> segments = new java.util.ArrayList<>();
                    for (int n = 1 + r.nextInt(4); n > 0; n--) {
                        long length = switch (r.nextInt(5)) {
                            case 0 -> r.nextInt() & 0xFFFF_FFFFL;
                            case 1 -> 0;
                            default -> r.nextInt(70_000);
                        };
                        long address = r.nextInt(10) == 0 ? r.nextLong() : area + (r.nextLong(area) & ~7L);
                        segments.add(new Segment(address, length, r.nextInt(6) == 0 ? !onRx : onRx));
                    }
                    int head = q.addChain(segments);
                    if (r.nextInt(10) == 0) rig.memory.writeShort(q.desc + 16L * head + 14, (short) r.nextInt(0x10000));
                    q.publish(r.nextInt(50) == 0 ? r.nextInt(0x10000) : head);
                    if (onRx) rig.backend.sendToGuest(frame(12 + r.nextInt(1600), r.nextInt()));
                }
                q.kick();
                if (!q.drain(10_000)) { // throws if the device stalls
                    resets++;
                    rig.backend.discardTowardsGuest(); // the frames meant for the chains the reset dropped
                    rig.rx.resyncAfterReset();
                    rig.tx.resyncAfterReset();
                    rig.start(-1L);
                }
                while (rig.backend.receiveFromGuest(0) != null) { } // the host side keeps up
            }
            java.util.logging.Logger.getLogger(VirtioNetTest.class.getName()).info(String.format(
                    "virtio-net fuzz: seed %d, %d chains, %d device resets, %d guest errors", seed, budget, resets,
                    rig.device.guestErrors()));
            assertEquals(0, severe.count(), "an exception escaped to an I/O thread (seed " + seed + ")");
        }
    }

    /** A frame as the TAP carries it: a zero virtio_net_hdr (num_buffers left 0), then seeded bytes. */
    static byte[] frame(int length, int seed) {
        byte[] f = new byte[length];
        new Random(seed).nextBytes(f);
        Arrays.fill(f, 0, Math.min(12, length), (byte) 0);
        return f;
    }
}
