package dev.flint.devices.virtio.vsock;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The host side of Flint's vsock, in Firecracker's model: guest streams become Unix-socket connections.
 *
 * <ul>
 *   <li>Host-initiated: a host program connects to {@code uds_path} and writes {@code CONNECT <port>\n};
 *       Flint picks a host port, sends the guest a REQUEST to {@code port}, and on the guest's RESPONSE
 *       answers {@code OK <host port>\n}; from then on the socket carries the stream. A refusal (RST) closes
 *       the socket.</li>
 *   <li>Guest-initiated: the guest connects to CID 2 port P; Flint connects to {@code <uds_path>_P} and
 *       answers RESPONSE, or RST if nothing listens there.</li>
 * </ul>
 *
 * <p>One thread owns the sockets: it sleeps in a {@link Selector}, accepts, reads host bytes ahead into
 * each stream's buffer and writes the guest's bytes out. The device's I/O thread hands packets in
 * ({@link #fromGuest}) and takes packets out ({@link #nextToGuest}); both sides meet under this object's
 * lock, and each wakes the other (selector wakeup, queue notification) when it made work for it.
 */
final class VsockMuxer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VsockMuxer.class.getName());
    private static final Pattern CONNECT = Pattern.compile("CONNECT (\\d{1,10})\n");
    /** A guest may hold at most this many streams open; more are refused (each costs the host a socket). */
    static final int MAX_CONNECTIONS = 1024;
    /**
     * Control packets (RST, RESPONSE, CREDIT_UPDATE...) waiting for the guest's receive buffers. A guest
     * that floods the transmit queue and never posts receive buffers would grow this without end: beyond
     * the bound new ones are dropped and counted (a dropped RESPONSE leaves the guest's connect to time out).
     */
    static final int MAX_CONTROL = 2048;
    /** Host ports Flint picks for host-initiated streams start here, as Firecracker's do. */
    private static final int FIRST_LOCAL_PORT = 1 << 30;

    /** A packet to put in the guest's receive queue, with its payload for RW. */
    record Outgoing(VsockPacket header, byte[] payload) {}

    private final long guestCid;
    private final Path udsPath;
    private final Runnable guestWork;
    private final VsockMetrics metrics;
    private final Selector selector;
    private final ServerSocketChannel listener;
    private final Thread thread;
    /** Keyed by (host port << 32 | guest port). */
    private final Map<Long, VsockConnection> streams = new HashMap<>();
    private final List<VsockConnection> awaitingLine = new ArrayList<>();
    private final ArrayDeque<Outgoing> control = new ArrayDeque<>();
    private final ArrayDeque<VsockConnection> toRegister = new ArrayDeque<>();
    private int nextLocalPort = FIRST_LOCAL_PORT;
    private volatile boolean closed;

    /**
     * Binds {@code udsPath} (replacing a stale socket file) and starts the socket thread.
     *
     * @param guestWork called when there is something for the guest's receive queue
     */
    VsockMuxer(VsockConfig config, Runnable guestWork, VsockMetrics metrics) throws IOException {
        this.guestCid = config.guestCid();
        this.udsPath = config.udsPath();
        this.guestWork = guestWork;
        this.metrics = metrics;
        Files.deleteIfExists(udsPath);
        this.selector = Selector.open();
        this.listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            listener.bind(UnixDomainSocketAddress.of(udsPath));
            listener.configureBlocking(false);
            listener.register(selector, SelectionKey.OP_ACCEPT);
        } catch (IOException e) {
            listener.close();
            selector.close();
            throw e;
        }
        this.thread = Thread.ofPlatform().name("virtio-vsock-host").daemon().start(this::run);
    }

    // ---- the device's I/O thread ----

    /** One packet from the guest's transmit queue (payload only for RW). */
    synchronized void fromGuest(VsockPacket p, byte[] payload) {
        if (p.op() != VsockPacket.OP_RW) LOG.finer(() -> "vsock: from the guest: " + p);
        if (p.srcCid() != guestCid || p.dstCid() != VsockPacket.HOST_CID) {
            metrics.badPackets.increment(); // spoofed or misdirected: no stream to answer for
            return;
        }
        VsockConnection c = streams.get(key(p.dstPort(), p.srcPort()));
        if (c == null) {
            if (p.op() == VsockPacket.OP_REQUEST) guestConnect(p);
            else if (p.op() != VsockPacket.OP_RST) reset(p.dstPort(), p.srcPort());
            return;
        }
        c.peerCredit(p);
        switch (p.op()) {
            case VsockPacket.OP_RESPONSE -> {
                if (c.state == VsockConnection.State.REQUEST_SENT) {
                    c.state = VsockConnection.State.ESTABLISHED;
                    byte[] ok = ("OK " + Integer.toUnsignedString(c.localPort) + "\n").getBytes(StandardCharsets.US_ASCII);
                    VsockConnection.append(c.toHost, ok, 0, ok.length);
                    c.okLineBytes = ok.length;
                    selector.wakeup();
                } else {
                    kill(c, true);
                }
            }
            case VsockPacket.OP_RW -> {
                if (c.state != VsockConnection.State.ESTABLISHED || c.guestSendShutdown
                        || !VsockConnection.append(c.toHost, payload, 0, payload.length)) {
                    kill(c, true); // data it had no credit for, or on a stream not open: the stream goes
                    return;
                }
                selector.wakeup();
            }
            case VsockPacket.OP_CREDIT_REQUEST -> queueControl(c, VsockPacket.OP_CREDIT_UPDATE, 0);
            case VsockPacket.OP_SHUTDOWN -> {
                c.guestRcvShutdown |= (p.flags() & VsockPacket.SHUTDOWN_RCV) != 0;
                c.guestSendShutdown |= (p.flags() & VsockPacket.SHUTDOWN_SEND) != 0;
                selector.wakeup(); // the socket thread shuts the host side down once the buffered bytes are out
            }
            case VsockPacket.OP_RST -> kill(c, false);
            case VsockPacket.OP_REQUEST -> kill(c, true); // a second REQUEST on an open stream
            default -> { } // CREDIT_UPDATE: the credit was taken from the header above
        }
        if (c.toGuest.hasRemaining() && c.peerCredit() > 0) guestWork.run();
    }

    /** Whether {@link #nextToGuest} has something. */
    synchronized boolean hasToGuest() {
        if (!control.isEmpty()) return true;
        for (VsockConnection c : streams.values()) if (sendable(c)) return true;
        return false;
    }

    /** The next packet for the guest, its payload at most {@code room} bytes; null if there is none. */
    synchronized Outgoing nextToGuest(int room) {
        Outgoing o = control.poll();
        if (o != null) return o;
        for (VsockConnection c : streams.values()) {
            if (!sendable(c)) continue;
            if (c.toGuest.hasRemaining()) {
                int n = Math.min(Math.min(c.toGuest.remaining(), c.peerCredit()), Math.min(room, VsockPacket.MAX_PAYLOAD));
                if (n <= 0) continue;
                byte[] data = new byte[n];
                c.toGuest.get(data);
                c.txCnt += n;
                selector.wakeup(); // room to read ahead again
                return new Outgoing(header(c, VsockPacket.OP_RW, 0, n), data);
            }
            // The host will send nothing more and everything it sent is out: tell the guest. Only SEND: the
            // host may still be reading (a half-close), and a guest told "no more receiving" too would reset
            // the stream while it still has bytes to send back.
            c.shutdownSentToGuest = true;
            return new Outgoing(header(c, VsockPacket.OP_SHUTDOWN, VsockPacket.SHUTDOWN_SEND, 0), new byte[0]);
        }
        return null;
    }

    private static boolean sendable(VsockConnection c) {
        if (c.state != VsockConnection.State.ESTABLISHED || c.guestRcvShutdown) return false;
        if (c.toGuest.hasRemaining()) return c.peerCredit() > 0;
        return c.hostEof && !c.shutdownSentToGuest;
    }

    /** Drops every stream: the driver reset the device. */
    synchronized void resetAll() {
        for (VsockConnection c : new ArrayList<>(streams.values())) kill(c, false);
        for (VsockConnection c : awaitingLine) closeQuietly(c);
        awaitingLine.clear();
        control.clear();
    }

    private void guestConnect(VsockPacket p) {
        if (streams.size() >= MAX_CONNECTIONS) {
            reset(p.dstPort(), p.srcPort());
            return;
        }
        Path target = Path.of(udsPath + "_" + Integer.toUnsignedString(p.dstPort()));
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            // Non-blocking, so a host listener whose backlog is full refuses (EAGAIN) instead of holding
            // the device's I/O thread; a Unix-socket connect otherwise completes at once.
            ch.configureBlocking(false);
            if (!ch.connect(UnixDomainSocketAddress.of(target)) && !ch.finishConnect()) {
                throw new IOException("connection not completed at once");
            }
        } catch (IOException | RuntimeException e) {
            if (ch != null) closeQuietly(ch);
            LOG.fine(() -> "vsock: guest port " + Integer.toUnsignedString(p.srcPort()) + " -> " + target + ": " + e.getMessage());
            reset(p.dstPort(), p.srcPort());
            return;
        }
        VsockConnection c = new VsockConnection(ch, VsockConnection.State.ESTABLISHED);
        c.localPort = p.dstPort();
        c.guestPort = p.srcPort();
        c.peerCredit(p);
        streams.put(key(c.localPort, c.guestPort), c);
        metrics.connsAdded.increment();
        toRegister.add(c);
        selector.wakeup();
        queueControl(c, VsockPacket.OP_RESPONSE, 0);
    }

    private VsockPacket header(VsockConnection c, int op, int flags, int len) {
        c.fwdCntSent = c.fwdCnt;
        return new VsockPacket(VsockPacket.HOST_CID, guestCid, c.localPort, c.guestPort, len, VsockPacket.TYPE_STREAM, op, flags,
                VsockConnection.BUF_ALLOC, c.fwdCnt);
    }

    private void queueControl(VsockConnection c, int op, int flags) {
        enqueue(new Outgoing(header(c, op, flags, 0), new byte[0]));
    }

    private void enqueue(Outgoing o) {
        LOG.finer(() -> "vsock: to the guest: " + o.header());
        if (control.size() >= MAX_CONTROL) {
            metrics.droppedControl.increment();
            return;
        }
        control.add(o);
        guestWork.run();
    }

    /** An RST for a stream Flint does not have. */
    private void reset(int hostPort, int guestPort) {
        enqueue(new Outgoing(new VsockPacket(VsockPacket.HOST_CID, guestCid, hostPort, guestPort, 0, VsockPacket.TYPE_STREAM,
                VsockPacket.OP_RST, 0, 0, 0), new byte[0]));
    }

    /** Ends a stream: closes the host socket, and tells the guest unless the guest ended it. */
    private void kill(VsockConnection c, boolean tellGuest) {
        if (c.closed) return;
        LOG.fine(() -> "vsock: stream host port " + Integer.toUnsignedString(c.localPort) + " guest port "
                + Integer.toUnsignedString(c.guestPort) + " ends" + (tellGuest ? " (RST to the guest)" : " (by the guest)"));
        c.closed = true;
        streams.remove(key(c.localPort, c.guestPort));
        if (tellGuest) {
            metrics.connsKilled.increment();
            reset(c.localPort, c.guestPort);
        }
        metrics.connsRemoved.increment();
        closeQuietly(c);
    }

    private static long key(int hostPort, int guestPort) {
        return (hostPort & 0xFFFF_FFFFL) << 32 | (guestPort & 0xFFFF_FFFFL);
    }

    // ---- the socket thread ----

    private void run() {
        try {
            while (!closed) {
                synchronized (this) {
                    registerNew();
                    updateInterest();
                }
                selector.select();
                if (closed) break;
                for (SelectionKey k : selector.selectedKeys()) {
                    synchronized (this) {
                        try {
                            if (!k.isValid()) continue;
                            if (k.channel() == listener) accept();
                            else serve(k);
                        } catch (java.nio.channels.CancelledKeyException e) {
                            // the stream was ended by the I/O thread meanwhile
                        }
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (ClosedSelectorException e) {
            // closed
        } catch (IOException | RuntimeException e) {
            if (!closed) LOG.log(Level.SEVERE, "vsock: host socket thread failed; vsock stops", e);
        }
    }

    private void registerNew() throws IOException {
        for (VsockConnection c; (c = toRegister.poll()) != null; ) {
            if (!c.closed) c.channel.register(selector, SelectionKey.OP_READ, c);
        }
    }

    private void updateInterest() {
        for (SelectionKey k : selector.keys()) {
            if (!k.isValid() || !(k.attachment() instanceof VsockConnection c)) continue;
            if (c.closed) {
                k.cancel();
                continue;
            }
            int ops = 0;
            if (c.state == VsockConnection.State.AWAIT_CONNECT_LINE) ops = SelectionKey.OP_READ;
            else {
                if (!c.hostEof && c.toGuest.remaining() < c.toGuest.capacity() / 2 && c.state == VsockConnection.State.ESTABLISHED) {
                    ops |= SelectionKey.OP_READ;
                }
                if (c.toHost.hasRemaining()) ops |= SelectionKey.OP_WRITE;
                else if (c.guestSendShutdown && !c.hostOutputShut) shutHostOutput(c);
            }
            try {
                k.interestOps(ops);
            } catch (java.nio.channels.CancelledKeyException e) {
                // closed by shutHostOutput just now, or by the I/O thread
            }
        }
    }

    private void accept() throws IOException {
        SocketChannel ch = listener.accept();
        if (ch == null) return;
        if (streams.size() + awaitingLine.size() >= MAX_CONNECTIONS) {
            closeQuietly(ch);
            return;
        }
        ch.configureBlocking(false);
        VsockConnection c = new VsockConnection(ch, VsockConnection.State.AWAIT_CONNECT_LINE);
        awaitingLine.add(c);
        ch.register(selector, SelectionKey.OP_READ, c);
    }

    private void serve(SelectionKey k) {
        VsockConnection c = (VsockConnection) k.attachment();
        if (c.closed) {
            k.cancel();
            return;
        }
        try {
            if (c.state == VsockConnection.State.AWAIT_CONNECT_LINE) {
                readConnectLine(c);
                return;
            }
            if (k.isWritable() && c.toHost.hasRemaining()) {
                int n = c.channel.write(c.toHost);
                // The OK line is Flint's, not the guest's: counting it would tell the guest it has
                // passed on more than it sent, which Linux reads as a credit below zero (and stops sending).
                int line = Math.min(n, c.okLineBytes);
                c.okLineBytes -= line;
                n -= line;
                c.fwdCnt += n;
                metrics.txBytesToHost.add(n);
                // Tell the guest about freed buffer space once a good part of it is free again.
                if ((c.fwdCnt - c.fwdCntSent) >= VsockConnection.BUF_ALLOC / 4 || (!c.toHost.hasRemaining() && c.fwdCnt != c.fwdCntSent
                        && c.guestSendShutdown)) {
                    queueControl(c, VsockPacket.OP_CREDIT_UPDATE, 0);
                }
            }
            if (k.isReadable() && !c.hostEof) {
                ByteBuffer into = c.toGuest.compact();
                int n;
                try {
                    n = c.channel.read(into);
                } finally {
                    into.flip();
                }
                if (n < 0) c.hostEof = true;
                if (n != 0) guestWork.run();
            }
        } catch (IOException e) {
            metrics.hostIoFails.increment();
            kill(c, true);
            k.cancel();
        }
    }

    private void readConnectLine(VsockConnection c) throws IOException {
        ByteBuffer line = c.connectLine;
        // One byte at a time: bytes after the newline already belong to the stream.
        ByteBuffer one = ByteBuffer.allocate(1);
        while (line.hasRemaining()) {
            one.clear();
            int n = c.channel.read(one);
            if (n == 0) return;
            if (n < 0) {
                awaitingLine.remove(c);
                closeQuietly(c);
                return;
            }
            line.put(one.get(0));
            if (one.get(0) == '\n') break;
        }
        awaitingLine.remove(c);
        Matcher m = CONNECT.matcher(new String(line.array(), 0, line.position(), StandardCharsets.US_ASCII));
        long port = m.matches() ? Long.parseLong(m.group(1)) : -1;
        if (port < 0 || port > 0xFFFF_FFFFL || streams.size() >= MAX_CONNECTIONS) {
            metrics.badConnectLines.increment();
            closeQuietly(c); // Firecracker, too, just closes a connection that does not start with CONNECT
            return;
        }
        c.guestPort = (int) port;
        c.localPort = allocateLocalPort(c.guestPort);
        c.state = VsockConnection.State.REQUEST_SENT;
        streams.put(key(c.localPort, c.guestPort), c);
        metrics.connsAdded.increment();
        enqueue(new Outgoing(header(c, VsockPacket.OP_REQUEST, 0, 0), new byte[0]));
    }

    private int allocateLocalPort(int guestPort) {
        while (true) {
            int port = nextLocalPort++;
            if (nextLocalPort == 0) nextLocalPort = FIRST_LOCAL_PORT; // wrapped past 2^32
            if (!streams.containsKey(key(port, guestPort))) return port;
        }
    }

    private void shutHostOutput(VsockConnection c) {
        c.hostOutputShut = true;
        try {
            c.channel.shutdownOutput();
        } catch (IOException e) {
            // the host end is gone already; its read side will tell
        }
        if (c.guestRcvShutdown) kill(c, true); // both directions done: Firecracker, too, ends the stream with RST
    }

    private static void closeQuietly(VsockConnection c) {
        closeQuietly(c.channel);
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    /** Streams open now (tests and metrics). */
    synchronized int openStreams() { return streams.size(); }

    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            for (VsockConnection c : streams.values()) closeQuietly(c);
            for (VsockConnection c : awaitingLine) closeQuietly(c);
            streams.clear();
            awaitingLine.clear();
        }
        try {
            listener.close();
            selector.close();
        } catch (IOException e) {
            // nothing to do
        }
        try {
            Files.deleteIfExists(udsPath);
        } catch (IOException e) {
            // left behind; the next bind replaces it
        }
    }
}
