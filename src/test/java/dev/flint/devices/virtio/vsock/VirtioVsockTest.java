package dev.flint.devices.virtio.vsock;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.SevereLogCounter;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import dev.flint.testing.Await;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-vsock driven on its rings from the host, as the guest's driver would, with real Unix sockets on
 * the host side: both connection directions, RST for a port nothing listens on, the guest's credit
 * respected, and a fuzz run of random and mutated packets ({@code -Dflint.virtio.fuzz.chains=N}) after
 * which the device still serves.
 */
class VirtioVsockTest {
    private static final long CID = 3;
    private static final long RX_BASE = 0x100000, TX_BUF = 0x300000;
    private static final int RX_BUF = VsockPacket.HEADER + 4096;

    @TempDir
    Path dir;
    private GuestMemory memory;
    private VirtioPciDevice pci;
    private VirtioVsock vsock;
    private VirtioTestDriver.Queue rx, tx, events;
    private final long[] rxAddress = new long[64];
    private int rxPosted, rxTaken;

    @BeforeEach
    void start() throws Exception {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        RecordingInterrupts irq = new RecordingInterrupts();
        memory = GuestMemory.allocate(4 << 20);
        vsock = new VirtioVsock(new VsockConfig(CID, dir.resolve("v.sock")), memory);
        pci = VirtioVsock.attach(vsock, memory, irq);
        int slot = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq).addDevice(pci);
        VirtioTestDriver driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
        assertEquals(0x1040 + 19, driver.cfgRead(0x02, 2), "virtio-vsock's PCI device id");
        assertEquals(CID, driver.deviceConfig(0, 8), "the guest CID in the configuration");
        driver.enableMsix(4);
        driver.negotiate(-1L);
        rx = driver.setupQueue(0, 64, 0x10000, 1);
        tx = driver.setupQueue(1, 64, 0x20000, 2);
        events = driver.setupQueue(2, 64, 0x30000, 3);
        driver.driverOk();
        for (int i = 0; i < 32; i++) postRx();
    }

    @AfterEach
    void stop() {
        pci.close();
        memory.close();
    }

    /**
     * A restored device owes the driver a transport reset (its host connections died with the old VMM): the
     * first event buffer gets VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (id 0), and only one does.
     */
    @Test
    void aRestoredDeviceSendsOneTransportResetEvent() {
        long eventAddress = 0x380000;
        memory.write(eventAddress, new byte[] {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55});
        for (int i = 0; i < 2; i++) {
            int head = events.addChain(List.of(Segment.out(eventAddress + 8L * i, 8)));
            events.publish(head);
        }
        events.kick();
        pci.requeueAll();
        Await.until("the I/O thread looked at the queues", Duration.ofSeconds(30), () -> pci.ioPasses() >= 2);
        assertEquals(0, events.usedIndex(), "no event while nothing was restored");

        dev.flint.machine.state.StateWriter state = new dev.flint.machine.state.StateWriter();
        try (var s = state.section("vsock")) { vsock.saveState(s); }
        vsock.restoreState(dev.flint.machine.state.StateReader.of(state).section("vsock"));
        pci.requeueAll(); // as the transport's restore does
        Await.until("the transport reset event", Duration.ofSeconds(30), () -> events.usedIndex() == 1);
        assertEquals(4, events.usedLength(0));
        assertEquals(0, memory.readInt(eventAddress), "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET");
        long passes = pci.ioPasses();
        pci.requeueAll();
        Await.until("another pass", Duration.ofSeconds(30), () -> pci.ioPasses() > passes);
        assertEquals(1, events.usedIndex(), "one reset, not one per event buffer");
        assertEquals(1, vsock.counters().get("transport_resets"));
    }

    private void postRx() {
        long address = RX_BASE + (long) (rxPosted % 64) * 0x2000;
        int head = rx.addChain(List.of(Segment.out(address, RX_BUF)));
        rxAddress[head] = address;
        rx.publish(head);
        rx.kick();
        rxPosted++;
    }

    /** The next packet Flint put in the receive queue (waits for it), with its payload. */
    private Received receive() {
        // Several may complete at once: count them ourselves against the used index.
        Await.until("a packet for the guest", Duration.ofSeconds(30), () -> rxPending() > 0);
        int n = rxTaken++;
        int head = rx.usedHead(n), length = rx.usedLength(n);
        byte[] bytes = new byte[length];
        memory.read(rxAddress[head], bytes, 0, length);
        postRx();
        VsockPacket p = VsockPacket.parse(java.util.Arrays.copyOf(bytes, VsockPacket.HEADER));
        return new Received(p, java.util.Arrays.copyOfRange(bytes, VsockPacket.HEADER, length));
    }

    private int rxPending() { return (rx.usedIndex() - rxTaken) & 0xFFFF; }

    /** Takes every packet the device answered and gives the buffers back, as a driver would. */
    private void drainRx() {
        for (int n = rxPending(); n > 0; n--) {
            rxTaken++;
            postRx();
        }
    }

    record Received(VsockPacket header, byte[] payload) {}

    private void send(int srcPort, int dstPort, int op, int flags, byte[] payload, int bufAlloc, int fwdCnt) {
        VsockPacket p = new VsockPacket(CID, VsockPacket.HOST_CID, srcPort, dstPort, payload.length, VsockPacket.TYPE_STREAM, op,
                flags, bufAlloc, fwdCnt);
        memory.write(TX_BUF, p.encode());
        memory.write(TX_BUF + VsockPacket.HEADER, payload);
        // Header and payload in separate descriptors, as Linux sends them.
        List<Segment> chain = payload.length == 0 ? List.of(Segment.in(TX_BUF, VsockPacket.HEADER))
                : List.of(Segment.in(TX_BUF, VsockPacket.HEADER), Segment.in(TX_BUF + VsockPacket.HEADER, payload.length));
        tx.submit(chain);
    }

    private void send(int srcPort, int dstPort, int op, byte[] payload) {
        send(srcPort, dstPort, op, 0, payload, 64 * 1024, 0);
    }

    @Test
    void guestConnectsToUdsPathPortAndDataFlowsBothWays() throws Exception {
        try (ServerSocketChannel host = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            host.bind(UnixDomainSocketAddress.of(Path.of(dir.resolve("v.sock") + "_1234")));
            send(1000, 1234, VsockPacket.OP_REQUEST, new byte[0]);
            Received response = receive();
            assertEquals(VsockPacket.OP_RESPONSE, response.header().op());
            assertEquals(1234, response.header().srcPort());
            assertEquals(1000, response.header().dstPort());
            assertEquals(CID, response.header().dstCid());
            try (SocketChannel peer = host.accept()) {
                send(1000, 1234, VsockPacket.OP_RW, "hello".getBytes(StandardCharsets.US_ASCII));
                ByteBuffer got = ByteBuffer.allocate(5);
                while (got.hasRemaining()) peer.read(got);
                assertEquals("hello", new String(got.array(), StandardCharsets.US_ASCII));

                peer.write(ByteBuffer.wrap("world".getBytes(StandardCharsets.US_ASCII)));
                Received data = receive();
                assertEquals(VsockPacket.OP_RW, data.header().op());
                assertEquals("world", new String(data.payload(), StandardCharsets.US_ASCII));

                send(1000, 1234, VsockPacket.OP_SHUTDOWN, VsockPacket.SHUTDOWN_RCV | VsockPacket.SHUTDOWN_SEND, new byte[0], 65536, 5);
                assertEquals(-1, peer.read(ByteBuffer.allocate(1)), "the guest's close reaches the host as EOF");
                assertEquals(VsockPacket.OP_RST, receive().header().op(), "and Flint ends the stream with RST");
                Await.until("the stream is gone", () -> vsock.openStreams() == 0);
            }
        }
    }

    @Test
    void hostConnectsWithConnectLineAndGetsOk() throws Exception {
        try (SocketChannel host = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("v.sock")))) {
            host.write(ByteBuffer.wrap("CONNECT 52\nearly".getBytes(StandardCharsets.US_ASCII)));
            Received request = receive();
            assertEquals(VsockPacket.OP_REQUEST, request.header().op());
            assertEquals(52, request.header().dstPort());
            int hostPort = request.header().srcPort();
            assertTrue(Integer.toUnsignedLong(hostPort) >= 1L << 30, "Flint's ports start at 2^30");
            send(52, hostPort, VsockPacket.OP_RESPONSE, new byte[0]);
            InputStream in = Channels.newInputStream(host);
            byte[] ok = in.readNBytes(("OK " + hostPort + "\n").length());
            assertEquals("OK " + hostPort + "\n", new String(ok, StandardCharsets.US_ASCII));
            Received early = receive();
            assertEquals("early", new String(early.payload(), StandardCharsets.US_ASCII), "bytes after the CONNECT line are the stream's");
            send(52, hostPort, VsockPacket.OP_RW, "pong".getBytes(StandardCharsets.US_ASCII));
            assertEquals("pong", new String(in.readNBytes(4), StandardCharsets.US_ASCII));
            // fwd_cnt counts the guest's bytes only, not Flint's OK line: more would read as negative credit.
            send(52, hostPort, VsockPacket.OP_CREDIT_REQUEST, new byte[0]);
            Received credit = receive();
            assertEquals(VsockPacket.OP_CREDIT_UPDATE, credit.header().op());
            assertEquals(4, credit.header().fwdCnt());
        }
    }

    @Test
    void aPortNothingListensOnIsRefusedWithRst() {
        send(1001, 9, VsockPacket.OP_REQUEST, new byte[0]);
        Received answer = receive();
        assertEquals(VsockPacket.OP_RST, answer.header().op());
        assertEquals(1001, answer.header().dstPort());
        send(1002, 9, VsockPacket.OP_RW, new byte[] {1});
        assertEquals(VsockPacket.OP_RST, receive().header().op(), "data for no stream is answered with RST");
    }

    @Test
    void hostDataKeepsToTheGuestsCredit() throws Exception {
        try (ServerSocketChannel host = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            host.bind(UnixDomainSocketAddress.of(Path.of(dir.resolve("v.sock") + "_77")));
            send(2000, 77, VsockPacket.OP_REQUEST, 0, new byte[0], 100, 0); // the guest can buffer 100 bytes
            assertEquals(VsockPacket.OP_RESPONSE, receive().header().op());
            try (SocketChannel peer = host.accept()) {
                byte[] data = new byte[300];
                new Random(1).nextBytes(data);
                peer.write(ByteBuffer.wrap(data));
                ByteBuffer got = ByteBuffer.allocate(300);
                while (got.position() < 100) got.put(receive().payload());
                assertEquals(100, got.position(), "no more than the credit");
                // Nothing more may come until the guest frees space: the device has nothing ready for it.
                assertTrue(!vsock.readyFor(VirtioVsock.RX), "held back for credit");
                send(2000, 77, VsockPacket.OP_CREDIT_UPDATE, 0, new byte[0], 100, 100);
                while (got.position() < 200) got.put(receive().payload());
                send(2000, 77, VsockPacket.OP_CREDIT_UPDATE, 0, new byte[0], 100, 200);
                while (got.position() < 300) got.put(receive().payload());
                assertArrayEquals(data, got.array());
            }
        }
    }

    @Test
    void fuzzedPacketsNeverStopTheDevice() throws Exception {
        int chains = Integer.getInteger("flint.virtio.fuzz.chains", 4000);
        Random random = new Random(42);
        long[] counts = new long[3]; // valid-looking, mutated, random
        try (SevereLogCounter severe = new SevereLogCounter();
             ServerSocketChannel host = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            host.bind(UnixDomainSocketAddress.of(Path.of(dir.resolve("v.sock") + "_5")));
            host.configureBlocking(false);
            List<SocketChannel> accepted = new ArrayList<>();
            for (int i = 0; i < chains; i++) {
                byte[] header = new VsockPacket(CID, VsockPacket.HOST_CID, random.nextInt(8), random.nextInt(8), 0, VsockPacket.TYPE_STREAM,
                        1 + random.nextInt(7), random.nextInt(4), random.nextInt(1 << 18), random.nextInt(1 << 18)).encode();
                int kind = random.nextInt(3);
                counts[kind]++;
                if (kind == 1) {
                    for (int m = 1 + random.nextInt(4); m > 0; m--) header[random.nextInt(header.length)] ^= (byte) (1 << random.nextInt(8));
                } else if (kind == 2) {
                    random.nextBytes(header);
                }
                int payload = random.nextInt(3) == 0 ? random.nextInt(5000) : 0;
                if (kind == 0 && payload > 0) header[24] = (byte) payload; // len's low byte: sometimes right, mostly not
                memory.write(TX_BUF, header);
                List<Segment> segments = new ArrayList<>();
                int headerPart = random.nextInt(4) == 0 ? random.nextInt(VsockPacket.HEADER) : VsockPacket.HEADER;
                segments.add(Segment.in(TX_BUF, headerPart));
                if (payload > 0 || headerPart < VsockPacket.HEADER) {
                    long at = random.nextInt(20) == 0 ? (8L << 20) : TX_BUF + headerPart; // now and then outside RAM
                    segments.add(Segment.in(at, payload + (VsockPacket.HEADER - headerPart)));
                }
                tx.submit(segments);
                drainRx();
                for (SocketChannel c; (c = host.accept()) != null; ) accepted.add(c);
            }
            System.out.printf("vsock fuzz: %d chains (%d valid-looking, %d mutated, %d random), %d guest errors, %d streams opened%n",
                    chains, counts[0], counts[1], counts[2], pci.guestErrors(), vsock.counters().get("conns_added"));
            assertEquals(0, severe.count(), "no packet made the device fail");
            assertEquals(0, pci.status() & 0x40, "the device never asked for a reset");
            for (SocketChannel c : accepted) c.close();
        }
        // Still serving: a clean stream to a listening port works afterwards.
        drainRx();
        try (ServerSocketChannel host = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            host.bind(UnixDomainSocketAddress.of(Path.of(dir.resolve("v.sock") + "_4321")));
            send(60000, 4321, VsockPacket.OP_REQUEST, new byte[0]);
            Received r;
            do {
                r = receive();
            } while (r.header().dstPort() != 60000);
            assertEquals(VsockPacket.OP_RESPONSE, r.header().op());
        }
    }
}
