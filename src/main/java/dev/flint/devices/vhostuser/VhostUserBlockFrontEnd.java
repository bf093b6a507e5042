package dev.flint.devices.vhostuser;

import dev.flint.devices.vhostuser.VhostUserMessage.MemoryRegion;
import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.GuestMemoryException;
import dev.flint.sys.Epoll;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.EventFd;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.SharedMapping;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.logging.Logger;

/**
 * A virtio-blk disk whose requests another process serves over vhost-user (Flint as front end). The
 * guest sees an ordinary virtio-blk function on Flint's PCI transport; each request chain the transport
 * takes off the guest's ring is copied, as descriptors only, into a shadow ring in a small shared
 * memory file the back end maps next to guest RAM (also shared, a memfd). The back end moves the data
 * straight between its disk and guest RAM, puts the chain on the shadow used ring and signals; the
 * transport then completes it to the guest. (QEMU's "shadow virtqueue" for vDPA is the same idea.) A
 * whole batch (what one notification of the guest published) goes to the back end with one kick, so it
 * may serve those requests at once; they come back to the guest in the order the back end finishes them.
 *
 * <p>The back end may die at any moment: its socket hanging up while a request waits, or any protocol
 * error, marks the disk broken with one logged line. The requests in flight and every later one complete
 * with an I/O error status; the guest and the VM go on.
 */
public final class VhostUserBlockFrontEnd implements VirtioDevice {
    private static final Logger LOG = Logger.getLogger(VhostUserBlockFrontEnd.class.getName());
    static final int QUEUE_SIZE = 256;
    /** virtio-blk features passed through from the back end: their meaning is all in the configuration it serves. */
    static final long BLK_FEATURES = 1L << 1 | 1L << 2 | 1L << 4 | 1L << 5 | 1L << 6 | 1L << 9 | 1L << 10 | 1L << 13 | 1L << 14;
    static final long F_RO = 1L << 5;
    static final int CONFIG_SIZE = 60;
    private static final int T_IN = 0, T_GET_ID = 8, T_FLUSH = 4, S_IOERR = 1;
    private static final int DESC = 0, AVAIL = 4096, USED = 8192, SHADOW_BYTES = 16384;
    private static final int F_NEXT = 1, F_WRITE = 2;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long TOKEN_CALL = 1, TOKEN_SOCKET = 2;

    private final Path socketPath;
    private final GuestMemory memory;
    private final boolean readOnly;
    private final FrontEndConnection connection;
    private final long backendFeatures;
    private final byte[] config;
    private final FileDescriptor shadowFile;
    private final SharedMapping shadow;
    private final EventFd kick = new EventFd(), call = new EventFd();
    private final Epoll epoll = new Epoll(4);
    private volatile boolean broken;
    private boolean running;
    private int availIdx, lastUsed;
    // The shadow ring's bookkeeping (I/O thread only): its free descriptors, how the chains in flight are
    // linked, and per chain (by its first descriptor) the guest's head, writable bytes and status byte.
    private final int[] free = new int[QUEUE_SIZE], chainNext = new int[QUEUE_SIZE], guestHead = new int[QUEUE_SIZE];
    private final long[] writable = new long[QUEUE_SIZE], statusAddress = new long[QUEUE_SIZE];
    private int freeCount, inFlight;
    /** Chains the back end finished that the transport has not been given yet. */
    private final int[] doneHead = new int[QUEUE_SIZE], doneWritten = new int[QUEUE_SIZE];
    private int doneCount;

    private VhostUserBlockFrontEnd(Path socketPath, GuestMemory memory, boolean readOnly, FrontEndConnection connection) {
        this.socketPath = socketPath;
        this.memory = memory;
        this.readOnly = readOnly;
        this.connection = connection;
        this.shadowFile = SharedMapping.memfd("flint-vhost-user-ring", SHADOW_BYTES);
        this.shadow = SharedMapping.ofFile(shadowFile.fd(), SHADOW_BYTES);
        long features = connection.ask(new VhostUserMessage.GetFeatures());
        if ((features & VirtioSpec.F_VERSION_1) == 0) throw new VhostUserException("the back end at " + socketPath + " does not offer VIRTIO_F_VERSION_1");
        if ((features & VhostUserMessage.F_PROTOCOL_FEATURES) == 0) {
            throw new VhostUserException("the back end at " + socketPath + " offers no protocol features (CONFIG is needed for the disk's size)");
        }
        long protocol = connection.ask(new VhostUserMessage.GetProtocolFeatures());
        if ((protocol & VhostUserMessage.PROTOCOL_F_CONFIG) == 0) {
            throw new VhostUserException("the back end at " + socketPath + " does not offer the CONFIG protocol feature");
        }
        long wanted = VhostUserMessage.PROTOCOL_F_CONFIG | (protocol & VhostUserMessage.PROTOCOL_F_REPLY_ACK);
        connection.send(new VhostUserMessage.SetProtocolFeatures(wanted));
        if ((wanted & VhostUserMessage.PROTOCOL_F_REPLY_ACK) != 0) connection.useReplyAck();
        connection.send(new VhostUserMessage.SetOwner());
        byte[] reply = connection.askPayload(new VhostUserMessage.GetConfig(0, CONFIG_SIZE), 12 + CONFIG_SIZE);
        this.config = java.util.Arrays.copyOfRange(reply, 12, 12 + CONFIG_SIZE);
        this.backendFeatures = features;
        epoll.add(call.fd(), EnumSet.of(Epoll.Interest.READABLE), TOKEN_CALL);
        epoll.add(connection.socket().fd(), EnumSet.of(Epoll.Interest.READABLE), TOKEN_SOCKET);
        resetBookkeeping();
    }

    /**
     * Connects to the back end at {@code socket} and learns the disk; {@code memory} must be shared
     * ({@link GuestMemory#allocateShared}). A back end that cannot be reached or speaks wrongly is a
     * {@link VhostUserException} with one line.
     */
    public static VhostUserBlockFrontEnd connect(Path socket, GuestMemory memory, boolean readOnly) {
        if (memory.sharedFile() == null) throw new IllegalArgumentException("vhost-user needs guest RAM in shared memory");
        FrontEndConnection connection = FrontEndConnection.connect(socket);
        try {
            return new VhostUserBlockFrontEnd(socket, memory, readOnly, connection);
        } catch (RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    @Override public int type() { return 2; }
    @Override public String name() { return "vhost-user-blk"; }
    @Override public String metricsGroup() { return "block"; }
    @Override public int pciClass() { return 0x018000; }
    @Override public int queueCount() { return 1; }
    @Override public int maxQueueSize() { return QUEUE_SIZE; }
    @Override public int configSize() { return CONFIG_SIZE; }

    @Override
    public long features() {
        return (backendFeatures & BLK_FEATURES) | (readOnly ? F_RO : 0);
    }

    @Override
    public long readConfig(int offset, int size) {
        return VirtioDevice.littleEndian(config, offset, size);
    }

    /** The guest's driver is ready: hand the back end guest RAM and the shadow ring. */
    @Override
    public void activate(long features) {
        if (broken) return;
        try {
            if (running) stopRing();
            long ring = shadow.segment().address();
            shadow.segment().fill((byte) 0);
            availIdx = 0;
            lastUsed = 0;
            resetBookkeeping();
            long agreed = (features & backendFeatures & ~VirtioSpec.F_INDIRECT_DESC) | VirtioSpec.F_VERSION_1
                    | VhostUserMessage.F_PROTOCOL_FEATURES;
            connection.send(new VhostUserMessage.SetFeatures(agreed));
            List<MemoryRegion> regions = new ArrayList<>();
            List<FileDescriptor> fds = new ArrayList<>();
            long top = 0;
            for (GuestMemory.Region r : memory.regions()) {
                regions.add(new MemoryRegion(r.guestPhys(), r.size(), memory.segment().address() + r.hostOffset(), r.hostOffset()));
                fds.add(memory.sharedFile());
                top = Math.max(top, r.end());
            }
            // The shadow ring sits in guest-physical space above RAM, where no guest buffer can be.
            long shadowGpa = Math.max(top, GuestMemory.HIGH_RAM_START);
            regions.add(new MemoryRegion(shadowGpa, SHADOW_BYTES, ring, 0));
            fds.add(shadowFile);
            connection.send(new VhostUserMessage.SetMemTable(regions, fds));
            connection.send(new VhostUserMessage.SetVringNum(0, QUEUE_SIZE));
            connection.send(new VhostUserMessage.SetVringBase(0, 0));
            connection.send(new VhostUserMessage.SetVringAddr(0, 0, ring + DESC, ring + USED, ring + AVAIL, 0));
            connection.send(new VhostUserMessage.SetVringFd(VhostUserMessage.RingFd.CALL, 0, fdOf(call)));
            connection.send(new VhostUserMessage.SetVringFd(VhostUserMessage.RingFd.KICK, 0, fdOf(kick)));
            connection.send(new VhostUserMessage.SetVringEnable(0, true));
            running = true;
        } catch (VhostUserException | ErrnoException e) {
            fail(e.getMessage());
        }
    }

    /** Every shadow descriptor free, nothing in flight. */
    private void resetBookkeeping() {
        for (int i = 0; i < QUEUE_SIZE; i++) {
            free[i] = QUEUE_SIZE - 1 - i;
            guestHead[i] = -1;
        }
        freeCount = QUEUE_SIZE;
        inFlight = 0;
    }

    /** The eventfd's number as a descriptor to send; never closed through this view (the EventFd owns it). */
    private static FileDescriptor fdOf(EventFd e) {
        return new FileDescriptor(e.fd());
    }

    private void stopRing() {
        running = false;
        connection.askPayload(new VhostUserMessage.GetVringBase(0), 8);
    }

    @Override
    public void reset() {
        if (running && !broken) {
            try {
                stopRing();
            } catch (VhostUserException | ErrnoException e) {
                fail(e.getMessage());
            }
        }
        running = false;
    }

    /**
     * Puts the chain on the shadow ring (its descriptors only) and leaves it there: the back end gets the
     * whole batch with one kick in {@link #finishBatch}, so it may work on all of them at once. A request
     * that cannot go to the back end (it is lost, or the disk is read-only for the guest) fails at once.
     */
    @Override
    public int handle(int queue, DescriptorChain chain) {
        List<Buffer> buffers = chain.buffers();
        if (broken || !running || (readOnly && writes(chain))) return failed(chain);
        if (buffers.isEmpty() || buffers.size() > QUEUE_SIZE) return failed(chain);
        if (buffers.size() > freeCount) {
            awaitAll(); // the shadow ring's descriptors are all taken by this batch: let the back end finish those
            if (broken) return failed(chain);
        }
        MemorySegment ring = shadow.segment();
        int head = -1, previous = -1;
        for (int i = 0; i < buffers.size(); i++) {
            Buffer b = buffers.get(i);
            int index = free[--freeCount];
            if (head < 0) head = index;
            else ring.set(SHORT, DESC + 16L * previous + 14, (short) index);
            long d = DESC + 16L * index;
            ring.set(LONG, d, b.address());
            ring.set(INT, d + 8, (int) b.length());
            ring.set(SHORT, d + 12, (short) ((b.writable() ? F_WRITE : 0) | (i + 1 < buffers.size() ? F_NEXT : 0)));
            ring.set(SHORT, d + 14, (short) 0);
            chainNext[index] = -1;
            if (previous >= 0) chainNext[previous] = index;
            previous = index;
        }
        guestHead[head] = chain.head();
        writable[head] = DescriptorChain.totalLength(chain.writable());
        statusAddress[head] = statusByte(chain);
        inFlight++;
        ring.set(SHORT, AVAIL + 4 + 2L * (availIdx & (QUEUE_SIZE - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        VarHandle.releaseFence(); // the descriptors and the ring entry before the index that publishes them
        ring.set(SHORT, AVAIL + 2, (short) availIdx);
        return DEFERRED;
    }

    /**
     * Kicks the back end once for everything this batch put on the shadow ring and returns each chain to
     * the guest as the back end finishes it (in the order it finishes them). Returns with nothing in flight.
     */
    @Override
    public void finishBatch(int queue, Used used) {
        if (inFlight > 0) awaitAll();
        for (int i = 0; i < doneCount; i++) used.used(doneHead[i], doneWritten[i]);
        doneCount = 0;
    }

    /**
     * Kicks the back end and collects its completions until none is in flight. If the back end is lost on
     * the way, what it had not finished fails with an I/O error.
     */
    private void awaitAll() {
        MemorySegment ring = shadow.segment();
        VarHandle.fullFence(); // the published index before the kick the back end wakes on
        try {
            kick.signal();
            while (true) {
                collectUsed(ring);
                if (inFlight == 0) return;
                for (Epoll.Ready r : epoll.await(-1)) {
                    if (r.token() == TOKEN_CALL) call.drain();
                    else if (r.token() == TOKEN_SOCKET) throw new VhostUserException("the back end at " + socketPath + " hung up");
                }
            }
        } catch (VhostUserException | ErrnoException e) {
            fail(e.getMessage());
            failInFlight();
        }
    }

    /** Takes every entry the back end added to the shadow used ring since the last look. */
    private void collectUsed(MemorySegment ring) {
        int usedIdx = ring.get(SHORT, USED + 2) & 0xFFFF;
        VarHandle.acquireFence(); // the entries (and the data the back end wrote into guest RAM) after the index
        while (lastUsed != usedIdx) {
            long e = USED + 4 + 8L * (lastUsed & (QUEUE_SIZE - 1));
            int id = ring.get(INT, e), len = ring.get(INT, e + 4);
            lastUsed = (lastUsed + 1) & 0xFFFF;
            if (id < 0 || id >= QUEUE_SIZE || guestHead[id] < 0) {
                throw new VhostUserException("the back end at " + socketPath + " returned descriptor " + id + ", which is not in flight");
            }
            complete(id, (int) Math.min(len & 0xFFFF_FFFFL, Math.min(writable[id], Integer.MAX_VALUE)));
        }
    }

    /** The shadow chain at {@code id} is done: its descriptors are free again and its guest chain waits to be returned. */
    private void complete(int id, int written) {
        doneHead[doneCount] = guestHead[id];
        doneWritten[doneCount++] = written;
        guestHead[id] = -1;
        inFlight--;
        for (int d = id; d >= 0; d = chainNext[d]) free[freeCount++] = d;
    }

    /** The back end is gone: every chain still in flight gets an I/O error status. */
    private void failInFlight() {
        for (int id = 0; id < QUEUE_SIZE && inFlight > 0; id++) {
            if (guestHead[id] < 0) continue;
            int written = 0;
            if (statusAddress[id] >= 0) {
                try {
                    memory.writeByte(statusAddress[id], (byte) S_IOERR);
                    written = 1;
                } catch (GuestMemoryException e) {
                    // the status byte is not RAM: the driver gets the used entry only
                }
            }
            complete(id, written);
        }
    }

    /** The guest address of the chain's status byte (its last device-writable byte), or -1 if it has none. */
    private static long statusByte(DescriptorChain chain) {
        long length = DescriptorChain.totalLength(chain.writable());
        return length == 0 ? -1 : DescriptorChain.range(chain.writable(), length - 1, 1).getFirst().address();
    }

    /** Whether a request would change the disk (anything but read, flush and GET_ID). */
    private boolean writes(DescriptorChain chain) {
        List<Buffer> header = DescriptorChain.range(chain.readable(), 0, 4);
        if (DescriptorChain.totalLength(header) < 4) return false; // malformed: the back end answers it
        byte[] type = new byte[4];
        int at = 0;
        for (Buffer b : header) {
            memory.read(b.address(), type, at, (int) b.length());
            at += (int) b.length();
        }
        int t = (type[0] & 0xFF) | (type[1] & 0xFF) << 8 | (type[2] & 0xFF) << 16 | (type[3] & 0xFF) << 24;
        return t != T_IN && t != T_FLUSH && t != T_GET_ID;
    }

    /** Completes a chain with an I/O error in its status byte (its last device-writable byte). */
    private int failed(DescriptorChain chain) {
        long length = DescriptorChain.totalLength(chain.writable());
        if (length == 0) return 0;
        try {
            memory.writeByte(DescriptorChain.range(chain.writable(), length - 1, 1).getFirst().address(), (byte) S_IOERR);
            return 1;
        } catch (GuestMemoryException e) {
            return 0;
        }
    }

    private void fail(String reason) {
        if (!broken) LOG.warning("vhost-user-blk " + socketPath + ": " + reason + "; the disk fails every request from now on");
        broken = true;
        running = false;
    }

    /** Whether the back end was lost (requests fail with an I/O error). */
    public boolean broken() { return broken; }

    @Override
    public void close() {
        connection.close();
        epoll.close();
        kick.close();
        call.close();
        shadow.close();
        shadowFile.close();
    }
}
