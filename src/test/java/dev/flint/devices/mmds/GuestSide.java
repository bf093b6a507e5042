package dev.flint.devices.mmds;

import static dev.flint.devices.mmds.MmdsNetStack.ACK;
import static dev.flint.devices.mmds.MmdsNetStack.FIN;
import static dev.flint.devices.mmds.MmdsNetStack.PSH;
import static dev.flint.devices.mmds.MmdsNetStack.SYN;
import static dev.flint.devices.mmds.MmdsNetStack.put16;
import static dev.flint.devices.mmds.MmdsNetStack.put32;
import static dev.flint.devices.mmds.MmdsNetStack.u16;
import static dev.flint.devices.mmds.MmdsNetStack.i32;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A guest's network stack in miniature, as the tests need it: builds the Ethernet/IPv4/TCP frames a
 * guest would send to the MMDS and reads the answers, so a whole HTTP exchange can run against
 * {@link MmdsNetStack} without a guest.
 */
final class GuestSide {
    static final byte[] GUEST_MAC = {0x06, 0, 0x0a, 0, 0, 2};
    static final int GUEST_IP = Mmds.ipv4(10, 0, 0, 2);

    private final MmdsNetStack stack;
    private final int mmdsIp;

    GuestSide(MmdsNetStack stack, int mmdsIp) {
        this.stack = stack;
        this.mmdsIp = mmdsIp;
    }

    /** An HTTP exchange on a fresh connection from {@code port}: the answer's bytes (until the MMDS's FIN). */
    String http(int port, String request) {
        int seq = 1000;
        send(tcp(port, 80, seq, 0, SYN, new byte[0]));
        byte[] synAck = nextReplyTo(port);
        if (synAck == null || (flags(synAck) & (SYN | ACK)) != (SYN | ACK)) throw new AssertionError("no SYN-ACK");
        int ack = seqOf(synAck) + 1;
        seq++;
        byte[] data = request.getBytes(StandardCharsets.ISO_8859_1);
        send(tcp(port, 80, seq, ack, ACK, new byte[0]));
        send(tcp(port, 80, seq, ack, ACK | PSH, data));
        seq += data.length;
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        for (int rounds = 0; rounds < 1000; rounds++) {
            byte[] f = nextReplyTo(port);
            if (f == null) {
                send(tcp(port, 80, seq, ack, FIN | ACK, new byte[0])); // nothing more: close our side
                seq++;
                continue;
            }
            int payloadAt = 14 + 20 + ((f[14 + 20 + 12] & 0xff) >> 4) * 4;
            int length = f.length - payloadAt;
            if (seqOf(f) == ack && length > 0) {
                answer.write(f, payloadAt, length);
                ack += length;
            }
            if ((flags(f) & FIN) != 0) {
                ack++;
                send(tcp(port, 80, seq, ack, ACK, new byte[0]));
                return answer.toString(StandardCharsets.ISO_8859_1);
            }
            if (length > 0) send(tcp(port, 80, seq, ack, ACK, new byte[0]));
        }
        throw new AssertionError("the MMDS never closed: " + answer);
    }

    void send(byte[] frame) { stack.receive(frame, frame.length); }

    /**
     * The next answer frame for this guest's connection from {@code port}, or null. Frames for other
     * connections are passed over, as a guest's TCP demultiplexes them: when the connection table is full,
     * the MMDS resets its least recently used connection before it answers a new SYN.
     */
    private byte[] nextReplyTo(int port) {
        for (byte[] f; (f = stack.nextReply()) != null; ) {
            if (u16(f, 12) == 0x0800 && i32(f, 30) == GUEST_IP && u16(f, 36) == port) return f;
        }
        return null;
    }

    byte[] arpRequest(int target) {
        byte[] f = new byte[42];
        java.util.Arrays.fill(f, 0, 6, (byte) 0xff);
        System.arraycopy(GUEST_MAC, 0, f, 6, 6);
        put16(f, 12, 0x0806);
        put16(f, 14, 1);
        put16(f, 16, 0x0800);
        f[18] = 6;
        f[19] = 4;
        put16(f, 20, 1);
        System.arraycopy(GUEST_MAC, 0, f, 22, 6);
        put32(f, 28, GUEST_IP);
        put32(f, 38, target);
        return f;
    }

    byte[] tcp(int srcPort, int dstPort, int seq, int ack, int flags, byte[] payload) {
        int tcpLength = 20 + payload.length;
        byte[] f = new byte[14 + 20 + tcpLength];
        System.arraycopy(MmdsNetStack.MMDS_MAC, 0, f, 0, 6);
        System.arraycopy(GUEST_MAC, 0, f, 6, 6);
        put16(f, 12, 0x0800);
        f[14] = 0x45;
        put16(f, 16, 20 + tcpLength);
        f[22] = 64;
        f[23] = 6;
        put32(f, 26, GUEST_IP);
        put32(f, 30, mmdsIp);
        put16(f, 24, MmdsNetStack.checksum(f, 14, 20, 0));
        int t = 34;
        put16(f, t, srcPort);
        put16(f, t + 2, dstPort);
        put32(f, t + 4, seq);
        put32(f, t + 8, ack);
        f[t + 12] = 0x50;
        f[t + 13] = (byte) flags;
        put16(f, t + 14, 65535);
        System.arraycopy(payload, 0, f, t + 20, payload.length);
        return f;
    }

    static int flags(byte[] f) { return f[14 + 20 + 13] & 0x3f; }

    static int seqOf(byte[] f) { return i32(f, 14 + 20 + 4); }

    static int ackOf(byte[] f) { return i32(f, 14 + 20 + 8); }

    /** Whether the IPv4 header and TCP checksums of an answer frame are right. */
    static boolean checksumsValid(byte[] f) {
        if (MmdsNetStack.checksum(f, 14, 20, 0) != 0) return false;
        int tcpLength = u16(f, 16) - 20;
        int src = i32(f, 26), dst = i32(f, 30);
        long pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tcpLength;
        return MmdsNetStack.checksum(f, 34, tcpLength, pseudo) == 0;
    }
}
