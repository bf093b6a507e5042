package dev.flint.devices.virtio.net;

import dev.flint.devices.mmds.MmdsNetStack;
import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import dev.flint.devices.ratelimit.RateLimiter;
import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.MalformedRequestException;
import dev.flint.devices.virtio.QueueNotifier;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.GuestMemoryException;
import dev.flint.machine.InterruptController;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Logger;

/**
 * virtio-net over a {@link NetBackend} (a TAP device): queue 0 receives, queue 1 transmits; no control
 * queue. Frames cross with their 12-byte virtio_net_hdr in front, unchanged in both directions, so the
 * offloads Flint offers are the host stack's: the guest may send frames with partial checksums and TSO
 * segments (CSUM, HOST_TSO4/6: the TAP accepts them and the host finishes them), and takes the same from
 * the host once it accepts GUEST_CSUM and GUEST_TSO4/6 ({@link #activate} tells the TAP with
 * TUNSETOFFLOAD; before that the host checksums and segments every frame itself).
 *
 * <p>Without MRG_RXBUF each receive chain must hold a whole frame; Linux then posts 64 KiB chains when it
 * negotiated the guest TSO features and MTU-sized ones otherwise, matching what the TAP hands over.
 *
 * <p>Receiving never spins, and needs no thread of its own: the TAP is the device's {@link #hostSource},
 * so the device's one I/O thread waits in poll(2) on it beside the queue notifications. When the TAP is
 * readable the thread reads one frame into a host buffer, copies it into the next receive chain, and
 * reads the following frames itself while the TAP has any. While it holds a frame the guest has no room
 * for, it stops waiting on the TAP: a guest that posts no buffers leaves the frame waiting (the TAP's own
 * queue then drops), and its next kick of queue 0 delivers it.
 */
public final class VirtioNet implements VirtioDevice {
    private static final Logger LOG = Logger.getLogger(VirtioNet.class.getName());

    public static final int TYPE = 1;
    public static final int RX = 0, TX = 1;
    public static final int QUEUE_SIZE = 256;
    static final long F_CSUM = 1L, F_GUEST_CSUM = 1L << 1, F_MTU = 1L << 3, F_MAC = 1L << 5,
            F_GUEST_TSO4 = 1L << 7, F_GUEST_TSO6 = 1L << 8, F_HOST_TSO4 = 1L << 11, F_HOST_TSO6 = 1L << 12;
    /** What Flint offers besides MAC and MTU: each works end to end through a vnet-header TAP. */
    static final long OFFLOADS = F_CSUM | F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4 | F_HOST_TSO6;
    /** virtio_net_hdr with num_buffers: the layout every VERSION_1 driver uses. */
    public static final int HEADER = 12;
    static final int HDR_FLAGS = 0, HDR_GSO_TYPE = 1, HDR_NUM_BUFFERS = 10;
    static final int HDR_F_NEEDS_CSUM = 1;
    /** The largest frame either side may send: a 64 KiB TSO segment with its Ethernet and VLAN headers. */
    public static final int MAX_FRAME = HEADER + 65550;
    /** mac[6], status, max_virtqueue_pairs, mtu (all little-endian 16-bit). */
    private static final int CONFIG_SIZE = 12, CONFIG_MTU = 10;

    private final NetBackend backend;
    private final GuestMemory memory;
    private final MacAddress mac;
    private final Integer mtu;
    private final Arena arena = Arena.ofShared();
    /** The frame being received (I/O thread only); {@code held} while it waits for a receive chain. */
    private final MemorySegment frame = arena.allocate(128 * 1024, 64);
    private final MemorySegment iov = arena.allocate(Libc.IOVEC_BYTES * QUEUE_SIZE, 8);
    private volatile boolean held;
    private int frameLength;
    private volatile long negotiated;
    /** The metadata service's end of this interface, or null; set before the threads start. */
    private MmdsNetStack mmds;
    /** Set once the PCI function exists, after its I/O thread started: volatile for that thread. */
    private volatile QueueNotifier notifier;
    /** The first bytes of a transmitted frame, enough to tell whether it is for the MMDS. */
    private final byte[] peek = new byte[64];
    private boolean backendErrorLogged;
    private boolean closed;
    /** Frames the guest receives and sends: one op and the frame's bytes (without the virtio-net header) each. */
    private final RateLimiter rxLimiter, txLimiter;

    private final LongAdder rxBytes = new LongAdder(), rxPackets = new LongAdder(), rxFails = new LongAdder(),
            tapReadFails = new LongAdder(), txBytes = new LongAdder(), txPackets = new LongAdder(),
            txMalformed = new LongAdder(), tapWriteFails = new LongAdder();

    public VirtioNet(NetBackend backend, GuestMemory memory, MacAddress mac, Integer mtu) {
        this(backend, memory, mac, mtu, RateLimit.NONE, RateLimit.NONE);
    }

    public VirtioNet(NetBackend backend, GuestMemory memory, MacAddress mac, Integer mtu, RateLimit rx, RateLimit tx) {
        this.rxLimiter = new RateLimiter(rx);
        this.txLimiter = new RateLimiter(tx);
        this.backend = backend;
        this.memory = memory;
        this.mac = mac;
        this.mtu = mtu;
    }

    /**
     * The one call the machine builder needs: opens (or creates) the TAP, builds the PCI function and
     * starts receiving. A one-line {@link TapException} if the host refuses the TAP. Closing the returned
     * device stops both threads and closes the TAP (removing it unless it was a persistent one).
     */
    public static VirtioPciDevice pciDevice(NetConfig config, GuestMemory memory, InterruptController irq) {
        TapDevice tap = TapDevice.open(config.tap(), HEADER);
        MacAddress mac = config.mac() != null ? config.mac() : MacAddress.randomLocal();
        LOG.fine(() -> "virtio-net on " + (tap.persistent() ? "persistent " : "new ") + tap.describe() + ", guest MAC " + mac);
        VirtioNet net = new VirtioNet(tap, memory, mac, config.mtu(), config.rxRateLimit(), config.txRateLimit());
        if (config.mmds() != null) net.mmds = new MmdsNetStack(config.mmds());
        return attach(net, memory, irq);
    }

    /** Wraps {@code net} in its PCI function, whose I/O thread then also receives from the TAP. */
    public static VirtioPciDevice attach(VirtioNet net, GuestMemory memory, InterruptController irq) {
        VirtioPciDevice pci;
        try {
            pci = new VirtioPciDevice(net, memory, irq);
        } catch (RuntimeException e) {
            net.close();
            throw e;
        }
        net.startReceiving(pci.queueNotifier());
        return pci;
    }

    /** Answers the metadata service on this interface (before {@link #attach}). */
    public void serveMmds(MmdsNetStack stack) { this.mmds = stack; }

    private void startReceiving(QueueNotifier notifier) {
        this.notifier = notifier;
    }

    /** The TAP, waited on by the I/O thread while no frame is held. */
    @Override
    public HostSource hostSource() {
        return new HostSource() {
            @Override public int fd() { return backend.fd(); }

            @Override public boolean wanted() { return !held; }

            @Override
            public long readable() {
                if (held || !readFrame()) return 0;
                held = true;
                return 1L << RX;
            }
        };
    }

    public MacAddress mac() { return mac; }

    @Override public int type() { return TYPE; }
    @Override public String name() { return "virtio-net"; }
    @Override public String metricsGroup() { return "net"; }
    @Override public int pciClass() { return 0x020000; } // network controller, Ethernet
    @Override public int queueCount() { return 2; }
    @Override public int maxQueueSize() { return QUEUE_SIZE; }
    @Override public int configSize() { return CONFIG_SIZE; }

    @Override public boolean offersEventIdx() { return true; }

    @Override
    public long features() {
        return F_MAC | OFFLOADS | (mtu != null ? F_MTU : 0);
    }

    @Override
    public long readConfig(int offset, int size) {
        byte[] cfg = new byte[CONFIG_SIZE];
        System.arraycopy(mac.bytes(), 0, cfg, 0, 6);
        // status (6) and max_virtqueue_pairs (8) are only meaningful with STATUS and MQ, not offered.
        if (mtu != null) {
            cfg[CONFIG_MTU] = (byte) (int) mtu;
            cfg[CONFIG_MTU + 1] = (byte) (mtu >>> 8);
        }
        return VirtioDevice.littleEndian(cfg, offset, size);
    }

    /** The TAP may now hand over what the driver accepted: partial checksums and TSO frames. */
    @Override
    public void activate(long features) {
        negotiated = features;
        int flags = 0;
        if ((features & F_GUEST_CSUM) != 0) {
            flags |= TapDevice.TUN_F_CSUM;
            if ((features & F_GUEST_TSO4) != 0) flags |= TapDevice.TUN_F_TSO4;
            if ((features & F_GUEST_TSO6) != 0) flags |= TapDevice.TUN_F_TSO6;
        }
        setOffloads(flags);
    }

    @Override
    public void reset() {
        negotiated = 0;
        setOffloads(0);
        if (held) releaseFrame(); // a frame for the old driver: drop it
    }

    private void setOffloads(int flags) {
        try {
            backend.enableOffloads(flags);
        } catch (ErrnoException e) {
            LOG.warning("virtio-net: " + backend.describe() + " refused offloads 0x" + Integer.toHexString(flags)
                    + ": " + e.getMessage());
        }
    }

    @Override
    public boolean readyFor(int queue) {
        return queue != RX || held || (mmds != null && mmds.hasReply());
    }

    /**
     * Rate limiting: a frame for the guest waits (in the device, the TAP holding the ones behind it) until the
     * receive limiter has its tokens; a frame from the guest waits on the transmit ring. The metadata
     * service's answers are Flint's own and not limited.
     */
    @Override
    public long throttle(int queue, DescriptorChain chain) {
        if (queue == RX) {
            if (!held || (mmds != null && mmds.hasReply()) || !rxLimiter.limits()) return 0;
            return rxLimiter.consume(1, frameLength - HEADER);
        }
        if (!txLimiter.limits()) return 0;
        return txLimiter.consume(1, Math.max(0, DescriptorChain.totalLength(chain.readable()) - HEADER));
    }

    /** Snapshot: both directions' rate limiters (buckets as last set, and their tokens). */
    @Override
    public void saveState(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(1);
        rxLimiter.save(out);
        txLimiter.save(out);
    }

    @Override
    public void restoreState(dev.flint.machine.state.StateReader.Section in) {
        VirtioDevice.checkStateVersion(name(), in.getInt(), 1);
        rxLimiter.restore(in);
        txLimiter.restore(in);
        in.end();
    }

    /**
     * {@code PATCH /network-interfaces}: each bucket given replaces the old one (or removes it, when it limits
     * nothing), a null one (or a null limiter) stays, as in Firecracker. Any thread; the caller then has the
     * queues looked at again ({@link VirtioPciDevice#requeueAll()}).
     */
    public void updateRateLimits(BucketConfig rxBandwidth, BucketConfig rxOps, BucketConfig txBandwidth, BucketConfig txOps) {
        rxLimiter.update(rxBandwidth, rxOps);
        txLimiter.update(txBandwidth, txOps);
    }

    @Override
    public int handle(int queue, DescriptorChain chain) {
        return queue == RX ? receive(chain) : transmit(chain);
    }

    // ---- receive (I/O thread, while held) ----

    private int receive(DescriptorChain chain) {
        byte[] reply = mmds == null ? null : mmds.nextReply();
        if (reply != null) return receiveMmds(chain, reply);
        int length = frameLength;
        try {
            if (!chain.readable().isEmpty()) throw malformedRx("receive chain with device-readable buffers");
            List<Buffer> out = chain.writable();
            if (DescriptorChain.totalLength(out) < length) {
                throw malformedRx("receive buffers of " + DescriptorChain.totalLength(out) + " bytes for a "
                        + length + "-byte frame");
            }
            long at = 0;
            for (Buffer b : out) {
                if (at == length) break;
                long n = Math.min(b.length(), length - at);
                MemorySegment.copy(frame, at, memory.slice(b.address(), n), 0, n);
                at += n;
            }
            rxPackets.increment();
            rxBytes.add(length - HEADER);
            return length;
        } catch (GuestMemoryException e) {
            rxFails.increment();
            throw e;
        } finally {
            nextFrame();
        }
    }

    /** An answer of the metadata service into a receive chain, behind a virtio_net_hdr that asks nothing. */
    private int receiveMmds(DescriptorChain chain, byte[] reply) {
        if (!chain.readable().isEmpty()) throw malformedRx("receive chain with device-readable buffers");
        List<Buffer> out = chain.writable();
        int length = HEADER + reply.length;
        if (DescriptorChain.totalLength(out) < length) {
            throw malformedRx("receive buffers of " + DescriptorChain.totalLength(out) + " bytes for a " + length + "-byte frame");
        }
        byte[] whole = new byte[length];
        whole[HDR_NUM_BUFFERS] = 1;
        System.arraycopy(reply, 0, whole, HEADER, reply.length);
        int at = 0;
        for (Buffer b : out) {
            if (at == length) break;
            int n = (int) Math.min(b.length(), length - at);
            MemorySegment.copy(MemorySegment.ofArray(whole), at, memory.slice(b.address(), n), 0, n);
            at += n;
        }
        rxPackets.increment();
        rxBytes.add(reply.length);
        return length;
    }

    private MalformedRequestException malformedRx(String what) {
        rxFails.increment();
        return new MalformedRequestException(what + " (frame dropped)");
    }

    /** Reads the next frame while the TAP has one; otherwise the I/O thread goes back to waiting on the TAP. */
    private void nextFrame() {
        if (!readFrame()) held = false; // on the I/O thread: its next poll includes the TAP again
    }

    private void releaseFrame() {
        held = false;
        // From another thread (a reset), the I/O thread may be asleep without the TAP in its poll set: wake it.
        QueueNotifier n = notifier;
        if (n != null) n.queueNotified(RX);
    }

    /**
     * One frame from the backend into {@link #frame}, fit for the driver; false if there is none now.
     * Frames the driver did not agree to take (offloaded ones queued before a renegotiation) are dropped.
     */
    private boolean readFrame() {
        while (true) {
            long n;
            try {
                n = Libc.read(backend.fd(), frame);
            } catch (ErrnoException e) {
                if (e.errno() != Libc.EAGAIN) backendError("read", e);
                return false;
            }
            if (n < HEADER) {
                if (n == 0) return false;
                tapReadFails.increment();
                continue;
            }
            long f = negotiated;
            int flags = frame.get(ValueLayout.JAVA_BYTE, HDR_FLAGS), gso = frame.get(ValueLayout.JAVA_BYTE, HDR_GSO_TYPE);
            if (((flags & HDR_F_NEEDS_CSUM) != 0 && (f & F_GUEST_CSUM) == 0)
                    || (gso != 0 && (f & (F_GUEST_TSO4 | F_GUEST_TSO6)) == 0)) {
                rxFails.increment();
                continue;
            }
            // The TAP writes the 10-byte legacy header; num_buffers is ours, and 1 without MRG_RXBUF.
            frame.set(ValueLayout.JAVA_SHORT_UNALIGNED, HDR_NUM_BUFFERS, (short) 1);
            frameLength = (int) n;
            return true;
        }
    }

    // ---- transmit (I/O thread) ----

    private int transmit(DescriptorChain chain) {
        if (!chain.writable().isEmpty()) {
            txMalformed.increment();
            throw new MalformedRequestException("transmit chain with device-writable buffers");
        }
        List<Buffer> in = chain.readable();
        long length = DescriptorChain.totalLength(in);
        if (length < HEADER || length > MAX_FRAME) {
            txMalformed.increment();
            throw new MalformedRequestException("transmit frame of " + length + " bytes (header included)");
        }
        if (mmds != null && toMmds(in, (int) length)) return 0;
        int count = 0;
        for (Buffer b : in) {
            if (b.length() == 0) continue;
            // slice() checks the buffer lies in RAM; the kernel then reads straight from guest memory.
            MemorySegment data = memory.slice(b.address(), b.length());
            iov.set(ValueLayout.JAVA_LONG, Libc.IOVEC_BYTES * count, data.address());
            iov.set(ValueLayout.JAVA_LONG, Libc.IOVEC_BYTES * count + 8, b.length());
            count++;
        }
        try {
            Libc.writev(backend.fd(), iov, count);
            txPackets.increment();
            txBytes.add(length - HEADER);
        } catch (ErrnoException e) {
            // EINVAL: the TAP refused the header (a bogus offload request); EIO: the TAP is down. Dropped.
            tapWriteFails.increment();
            if (e.errno() != Libc.EINVAL && e.errno() != Libc.EIO && e.errno() != Libc.EAGAIN) backendError("write", e);
        }
        return 0;
    }

    /**
     * Hands the frame to the metadata service if it is addressed there (true), instead of the TAP. Only
     * its first bytes are copied to decide; the service then gets its own copy of the whole frame.
     */
    private boolean toMmds(List<Buffer> in, int length) {
        int peeked = copyOut(in, HEADER, peek, peek.length);
        if (!mmds.isForMmds(peek, peeked)) return false;
        byte[] frame = new byte[length - HEADER];
        copyOut(in, HEADER, frame, frame.length);
        mmds.receive(frame, frame.length);
        txPackets.increment();
        txBytes.add(frame.length);
        if (mmds.hasReply() && notifier != null) notifier.queueNotified(RX);
        return true;
    }

    /** Copies up to {@code max} bytes of the chain's readable buffers, from byte {@code skip} on; returns the count. */
    private int copyOut(List<Buffer> in, long skip, byte[] to, int max) {
        int copied = 0;
        long pos = 0;
        for (Buffer b : in) {
            if (copied == max) break;
            long start = Math.max(skip, pos), end = pos + b.length();
            if (start < end) {
                int n = (int) Math.min(end - start, max - copied);
                MemorySegment.copy(memory.slice(b.address() + (start - pos), n), 0, MemorySegment.ofArray(to), copied, n);
                copied += n;
            }
            pos = end;
        }
        return copied;
    }

    /** The metadata service's counters on this interface (empty without one). */
    public Map<String, Long> mmdsCounters() { return mmds == null ? Map.of() : mmds.counters(); }

    private void backendError(String what, ErrnoException e) {
        if (what.equals("read")) tapReadFails.increment();
        if (!backendErrorLogged) {
            LOG.warning("virtio-net: " + what + " on " + backend.describe() + " failed: " + e.getMessage()
                    + " (frame dropped; further errors counted, not logged)");
        }
        backendErrorLogged = true;
    }

    /** Firecracker's net metric names, cumulative, and the metadata service's {@code mmds_*} counters if it answers here. */
    @Override
    public Map<String, Long> counters() {
        Map<String, Long> all = new java.util.TreeMap<>(mmdsCounters()); // mmds_*: what the metadata service took and sent
        all.putAll(Map.of("rx_bytes_count", rxBytes.sum(), "rx_packets_count", rxPackets.sum(), "rx_fails", rxFails.sum(),
                "tap_read_fails", tapReadFails.sum(), "tx_bytes_count", txBytes.sum(), "tx_packets_count", txPackets.sum(),
                "tx_malformed_frames", txMalformed.sum(), "tap_write_fails", tapWriteFails.sum()));
        all.putAll(Map.of("rx_rate_limiter_throttled", rxLimiter.throttledEvents(),
                "rx_event_rate_limiter_count", rxLimiter.wakeEvents(),
                "tx_rate_limiter_throttled", txLimiter.throttledEvents(),
                "tx_rate_limiter_event_count", txLimiter.wakeEvents()));
        return all;
    }

    /** Closes the TAP (the transport has stopped the I/O thread, the only one that reads it). */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        backend.close();
        arena.close();
    }
}
