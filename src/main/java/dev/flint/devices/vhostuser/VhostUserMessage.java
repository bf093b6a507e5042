package dev.flint.devices.vhostuser;

import dev.flint.sys.FileDescriptor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The vhost-user requests Flint speaks, front end to back end, as records. {@link #decode} turns a
 * {@link Frame} from a peer into one, checking the payload size each request has, the descriptor count
 * and every flag bit; anything else is a {@link VhostUserException} (and the frame's descriptors are
 * closed). {@link #frame} encodes one for sending; {@link #fds} are the descriptors that go with it.
 */
public sealed interface VhostUserMessage {
    int GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, RESET_OWNER = 4, SET_MEM_TABLE = 5,
            SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10, GET_VRING_BASE = 11, SET_VRING_KICK = 12,
            SET_VRING_CALL = 13, SET_VRING_ERR = 14, GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16,
            GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18, GET_CONFIG = 24, SET_CONFIG = 25;
    /** Feature bit meaning "the protocol-features requests are understood". */
    long F_PROTOCOL_FEATURES = 1L << 30;
    /** Protocol features: acknowledge requests that ask for it; device configuration space requests. */
    long PROTOCOL_F_REPLY_ACK = 1L << 3, PROTOCOL_F_CONFIG = 1L << 9;
    /** A memory table has at most this many regions (and as many descriptors). */
    int MAX_REGIONS = Frame.MAX_FDS;
    /** The largest configuration-space access. */
    int MAX_CONFIG = 256;
    /** Ring descriptor flag of SET_VRING_KICK/CALL/ERR: no descriptor comes with the message. */
    long VRING_NO_FD = 1L << 8;

    int code();

    /** The payload as sent. */
    byte[] payload();

    /** The descriptors sent with the message. */
    default List<FileDescriptor> fds() { return List.of(); }

    /** The message as a frame to send ({@code needReply} sets NEED_REPLY). */
    default Frame frame(boolean needReply) {
        return new Frame(code(), Frame.VERSION | (needReply ? Frame.NEED_REPLY : 0), payload());
    }

    record GetFeatures() implements VhostUserMessage {
        public int code() { return GET_FEATURES; }
        public byte[] payload() { return new byte[0]; }
    }

    record SetFeatures(long features) implements VhostUserMessage {
        public int code() { return SET_FEATURES; }
        public byte[] payload() { return u64(features); }
    }

    record GetProtocolFeatures() implements VhostUserMessage {
        public int code() { return GET_PROTOCOL_FEATURES; }
        public byte[] payload() { return new byte[0]; }
    }

    record SetProtocolFeatures(long features) implements VhostUserMessage {
        public int code() { return SET_PROTOCOL_FEATURES; }
        public byte[] payload() { return u64(features); }
    }

    record SetOwner() implements VhostUserMessage {
        public int code() { return SET_OWNER; }
        public byte[] payload() { return new byte[0]; }
    }

    record ResetOwner() implements VhostUserMessage {
        public int code() { return RESET_OWNER; }
        public byte[] payload() { return new byte[0]; }
    }

    record GetQueueNum() implements VhostUserMessage {
        public int code() { return GET_QUEUE_NUM; }
        public byte[] payload() { return new byte[0]; }
    }

    /** One piece of the front end's guest RAM: where the guest sees it, where the front end maps it, where it is in the file. */
    record MemoryRegion(long guestPhys, long size, long userAddr, long mmapOffset) {}

    /** The front end's guest RAM: one descriptor per region, in order. */
    record SetMemTable(List<MemoryRegion> regions, List<FileDescriptor> fds) implements VhostUserMessage {
        public SetMemTable {
            regions = List.copyOf(regions);
            fds = List.copyOf(fds);
        }
        public int code() { return SET_MEM_TABLE; }
        public byte[] payload() {
            ByteBuffer b = buffer(8 + 32 * regions.size()).putInt(regions.size()).putInt(0);
            for (MemoryRegion r : regions) b.putLong(r.guestPhys()).putLong(r.size()).putLong(r.userAddr()).putLong(r.mmapOffset());
            return b.array();
        }
    }

    /** SET_VRING_NUM and SET_VRING_BASE carry a ring index and a number. */
    record SetVringNum(int index, int num) implements VhostUserMessage {
        public int code() { return SET_VRING_NUM; }
        public byte[] payload() { return state(index, num); }
    }

    record SetVringBase(int index, int base) implements VhostUserMessage {
        public int code() { return SET_VRING_BASE; }
        public byte[] payload() { return state(index, base); }
    }

    /** Stops the ring; the reply carries the next available index the back end would have read. */
    record GetVringBase(int index) implements VhostUserMessage {
        public int code() { return GET_VRING_BASE; }
        public byte[] payload() { return state(index, 0); }
    }

    record SetVringEnable(int index, boolean enable) implements VhostUserMessage {
        public int code() { return SET_VRING_ENABLE; }
        public byte[] payload() { return state(index, enable ? 1 : 0); }
    }

    /** Ring addresses in the front end's address space (not guest-physical). */
    record SetVringAddr(int index, int flags, long desc, long used, long avail, long log) implements VhostUserMessage {
        public int code() { return SET_VRING_ADDR; }
        public byte[] payload() {
            return buffer(40).putInt(index).putInt(flags).putLong(desc).putLong(used).putLong(avail).putLong(log).array();
        }
    }

    /** Which eventfd of a ring SET_VRING_KICK/CALL/ERR sets. */
    enum RingFd { KICK, CALL, ERR }

    /** A ring's kick, call or error eventfd; null fd: polling mode (none sent). */
    record SetVringFd(RingFd which, int index, FileDescriptor fd) implements VhostUserMessage {
        public int code() {
            return switch (which) {
                case KICK -> SET_VRING_KICK;
                case CALL -> SET_VRING_CALL;
                case ERR -> SET_VRING_ERR;
            };
        }
        public byte[] payload() { return u64((index & 0xFF) | (fd == null ? VRING_NO_FD : 0)); }
        public List<FileDescriptor> fds() { return fd == null ? List.of() : List.of(fd); }
    }

    /** Reads {@code size} bytes of the device configuration from {@code offset}. */
    record GetConfig(int offset, int size) implements VhostUserMessage {
        public int code() { return GET_CONFIG; }
        public byte[] payload() { return config(offset, size, new byte[size]); }
    }

    record SetConfig(int offset, byte[] data) implements VhostUserMessage {
        public SetConfig { data = data.clone(); }
        public int code() { return SET_CONFIG; }
        public byte[] payload() { return config(offset, data.length, data); }
    }

    static ByteBuffer buffer(int size) { return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN); }
    static byte[] u64(long v) { return buffer(8).putLong(v).array(); }
    static byte[] state(int index, int num) { return buffer(8).putInt(index).putInt(num).array(); }
    static byte[] config(int offset, int size, byte[] data) {
        return buffer(12 + data.length).putInt(offset).putInt(size).putInt(0).put(data).array();
    }

    /**
     * The request {@code frame} carries, validated. The descriptors move into the returned message (or are
     * closed when it is refused).
     */
    static VhostUserMessage decode(Frame frame) {
        try {
            VhostUserMessage m = decodeChecked(frame);
            if (m.fds().size() != frame.fds().size()) {
                throw new VhostUserException("vhost-user request " + frame.request() + " came with " + frame.fds().size()
                        + " file descriptor(s), expected " + m.fds().size());
            }
            return m;
        } catch (VhostUserException e) {
            frame.closeFds();
            throw e;
        }
    }

    private static VhostUserMessage decodeChecked(Frame f) {
        if (f.isReply()) throw new VhostUserException("vhost-user reply flag on request " + f.request());
        ByteBuffer b = f.body();
        return switch (f.request()) {
            case GET_FEATURES -> { size(f, 0); yield new GetFeatures(); }
            case SET_FEATURES -> { size(f, 8); yield new SetFeatures(b.getLong(0)); }
            case GET_PROTOCOL_FEATURES -> { size(f, 0); yield new GetProtocolFeatures(); }
            case SET_PROTOCOL_FEATURES -> { size(f, 8); yield new SetProtocolFeatures(b.getLong(0)); }
            case SET_OWNER -> { size(f, 0); yield new SetOwner(); }
            case RESET_OWNER -> { size(f, 0); yield new ResetOwner(); }
            case GET_QUEUE_NUM -> { size(f, 0); yield new GetQueueNum(); }
            case SET_MEM_TABLE -> memTable(f, b);
            case SET_VRING_NUM -> { size(f, 8); yield new SetVringNum(b.getInt(0), b.getInt(4)); }
            case SET_VRING_BASE -> { size(f, 8); yield new SetVringBase(b.getInt(0), b.getInt(4)); }
            case GET_VRING_BASE -> { size(f, 8); yield new GetVringBase(b.getInt(0)); }
            case SET_VRING_ENABLE -> {
                size(f, 8);
                int num = b.getInt(4);
                if (num != 0 && num != 1) throw new VhostUserException("SET_VRING_ENABLE with state " + num);
                yield new SetVringEnable(b.getInt(0), num == 1);
            }
            case SET_VRING_ADDR -> {
                size(f, 40);
                yield new SetVringAddr(b.getInt(0), b.getInt(4), b.getLong(8), b.getLong(16), b.getLong(24), b.getLong(32));
            }
            case SET_VRING_KICK -> ringFd(f, b, RingFd.KICK);
            case SET_VRING_CALL -> ringFd(f, b, RingFd.CALL);
            case SET_VRING_ERR -> ringFd(f, b, RingFd.ERR);
            case GET_CONFIG, SET_CONFIG -> configMessage(f, b);
            default -> throw new VhostUserException("vhost-user request " + Integer.toUnsignedString(f.request()) + " is not supported");
        };
    }

    private static void size(Frame f, int expected) {
        if (f.payload().length != expected) {
            throw new VhostUserException("vhost-user request " + f.request() + " with a payload of " + f.payload().length
                    + " bytes (expected " + expected + ")");
        }
    }

    private static VhostUserMessage memTable(Frame f, ByteBuffer b) {
        if (f.payload().length < 8) size(f, 8);
        int count = b.getInt(0);
        if (count < 1 || count > MAX_REGIONS) throw new VhostUserException("memory table with " + Integer.toUnsignedString(count) + " regions (1 to " + MAX_REGIONS + ")");
        size(f, 8 + 32 * count);
        if (f.fds().size() != count) {
            throw new VhostUserException("memory table of " + count + " regions came with " + f.fds().size() + " file descriptor(s)");
        }
        List<MemoryRegion> regions = new java.util.ArrayList<>();
        for (int i = 0; i < count; i++) {
            int at = 8 + 32 * i;
            regions.add(new MemoryRegion(b.getLong(at), b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24)));
        }
        return new SetMemTable(regions, f.fds());
    }

    private static VhostUserMessage ringFd(Frame f, ByteBuffer b, RingFd which) {
        size(f, 8);
        long v = b.getLong(0);
        if ((v & ~(0xFFL | VRING_NO_FD)) != 0) throw new VhostUserException("ring descriptor request with reserved bits 0x" + Long.toHexString(v));
        boolean none = (v & VRING_NO_FD) != 0;
        if (none != f.fds().isEmpty() || f.fds().size() > 1) {
            throw new VhostUserException("ring descriptor request " + f.request() + " with " + f.fds().size() + " descriptor(s) and flag "
                    + (none ? "no-fd" : "fd"));
        }
        return new SetVringFd(which, (int) (v & 0xFF), none ? null : f.fds().getFirst());
    }

    private static VhostUserMessage configMessage(Frame f, ByteBuffer b) {
        if (f.payload().length < 12) size(f, 12);
        int offset = b.getInt(0), size = b.getInt(4);
        if (offset < 0 || size < 0 || size > MAX_CONFIG || offset > MAX_CONFIG - size) {
            throw new VhostUserException("configuration access of " + Integer.toUnsignedString(size) + " bytes at "
                    + Integer.toUnsignedString(offset));
        }
        size(f, 12 + size);
        if (f.request() == GET_CONFIG) return new GetConfig(offset, size);
        byte[] data = new byte[size];
        b.get(12, data);
        return new SetConfig(offset, data);
    }
}
