package dev.flint.devices.vhostuser;

import dev.flint.devices.vhostuser.VhostUserMessage.GetConfig;
import dev.flint.devices.vhostuser.VhostUserMessage.GetFeatures;
import dev.flint.devices.vhostuser.VhostUserMessage.GetProtocolFeatures;
import dev.flint.devices.vhostuser.VhostUserMessage.GetQueueNum;
import dev.flint.devices.vhostuser.VhostUserMessage.GetVringBase;
import dev.flint.devices.vhostuser.VhostUserMessage.ResetOwner;
import dev.flint.devices.vhostuser.VhostUserMessage.SetConfig;
import dev.flint.devices.vhostuser.VhostUserMessage.SetFeatures;
import dev.flint.devices.vhostuser.VhostUserMessage.SetMemTable;
import dev.flint.devices.vhostuser.VhostUserMessage.SetOwner;
import dev.flint.devices.vhostuser.VhostUserMessage.SetProtocolFeatures;
import dev.flint.devices.vhostuser.VhostUserMessage.SetVringAddr;
import dev.flint.devices.vhostuser.VhostUserMessage.SetVringBase;
import dev.flint.devices.vhostuser.VhostUserMessage.SetVringEnable;
import dev.flint.devices.vhostuser.VhostUserMessage.SetVringFd;
import dev.flint.devices.vhostuser.VhostUserMessage.SetVringNum;
import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.MalformedRequestException;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.VirtqueueException;
import dev.flint.machine.GuestMemoryException;
import dev.flint.sys.Epoll;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.EventFd;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;
import dev.flint.sys.UnixSocket;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One front end connected to a back end: the vhost-user state machine and the device's event loop in
 * one thread. An epoll waits on the socket, every ring's kick eventfd and a stop eventfd; a message is
 * handled when the socket is readable, a ring is served when its kick fires.
 *
 * <p>The front end is not trusted: every message is validated by the codec and checked against the
 * connection's state here. The first violation ends the connection with one logged line
 * ({@link #run} returns it); the back end itself, and other connections, go on.
 */
public final class BackendConnection implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BackendConnection.class.getName());
    static final long PROTOCOL_FEATURES = VhostUserMessage.PROTOCOL_F_REPLY_ACK | VhostUserMessage.PROTOCOL_F_CONFIG;
    private static final long TOKEN_SOCKET = -1, TOKEN_STOP = -2;

    private final UnixSocket socket;
    private final BackendDevice device;
    private final BackendRing[] rings;
    private final EventFd stop = new EventFd();
    private final Epoll epoll = new Epoll(16);
    private final MemorySegment word = Arena.ofAuto().allocate(8, 8);
    private volatile boolean stopping;
    private boolean closed;
    private boolean owned;
    private long ackedFeatures, ackedProtocol;
    private FrontEndMemory memory;
    private VirtioDevice model;

    public BackendConnection(UnixSocket socket, BackendDevice device) {
        this.socket = socket;
        this.device = device;
        this.rings = new BackendRing[device.queueCount()];
        for (int i = 0; i < rings.length; i++) rings[i] = new BackendRing(device.maxQueueSize());
        epoll.add(socket.fd(), EnumSet.of(Epoll.Interest.READABLE), TOKEN_SOCKET);
        epoll.add(stop.fd(), EnumSet.of(Epoll.Interest.READABLE), TOKEN_STOP);
    }

    /**
     * Serves until the front end disconnects, breaks the protocol, or {@link #stop} is called. Returns
     * null for a clean end, else the one-line reason the connection was closed.
     */
    public String run() {
        try {
            while (!stopping) {
                for (Epoll.Ready r : epoll.await(-1)) {
                    if (r.token() == TOKEN_STOP) return null;
                    if (r.token() == TOKEN_SOCKET) {
                        Frame frame = Frame.read(socket);
                        if (frame == null) return null;
                        handle(frame);
                    } else {
                        serve((int) r.token());
                    }
                }
            }
            return null;
        } catch (VhostUserException e) {
            if (stopping) return null;
            LOG.warning("vhost-user back end: " + e.getMessage() + "; connection closed");
            return e.getMessage();
        }
    }

    /** Asks {@link #run} to return (from any thread). */
    public synchronized void stop() {
        stopping = true;
        if (!closed) stop.signal();
    }

    private void handle(Frame frame) {
        VhostUserMessage message = VhostUserMessage.decode(frame);
        Frame reply = switch (message) {
            case GetFeatures m -> u64(m.code(), device.features() | VhostUserMessage.F_PROTOCOL_FEATURES);
            case SetFeatures m -> {
                long offered = device.features() | VhostUserMessage.F_PROTOCOL_FEATURES;
                if ((m.features() & ~offered) != 0) {
                    throw new VhostUserException(String.format("front end acknowledged features 0x%x that were not offered", m.features() & ~offered));
                }
                ackedFeatures = m.features();
                yield null;
            }
            case GetProtocolFeatures m -> u64(m.code(), PROTOCOL_FEATURES);
            case SetProtocolFeatures m -> {
                if ((m.features() & ~PROTOCOL_FEATURES) != 0) {
                    throw new VhostUserException(String.format("front end acknowledged protocol features 0x%x that were not offered", m.features() & ~PROTOCOL_FEATURES));
                }
                ackedProtocol = m.features();
                yield null;
            }
            case SetOwner m -> { owned = true; yield null; }
            case ResetOwner m -> { resetAll(); yield null; }
            case GetQueueNum m -> u64(m.code(), rings.length);
            case SetMemTable m -> { setMemTable(m); yield null; }
            case SetVringNum m -> {
                BackendRing ring = ring(m.index());
                if (m.num() < 1 || m.num() > device.maxQueueSize() || Integer.bitCount(m.num()) != 1) {
                    throw new VhostUserException("ring size " + m.num() + " (a power of two up to " + device.maxQueueSize() + ")");
                }
                ring.size = m.num();
                yield null;
            }
            case SetVringBase m -> {
                if ((m.base() & ~0xFFFF) != 0) throw new VhostUserException("ring base " + m.base() + " beyond 16 bits");
                ring(m.index()).base = m.base();
                yield null;
            }
            case SetVringAddr m -> { setAddresses(m); yield null; }
            case GetVringBase m -> {
                BackendRing ring = ring(m.index());
                int next = ring.stop();
                yield new Frame(m.code(), Frame.VERSION | Frame.REPLY, VhostUserMessage.state(m.index(), next));
            }
            case SetVringFd m -> { setRingFd(m); yield null; }
            case SetVringEnable m -> {
                ring(m.index()).enabled = m.enable();
                if (m.enable()) serve(m.index());
                yield null;
            }
            case GetConfig m -> {
                requireProtocol(VhostUserMessage.PROTOCOL_F_CONFIG, "GET_CONFIG");
                byte[] data = device.config(m.offset(), m.size());
                yield new Frame(m.code(), Frame.VERSION | Frame.REPLY, VhostUserMessage.config(m.offset(), m.size(), data));
            }
            case SetConfig m -> {
                requireProtocol(VhostUserMessage.PROTOCOL_F_CONFIG, "SET_CONFIG");
                yield null; // the configuration is read-only (no writeback toggle is offered)
            }
        };
        if (reply != null) {
            Frame.write(socket, reply);
        } else if (frame.needsReply() && (ackedProtocol & VhostUserMessage.PROTOCOL_F_REPLY_ACK) != 0) {
            Frame.write(socket, u64(frame.request(), 0));
        }
    }

    private static Frame u64(int code, long value) {
        return new Frame(code, Frame.VERSION | Frame.REPLY, VhostUserMessage.u64(value));
    }

    private void requireProtocol(long bit, String what) {
        if ((ackedProtocol & bit) == 0) throw new VhostUserException(what + " without its protocol feature");
    }

    private BackendRing ring(int index) {
        if (index < 0 || index >= rings.length) {
            throw new VhostUserException("ring " + Integer.toUnsignedString(index) + " (the device has " + rings.length + ")");
        }
        return rings[index];
    }

    private void setMemTable(SetMemTable m) {
        FrontEndMemory mapped;
        try {
            mapped = FrontEndMemory.map(m.regions(), m.fds());
        } finally {
            m.fds().forEach(FileDescriptor::close); // the mappings keep the memory; the descriptors are not needed
        }
        // Rings keep guest-physical addresses, so a running ring goes on in the new table (QEMU sends one
        // whenever its memory map changes).
        if (memory != null) memory.close();
        memory = mapped;
        model = device.bind(memory.memory());
    }

    private void setAddresses(SetVringAddr m) {
        BackendRing ring = ring(m.index());
        if (memory == null) throw new VhostUserException("ring addresses before a memory table");
        if (m.flags() != 0) throw new VhostUserException("ring address flags 0x" + Integer.toHexString(m.flags()) + " (logging is not offered)");
        if (ring.addressed) throw new VhostUserException("ring " + m.index() + " addressed while it runs");
        int size = ring.size;
        long desc = memory.guestPhysical(m.desc(), 16L * size);
        long avail = memory.guestPhysical(m.avail(), 6 + 2L * size);
        long used = memory.guestPhysical(m.used(), 6 + 8L * size);
        ring.queue.reset();
        ring.queue.setSize(size);
        ring.queue.setDescTable(desc);
        ring.queue.setAvailRing(avail);
        ring.queue.setUsedRing(used);
        String problem = ring.queue.layoutProblem(memory.memory());
        if (problem != null) throw new VhostUserException("ring " + m.index() + ": " + problem);
        ring.queue.enable();
        int usedIdx = memory.memory().readShort(used + 2) & 0xFFFF;
        ring.queue.resumeAt(ring.base, usedIdx);
        ring.addressed = true;
        ring.broken = false;
        // Without protocol features a ring starts enabled; with them, SET_VRING_ENABLE turns it on.
        if ((ackedFeatures & VhostUserMessage.F_PROTOCOL_FEATURES) == 0) ring.enabled = true;
    }

    private void setRingFd(SetVringFd m) {
        BackendRing ring;
        try {
            ring = ring(m.index());
        } catch (VhostUserException e) {
            if (m.fd() != null) m.fd().close();
            throw e;
        }
        switch (m.which()) {
            case KICK -> {
                if (ring.kick != null) {
                    epoll.remove(ring.kick.fd());
                    ring.kick.close();
                }
                ring.kick = m.fd();
                if (m.fd() == null) throw new VhostUserException("ring " + m.index() + " without a kick descriptor (polling is not offered)");
                try {
                    epoll.add(m.fd().fd(), EnumSet.of(Epoll.Interest.READABLE), m.index());
                } catch (ErrnoException e) {
                    throw new VhostUserException("ring " + m.index() + "'s kick descriptor cannot be waited on: " + e.getMessage());
                }
                if (!ring.enabled && (ackedFeatures & VhostUserMessage.F_PROTOCOL_FEATURES) == 0) ring.enabled = true;
                serve(m.index());
            }
            case CALL -> {
                if (ring.call != null) ring.call.close();
                ring.call = m.fd();
            }
            case ERR -> {
                if (ring.err != null) ring.err.close();
                ring.err = m.fd();
            }
        }
    }

    /** Drains the kick and serves every available chain, then calls the front end if it wants that. */
    private void serve(int index) {
        BackendRing ring = rings[index];
        if (ring.kick != null) drain(ring.kick);
        if (!ring.running() || model == null) return;
        var memory = this.memory.memory();
        boolean indirect = (ackedFeatures & VirtioSpec.F_INDIRECT_DESC) != 0;
        try {
            // One batch per kick, as Flint's own transport serves it: the model may defer a request's I/O
            // (VirtioDevice.DEFERRED) and complete it in finishBatch; the used index moves once at the end.
            boolean[] completed = {false};
            DescriptorChain chain;
            while ((chain = ring.queue.pop(memory, indirect)) != null) {
                int written;
                try {
                    written = model.handle(index, chain);
                } catch (GuestMemoryException | MalformedRequestException e) {
                    written = 0;
                }
                if (written == VirtioDevice.DEFERRED || written == VirtioDevice.KEEP) continue;
                ring.queue.addUsed(memory, chain.head(), written);
                completed[0] = true;
            }
            model.finishBatch(index, (head, written) -> {
                ring.queue.addUsed(memory, head, written);
                completed[0] = true;
            });
            if (completed[0]) ring.queue.publishUsed(memory);
            if (completed[0] && ring.queue.interruptWanted(memory)) signal(ring.call);
        } catch (VirtqueueException e) {
            // The driver broke its ring: stop serving it, tell the front end (its error eventfd), keep the connection.
            ring.broken = true;
            LOG.warning("vhost-user back end: ring " + index + ": " + e.getMessage() + "; ring stopped");
            signal(ring.err);
        }
    }

    private void drain(FileDescriptor fd) {
        try {
            Libc.read(fd.fd(), word);
        } catch (ErrnoException e) {
            if (e.errno() != Libc.EAGAIN) throw new VhostUserException("kick descriptor unreadable: " + e.getMessage());
        }
    }

    private void signal(FileDescriptor fd) {
        if (fd == null) return;
        word.set(JAVA_LONG, 0, 1);
        try {
            Libc.write(fd.fd(), word);
        } catch (ErrnoException e) {
            throw new VhostUserException("call descriptor unwritable: " + e.getMessage());
        }
    }

    private void resetAll() {
        for (BackendRing ring : rings) {
            if (ring.kick != null) epoll.remove(ring.kick.fd());
            ring.closeFds();
            ring.stop();
            ring.base = 0;
            ring.enabled = false;
        }
        ackedFeatures = 0;
        ackedProtocol = 0;
        owned = false;
    }

    /** Whether SET_OWNER came (for tests and logs). */
    boolean owned() { return owned; }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (BackendRing ring : rings) ring.closeFds();
        if (memory != null) memory.close();
        memory = null;
        epoll.close();
        stop.close();
        socket.close();
    }
}
