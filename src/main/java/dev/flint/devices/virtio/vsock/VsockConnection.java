package dev.flint.devices.virtio.vsock;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * One stream between a guest port and a host Unix socket, with both directions' buffers and the credit
 * counters of virtio-vsock's flow control. Guarded by the {@link VsockMuxer}'s lock.
 *
 * <p>Flow control: each side tells the other how much it can buffer ({@code buf_alloc}) and how many
 * bytes it has passed on so far ({@code fwd_cnt}); a sender may have at most
 * {@code buf_alloc - (tx_cnt - fwd_cnt)} bytes in flight. Flint buffers what the guest sends in
 * {@link #toHost} ({@link #BUF_ALLOC} bytes, so a guest that keeps to the credit never overflows it)
 * and sends the host's bytes only within the guest's credit.
 */
final class VsockConnection {
    /** What Flint tells the guest it can buffer per stream. */
    static final int BUF_ALLOC = 256 * 1024;
    /** Host bytes read ahead per stream, waiting for the guest's receive buffers and credit. */
    static final int READ_AHEAD = 64 * 1024;

    enum State {
        /** Host-initiated: waiting for the host's {@code CONNECT <port>\n} line. */
        AWAIT_CONNECT_LINE,
        /** Host-initiated: REQUEST sent to the guest, waiting for its RESPONSE. */
        REQUEST_SENT,
        ESTABLISHED,
    }

    final SocketChannel channel;
    /** The host side's port (Flint's, for host-initiated streams; the guest's destination for guest-initiated). */
    int localPort;
    int guestPort;
    State state;

    final ByteBuffer toHost = ByteBuffer.allocate(BUF_ALLOC + 64); // room for "OK <port>\n" ahead of the data
    final ByteBuffer toGuest = ByteBuffer.allocate(READ_AHEAD);
    final ByteBuffer connectLine = ByteBuffer.allocate(32);

    /** Bytes of Flint's {@code OK <port>\n} line still ahead in {@link #toHost}: not part of the guest's stream. */
    int okLineBytes;
    /** Bytes of the guest's stream passed on to the host socket (our fwd_cnt). */
    int fwdCnt;
    /** fwd_cnt as last told to the guest. */
    int fwdCntSent;
    /** Bytes sent to the guest (our tx_cnt). */
    int txCnt;
    int peerBufAlloc;
    int peerFwdCnt;

    boolean hostEof;
    boolean shutdownSentToGuest;
    boolean guestSendShutdown;
    boolean guestRcvShutdown;
    boolean hostOutputShut;
    boolean closed;

    VsockConnection(SocketChannel channel, State state) {
        this.channel = channel;
        this.state = state;
        toHost.flip(); // both buffers are kept in "read mode": position..limit is pending data
        toGuest.flip();
    }

    /** How many more bytes the guest can take now (its buffer minus what is in flight). */
    int peerCredit() {
        int inFlight = txCnt - peerFwdCnt;
        long free = (peerBufAlloc & 0xFFFF_FFFFL) - (inFlight & 0xFFFF_FFFFL);
        return (int) Math.max(0, Math.min(free, Integer.MAX_VALUE));
    }

    void peerCredit(VsockPacket p) {
        peerBufAlloc = p.bufAlloc();
        peerFwdCnt = p.fwdCnt();
    }

    /** Appends to a read-mode buffer; false if it does not fit. */
    static boolean append(ByteBuffer buffer, byte[] data, int off, int len) {
        if (buffer.capacity() - buffer.limit() < len) buffer.compact().flip();
        if (buffer.capacity() - buffer.limit() < len) return false;
        int pos = buffer.position();
        buffer.position(buffer.limit()).limit(buffer.limit() + len);
        buffer.put(data, off, len);
        buffer.position(pos);
        return true;
    }
}
