package dev.flint.devices.virtio.vsock;

import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.MalformedRequestException;
import dev.flint.devices.virtio.QueueNotifier;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * virtio-vsock (device type 19): stream sockets between the guest and host programs, carried over host
 * Unix sockets as Firecracker does ({@link VsockMuxer}). Queue 0 takes packets to the guest, queue 1
 * brings the guest's packets, queue 2 (events) is only for transport resets: after a snapshot is restored
 * the host's connections are gone, so the device sends one VIRTIO_VSOCK_EVENT_TRANSPORT_RESET there, as
 * Firecracker does, and the guest drops its sockets and reads its CID again. Only stream sockets
 * (no SEQPACKET feature). The configuration is the guest's CID.
 *
 * <p>Everything from the guest is checked: a header that is short, of another socket type, of an
 * unknown operation, with a payload where none belongs or over 64 KiB, is a guest error and dropped; a
 * packet for a stream that does not exist is answered with RST; data beyond the credit Flint gave ends
 * that stream.
 */
public final class VirtioVsock implements VirtioDevice {
    public static final int TYPE = 19;
    public static final int RX = 0, TX = 1, EVENT = 2;
    static final int QUEUE_SIZE = 256;

    private final GuestMemory memory;
    private final VsockConfig config;
    private final VsockMetrics metrics = new VsockMetrics();
    private volatile QueueNotifier notifier;
    private final VsockMuxer muxer;
    /** A restored device owes the driver a transport reset event (set before the transport's restore, cleared on sending). */
    private volatile boolean resetOwed;
    /** VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, the only event id the spec defines. */
    static final int EVENT_TRANSPORT_RESET = 0;

    VirtioVsock(VsockConfig config, GuestMemory memory) throws IOException {
        this.memory = memory;
        this.config = config;
        this.muxer = new VsockMuxer(config, () -> {
            QueueNotifier n = notifier;
            if (n != null) n.queueNotified(RX);
        }, metrics);
    }

    /** The one call the machine builder needs: binds {@code uds_path} and returns the PCI function. */
    public static VirtioPciDevice pciDevice(VsockConfig config, GuestMemory memory, InterruptController irq) {
        VirtioVsock vsock;
        try {
            vsock = new VirtioVsock(config, memory);
        } catch (IOException e) {
            throw new VsockException("vsock uds_path " + config.udsPath() + ": " + e.getMessage(), e);
        }
        return attach(vsock, memory, irq);
    }

    static VirtioPciDevice attach(VirtioVsock vsock, GuestMemory memory, InterruptController irq) {
        VirtioPciDevice pci;
        try {
            pci = new VirtioPciDevice(vsock, memory, irq);
        } catch (RuntimeException e) {
            vsock.close();
            throw e;
        }
        vsock.notifier = pci.queueNotifier();
        return pci;
    }

    @Override public int type() { return TYPE; }
    @Override public String name() { return "virtio-vsock"; }
    @Override public String metricsGroup() { return "vsock"; }
    @Override public int pciClass() { return 0xFF0000; }
    @Override public long features() { return 0; }
    @Override public int queueCount() { return 3; }
    @Override public int maxQueueSize() { return QUEUE_SIZE; }
    @Override public int configSize() { return 8; }

    @Override
    public long readConfig(int offset, int size) {
        byte[] cfg = new byte[8];
        for (int i = 0; i < 8; i++) cfg[i] = (byte) (config.guestCid() >>> (8 * i));
        return VirtioDevice.littleEndian(cfg, offset, size);
    }

    @Override
    public boolean readyFor(int queue) {
        return queue == TX || (queue == RX && muxer.hasToGuest()) || (queue == EVENT && resetOwed);
    }

    @Override
    public int handle(int queue, DescriptorChain chain) {
        return switch (queue) {
            case TX -> { transmit(chain); yield 0; }
            case RX -> receive(chain);
            case EVENT -> transportReset(chain);
            default -> 0;
        };
    }

    /** A packet from the guest: header, then the payload (possibly in the same or further buffers). */
    private void transmit(DescriptorChain chain) {
        List<Buffer> in = chain.readable();
        long total = DescriptorChain.totalLength(in);
        if (total < VsockPacket.HEADER) {
            metrics.badPackets.increment();
            throw new MalformedRequestException("vsock packet of " + total + " bytes");
        }
        byte[] header = read(in, 0, VsockPacket.HEADER);
        VsockPacket p;
        try {
            p = VsockPacket.parse(header);
        } catch (MalformedRequestException e) {
            metrics.badPackets.increment();
            throw e;
        }
        if (total - VsockPacket.HEADER < p.len()) {
            metrics.badPackets.increment();
            throw new MalformedRequestException("vsock payload of " + p.len() + " bytes in " + (total - VsockPacket.HEADER));
        }
        byte[] payload = p.len() == 0 ? new byte[0] : read(in, VsockPacket.HEADER, p.len());
        metrics.txPackets.increment();
        metrics.txBytes.add(payload.length);
        muxer.fromGuest(p, payload);
    }

    /** Writes the owed transport reset event (struct virtio_vsock_event: a le32 id) into an event buffer. */
    private int transportReset(DescriptorChain chain) {
        if (!chain.readable().isEmpty() || DescriptorChain.totalLength(chain.writable()) < 4) {
            throw new MalformedRequestException("vsock event buffer that cannot take a 4-byte event");
        }
        if (!resetOwed) return 0;
        write(chain.writable(), 0, new byte[] {EVENT_TRANSPORT_RESET, 0, 0, 0});
        resetOwed = false;
        metrics.transportResets.increment();
        return 4;
    }

    /**
     * Snapshot: nothing of the connections (they are host sockets of the old process) beyond a layout
     * version; a restored device owes the guest a transport reset.
     */
    @Override
    public void saveState(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(1);
    }

    @Override
    public void restoreState(dev.flint.machine.state.StateReader.Section in) {
        VirtioDevice.checkStateVersion(name(), in.getInt(), 1);
        in.end();
        resetOwed = true;
    }

    /** Fills one receive chain with the next packet for the guest. */
    private int receive(DescriptorChain chain) {
        if (!chain.readable().isEmpty()) throw new MalformedRequestException("vsock receive chain with device-readable buffers");
        List<Buffer> out = chain.writable();
        long room = DescriptorChain.totalLength(out) - VsockPacket.HEADER;
        if (room < 0) throw new MalformedRequestException("vsock receive buffers smaller than the header");
        VsockMuxer.Outgoing o = muxer.nextToGuest((int) Math.min(room, VsockPacket.MAX_PAYLOAD));
        if (o == null) return 0; // a stream went away between readyFor and here: an empty, harmless completion
        write(out, 0, o.header().withLen(o.payload().length).encode());
        if (o.payload().length > 0) write(out, VsockPacket.HEADER, o.payload());
        metrics.rxPackets.increment();
        metrics.rxBytes.add(o.payload().length);
        return VsockPacket.HEADER + o.payload().length;
    }

    private byte[] read(List<Buffer> buffers, long from, int length) {
        byte[] data = new byte[length];
        int at = 0;
        for (Buffer b : DescriptorChain.range(buffers, from, length)) {
            memory.read(b.address(), data, at, (int) b.length());
            at += (int) b.length();
        }
        return data;
    }

    private void write(List<Buffer> buffers, long from, byte[] data) {
        int at = 0;
        for (Buffer b : DescriptorChain.range(buffers, from, data.length)) {
            memory.write(b.address(), data, at, (int) b.length());
            at += (int) b.length();
        }
    }

    /** Streams open now. */
    public int openStreams() { return muxer.openStreams(); }

    @Override
    public Map<String, Long> counters() { return metrics.snapshot(); }

    /** The driver reset the device: every stream ends (the guest's sockets were reset with it). */
    @Override
    public void reset() { muxer.resetAll(); }

    @Override
    public void close() { muxer.close(); }
}
