package dev.flint.devices.mmds;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The MMDS end of one guest network interface: the frames a guest sends to the service's address are
 * handed here instead of to the TAP, and the answers come back as frames for the guest's receive queue.
 * It answers ARP requests for the address and speaks just enough TCP over IPv4 (port 80) to carry HTTP
 * requests to {@link Mmds} and their answers back: connections are opened by the guest, data is taken
 * in order only (anything else is re-acknowledged), answers are sent within the guest's window in
 * segments of the guest's MSS, and every connection ends with FINs or a RST. Nothing needs a timer: the
 * frames cross a virtqueue, which loses none, and a guest's duplicate ACK gets the unacknowledged data
 * again.
 *
 * <p>Everything a guest sends is hostile: every length is checked against the frame, at most
 * {@link #MAX_CONNECTIONS} connections and {@link #MAX_QUEUED_REPLIES} answer frames are kept (the
 * least recently used connection makes room), a request longer than {@link MmdsHttp#MAX_REQUEST} ends
 * its connection, and anything that does not parse is counted and dropped.
 */
public final class MmdsNetStack {
    static final int ETH_HEADER = 14, ETHERTYPE_IPV4 = 0x0800, ETHERTYPE_ARP = 0x0806;
    static final int IP_PROTO_TCP = 6, HTTP_PORT = 80;
    static final int MAX_CONNECTIONS = 64, MAX_QUEUED_REPLIES = 1024;
    /** The MSS Flint announces and assumes when a SYN names none larger (RFC 9293's default is 536). */
    static final int OUR_MSS = 1460, DEFAULT_MSS = 536;
    static final int WINDOW = MmdsHttp.MAX_REQUEST;
    static final int FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16;
    /** The service's own MAC address: locally administered, "mmds" in its last bytes. */
    static final byte[] MMDS_MAC = {0x06, 0x00, 0x6d, 0x6d, 0x64, 0x73};

    private final Mmds mmds;
    private final ArrayDeque<byte[]> replies = new ArrayDeque<>();
    /** Open connections by guest (address, port), least recently used first. */
    private final LinkedHashMap<Long, TcpConnection> connections = new LinkedHashMap<>(16, 0.75f, true);
    private int ipId;

    private final LongAdder framesIn = new LongAdder(), arpReplies = new LongAdder(), segmentsIn = new LongAdder(),
            requests = new LongAdder(), malformed = new LongAdder(), repliesDropped = new LongAdder(),
            resets = new LongAdder();

    public MmdsNetStack(Mmds mmds) {
        this.mmds = mmds;
    }

    /**
     * Whether {@code frame} (Ethernet, no virtio header; only its first bytes are needed) is addressed to
     * the MMDS: an ARP request for its address, or an IPv4 packet to it. Such frames must go to
     * {@link #receive} and not to the TAP.
     */
    public boolean isForMmds(byte[] frame, int length) {
        if (length < ETH_HEADER) return false;
        int type = u16(frame, 12);
        int address = mmds.settings().ipv4();
        if (type == ETHERTYPE_ARP) return length >= ETH_HEADER + 28 && u16(frame, ETH_HEADER + 6) == 1
                && i32(frame, ETH_HEADER + 24) == address;
        return type == ETHERTYPE_IPV4 && length >= ETH_HEADER + 20 && i32(frame, ETH_HEADER + 16) == address;
    }

    /** Takes one guest frame for the MMDS; never throws on its content (what cannot be parsed is counted). */
    public synchronized void receive(byte[] frame, int length) {
        framesIn.increment();
        try {
            if (!isForMmds(frame, length)) {
                malformed.increment();
                return;
            }
            if (u16(frame, 12) == ETHERTYPE_ARP) arp(frame, length);
            else ipv4(frame, length);
        } catch (IndexOutOfBoundsException e) {
            malformed.increment(); // a length field that lied; every read is bounded by the array
        }
    }

    /** Whether answer frames wait for the guest. */
    public synchronized boolean hasReply() { return !replies.isEmpty(); }

    /** How many answer frames wait (never more than {@link #MAX_QUEUED_REPLIES}). */
    synchronized int queuedReplies() { return replies.size(); }

    /** The next answer frame (Ethernet, no virtio header), or null. */
    public synchronized byte[] nextReply() { return replies.poll(); }

    /** Counters for metrics and tests: frames, ARP replies, TCP segments, HTTP requests, malformed input, drops. */
    public synchronized Map<String, Long> counters() {
        return Map.of("mmds_frames_in", framesIn.sum(), "mmds_arp_replies", arpReplies.sum(),
                "mmds_tcp_segments_in", segmentsIn.sum(), "mmds_http_requests", requests.sum(),
                "mmds_malformed_frames", malformed.sum(), "mmds_replies_dropped", repliesDropped.sum(),
                "mmds_resets_sent", resets.sum(), "mmds_connections", (long) connections.size());
    }

    // ---- ARP ----

    private void arp(byte[] f, int length) {
        int a = ETH_HEADER;
        if (u16(f, a) != 1 || u16(f, a + 2) != ETHERTYPE_IPV4 || (f[a + 4] & 0xff) != 6 || (f[a + 5] & 0xff) != 4) {
            malformed.increment();
            return;
        }
        byte[] r = new byte[ETH_HEADER + 28];
        System.arraycopy(f, a + 8, r, 0, 6); // to the asker's hardware address
        System.arraycopy(MMDS_MAC, 0, r, 6, 6);
        put16(r, 12, ETHERTYPE_ARP);
        put16(r, a, 1);
        put16(r, a + 2, ETHERTYPE_IPV4);
        r[a + 4] = 6;
        r[a + 5] = 4;
        put16(r, a + 6, 2); // reply
        System.arraycopy(MMDS_MAC, 0, r, a + 8, 6);
        put32(r, a + 14, mmds.settings().ipv4());
        System.arraycopy(f, a + 8, r, a + 18, 10); // target: the asker's MAC and IP
        queue(r);
        arpReplies.increment();
    }

    // ---- IPv4 and TCP ----

    private void ipv4(byte[] f, int length) {
        int ip = ETH_HEADER;
        int versionIhl = f[ip] & 0xff;
        int ihl = (versionIhl & 0xf) * 4;
        int total = u16(f, ip + 2);
        if (versionIhl >> 4 != 4 || ihl < 20 || total < ihl || ip + total > length) {
            malformed.increment();
            return;
        }
        if ((u16(f, ip + 6) & 0x3fff) != 0) { // a fragment: MMDS requests are small, Firecracker's stack drops these too
            malformed.increment();
            return;
        }
        if ((f[ip + 9] & 0xff) != IP_PROTO_TCP) return; // UDP, ICMP, ... to the MMDS address: dropped
        int tcp = ip + ihl;
        int tcpLength = total - ihl;
        if (tcpLength < 20) {
            malformed.increment();
            return;
        }
        int dataOffset = ((f[tcp + 12] & 0xff) >> 4) * 4;
        if (dataOffset < 20 || dataOffset > tcpLength) {
            malformed.increment();
            return;
        }
        segmentsIn.increment();
        Segment s = new Segment(macOf(f, 6), i32(f, ip + 12), u16(f, tcp), u16(f, tcp + 2), i32(f, tcp + 4),
                i32(f, tcp + 8), f[tcp + 13] & 0x3f, u16(f, tcp + 14), mssOption(f, tcp + 20, dataOffset - 20),
                f, tcp + dataOffset, tcpLength - dataOffset);
        if (s.dstPort != HTTP_PORT) {
            if ((s.flags & RST) == 0) reset(s);
            return;
        }
        tcp(s);
    }

    /** A received TCP segment, its payload still in the frame. */
    record Segment(byte[] srcMac, int srcIp, int srcPort, int dstPort, int seq, int ack, int flags, int window, int mss,
                   byte[] frame, int payloadOffset, int payloadLength) {
        boolean has(int flag) { return (flags & flag) != 0; }

        long key() { return (long) srcIp << 16 | srcPort; }
    }

    private void tcp(Segment s) {
        TcpConnection c = connections.get(s.key());
        if (s.has(RST)) {
            if (c != null) connections.remove(s.key());
            return;
        }
        if (c == null) {
            if (s.has(SYN) && !s.has(ACK)) open(s);
            else reset(s);
            return;
        }
        c.onSegment(s);
        if (c.done()) connections.remove(s.key());
    }

    private void open(Segment s) {
        if (connections.size() >= MAX_CONNECTIONS) {
            Iterator<TcpConnection> oldest = connections.values().iterator();
            oldest.next().abort();
            oldest.remove();
        }
        TcpConnection c = new TcpConnection(this, s);
        connections.put(s.key(), c);
    }

    /** A RST for a segment no connection owns (RFC 9293 3.10.7.1). */
    private void reset(Segment s) {
        int len = s.payloadLength + (s.has(SYN) ? 1 : 0) + (s.has(FIN) ? 1 : 0);
        if (s.has(ACK)) send(s.srcMac, s.srcIp, s.srcPort, s.dstPort, s.ack, 0, RST, 0, null, 0, 0, 0);
        else send(s.srcMac, s.srcIp, s.srcPort, s.dstPort, 0, s.seq + len, RST | ACK, 0, null, 0, 0, 0);
        resets.increment();
    }

    /** Answers one HTTP request a connection assembled. */
    byte[] answer(MmdsHttp.Request request) {
        requests.increment();
        return mmds.answer(request);
    }

    void countMalformed() { malformed.increment(); }

    void countReset() { resets.increment(); }

    /** Builds and queues one TCP segment to the guest. */
    void send(byte[] dstMac, int dstIp, int dstPort, int srcPort, int seq, int ack, int flags, int window,
              byte[] data, int offset, int length, int mssOption) {
        int options = mssOption > 0 ? 4 : 0;
        int tcpLength = 20 + options + length;
        byte[] f = new byte[ETH_HEADER + 20 + tcpLength];
        System.arraycopy(dstMac, 0, f, 0, 6);
        System.arraycopy(MMDS_MAC, 0, f, 6, 6);
        put16(f, 12, ETHERTYPE_IPV4);
        int ip = ETH_HEADER;
        f[ip] = 0x45;
        put16(f, ip + 2, 20 + tcpLength);
        put16(f, ip + 4, ipId++ & 0xffff);
        put16(f, ip + 6, 0x4000); // don't fragment
        f[ip + 8] = 64;
        f[ip + 9] = IP_PROTO_TCP;
        int source = mmds.settings().ipv4();
        put32(f, ip + 12, source);
        put32(f, ip + 16, dstIp);
        put16(f, ip + 10, checksum(f, ip, 20, 0));
        int t = ip + 20;
        put16(f, t, srcPort);
        put16(f, t + 2, dstPort);
        put32(f, t + 4, seq);
        put32(f, t + 8, ack);
        f[t + 12] = (byte) ((20 + options) / 4 << 4);
        f[t + 13] = (byte) flags;
        put16(f, t + 14, window);
        if (options > 0) {
            f[t + 20] = 2;
            f[t + 21] = 4;
            put16(f, t + 22, mssOption);
        }
        if (length > 0) System.arraycopy(data, offset, f, t + 20 + options, length);
        long pseudo = (source >>> 16) + (source & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + IP_PROTO_TCP + tcpLength;
        put16(f, t + 16, checksum(f, t, tcpLength, pseudo));
        queue(f);
    }

    private void queue(byte[] frame) {
        if (replies.size() >= MAX_QUEUED_REPLIES) {
            repliesDropped.increment();
            return;
        }
        replies.add(frame);
    }

    /** The MSS option of a SYN, or {@link #DEFAULT_MSS}; malformed options end the scan. */
    private static int mssOption(byte[] f, int at, int length) {
        int end = at + length;
        while (at < end) {
            int kind = f[at] & 0xff;
            if (kind == 0) break;
            if (kind == 1) {
                at++;
                continue;
            }
            if (at + 1 >= end) break;
            int len = f[at + 1] & 0xff;
            if (len < 2 || at + len > end) break;
            if (kind == 2 && len == 4) return Math.max(64, u16(f, at + 2));
            at += len;
        }
        return DEFAULT_MSS;
    }

    static int checksum(byte[] b, int offset, int length, long initial) {
        long sum = initial;
        int i = offset;
        for (; i + 1 < offset + length; i += 2) sum += (b[i] & 0xff) << 8 | (b[i + 1] & 0xff);
        if (i < offset + length) sum += (b[i] & 0xff) << 8;
        while ((sum >>> 16) != 0) sum = (sum & 0xffff) + (sum >>> 16);
        return (int) (~sum & 0xffff);
    }

    private static byte[] macOf(byte[] f, int at) {
        byte[] mac = new byte[6];
        System.arraycopy(f, at, mac, 0, 6);
        return mac;
    }

    static int u16(byte[] b, int at) { return (b[at] & 0xff) << 8 | (b[at + 1] & 0xff); }

    static int i32(byte[] b, int at) { return ByteBuffer.wrap(b, at, 4).getInt(); }

    static void put16(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    static void put32(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}
