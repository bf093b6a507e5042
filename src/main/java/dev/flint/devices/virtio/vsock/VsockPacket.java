package dev.flint.devices.virtio.vsock;

import dev.flint.devices.virtio.MalformedRequestException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The 44-byte header every virtio-vsock packet starts with (virtio spec 5.10.6, all little-endian):
 * src_cid u64, dst_cid u64, src_port u32, dst_port u32, len u32, type u16, op u16, flags u32,
 * buf_alloc u32, fwd_cnt u32. Ports and counters are unsigned 32-bit; they are kept in Java ints and
 * compared with wrap-around arithmetic, as the protocol's counters wrap.
 */
public record VsockPacket(long srcCid, long dstCid, int srcPort, int dstPort, int len, int type, int op, int flags,
                          int bufAlloc, int fwdCnt) {
    public static final int HEADER = 44;
    public static final int TYPE_STREAM = 1;
    public static final int OP_REQUEST = 1, OP_RESPONSE = 2, OP_RST = 3, OP_SHUTDOWN = 4, OP_RW = 5,
            OP_CREDIT_UPDATE = 6, OP_CREDIT_REQUEST = 7;
    public static final int SHUTDOWN_RCV = 1, SHUTDOWN_SEND = 2;
    /** The host's CID: where the guest addresses Flint. */
    public static final long HOST_CID = 2;
    /** The largest payload Flint accepts or sends in one packet (Linux sends at most 64 KiB). */
    public static final int MAX_PAYLOAD = 64 * 1024;

    /**
     * Reads a header from the guest; anything a well-behaved driver never sends (another socket type,
     * an unknown operation, a payload outside RW or over the limit) is a {@link MalformedRequestException}.
     */
    public static VsockPacket parse(byte[] bytes) {
        if (bytes.length < HEADER) throw new MalformedRequestException("vsock packet of " + bytes.length + " bytes, header is " + HEADER);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        VsockPacket p = new VsockPacket(b.getLong(0), b.getLong(8), b.getInt(16), b.getInt(20), b.getInt(24),
                b.getShort(28) & 0xFFFF, b.getShort(30) & 0xFFFF, b.getInt(32), b.getInt(36), b.getInt(40));
        if (p.type != TYPE_STREAM) throw new MalformedRequestException("vsock packet of type " + p.type + " (only streams)");
        if (p.op < OP_REQUEST || p.op > OP_CREDIT_REQUEST) throw new MalformedRequestException("vsock operation " + p.op);
        if (p.len != 0 && p.op != OP_RW) throw new MalformedRequestException("vsock operation " + p.op + " with a payload");
        if (Integer.compareUnsigned(p.len, MAX_PAYLOAD) > 0) {
            throw new MalformedRequestException("vsock payload of " + Integer.toUnsignedString(p.len) + " bytes");
        }
        return p;
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(srcCid).putLong(dstCid).putInt(srcPort).putInt(dstPort).putInt(len).putShort((short) type)
                .putShort((short) op).putInt(flags).putInt(bufAlloc).putInt(fwdCnt);
        return b.array();
    }

    public VsockPacket withLen(int newLen) {
        return new VsockPacket(srcCid, dstCid, srcPort, dstPort, newLen, type, op, flags, bufAlloc, fwdCnt);
    }

    @Override
    public String toString() {
        return "vsock op " + op + " " + srcCid + ":" + Integer.toUnsignedString(srcPort) + " -> " + dstCid + ":"
                + Integer.toUnsignedString(dstPort) + " len " + Integer.toUnsignedString(len);
    }
}
