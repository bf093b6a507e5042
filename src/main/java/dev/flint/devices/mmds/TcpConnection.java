package dev.flint.devices.mmds;

import static dev.flint.devices.mmds.MmdsNetStack.ACK;
import static dev.flint.devices.mmds.MmdsNetStack.FIN;
import static dev.flint.devices.mmds.MmdsNetStack.PSH;
import static dev.flint.devices.mmds.MmdsNetStack.RST;
import static dev.flint.devices.mmds.MmdsNetStack.SYN;

import java.security.SecureRandom;
import java.util.Arrays;

/**
 * One guest connection to the MMDS, from SYN to the last FIN. Sequence numbers compare modulo 2^32.
 * {@code out} holds what was sent but not acknowledged followed by what was not sent yet; its first byte
 * is {@code sndUna} (plus one while our SYN is unacknowledged).
 */
final class TcpConnection {
    private static final SecureRandom ISN = new SecureRandom();

    private final MmdsNetStack stack;
    private final byte[] guestMac;
    private final int guestIp, guestPort, ourPort;
    private final int mss;
    private final int iss;
    private int rcvNxt;
    private int sndUna, sndNxt;
    private int window;
    private boolean established, finReceived, closeAfterSend, finSent, finAcked;

    private byte[] in = new byte[1024];
    private int inLength;
    private byte[] out = new byte[0];
    private int outLength;

    TcpConnection(MmdsNetStack stack, MmdsNetStack.Segment syn) {
        this.stack = stack;
        this.guestMac = syn.srcMac();
        this.guestIp = syn.srcIp();
        this.guestPort = syn.srcPort();
        this.ourPort = syn.dstPort();
        this.mss = Math.min(syn.mss(), MmdsNetStack.OUR_MSS);
        this.iss = ISN.nextInt();
        this.rcvNxt = syn.seq() + 1;
        this.sndUna = iss;
        this.sndNxt = iss + 1;
        this.window = syn.window();
        sendSynAck();
    }

    private void sendSynAck() {
        stack.send(guestMac, guestIp, guestPort, ourPort, iss, rcvNxt, SYN | ACK, MmdsNetStack.WINDOW, null, 0, 0, MmdsNetStack.OUR_MSS);
    }

    /** True once both sides closed (or it was reset): the stack forgets it. */
    boolean done() { return finAcked && finReceived; }

    void abort() {
        stack.send(guestMac, guestIp, guestPort, ourPort, sndNxt, 0, RST, 0, null, 0, 0, 0);
        stack.countReset();
    }

    void onSegment(MmdsNetStack.Segment s) {
        if (s.has(SYN)) {
            if (!established && s.seq() + 1 == rcvNxt) sendSynAck(); // our SYN-ACK was not seen: again
            else ackNow();
            return;
        }
        if (!s.has(ACK)) return; // every segment after the handshake carries ACK
        boolean duplicate = acknowledge(s.ack());
        window = s.window();
        boolean needAck = false;
        if (s.payloadLength() > 0) {
            if (s.seq() == rcvNxt && !finReceived) {
                if (!take(s.frame(), s.payloadOffset(), s.payloadLength())) return;
                rcvNxt += s.payloadLength();
            }
            needAck = true; // in order: acknowledge it; out of order or repeated: say again where we are
        }
        if (s.has(FIN) && s.seq() + s.payloadLength() == rcvNxt && !finReceived) {
            finReceived = true;
            rcvNxt++;
            needAck = true;
        }
        serveRequests();
        if (finReceived) closeAfterSend = true;
        if (duplicate && s.payloadLength() == 0 && !s.has(FIN) && sndUna != sndNxt) resend();
        if (!transmit() && needAck) ackNow();
    }

    /** Advances sndUna for an ACK inside what we sent; true if it acknowledged nothing new. */
    private boolean acknowledge(int ack) {
        if (ack - sndUna <= 0 || ack - sndNxt > 0) return ack == sndUna;
        int acked = ack - sndUna;
        if (!established) {
            established = true; // the SYN's sequence number
            acked--;
            sndUna++;
        }
        int data = Math.min(acked, outLength);
        System.arraycopy(out, data, out, 0, outLength - data);
        outLength -= data;
        sndUna += data;
        acked -= data;
        if (acked > 0 && finSent) { // our FIN
            sndUna++;
            finAcked = true;
        }
        return false;
    }

    /** Appends received data; a request larger than the MMDS takes ends the connection. */
    private boolean take(byte[] data, int offset, int length) {
        if (inLength + length > MmdsHttp.MAX_REQUEST) {
            stack.countMalformed();
            abort();
            finAcked = finReceived = true; // forget it
            return false;
        }
        if (inLength + length > in.length) in = Arrays.copyOf(in, Math.min(MmdsHttp.MAX_REQUEST, Math.max(in.length * 2, inLength + length)));
        System.arraycopy(data, offset, in, inLength, length);
        inLength += length;
        return true;
    }

    private void serveRequests() {
        while (inLength > 0 && !closeAfterSend) {
            MmdsHttp.Parse parse = MmdsHttp.parse(in, inLength);
            switch (parse) {
                case MmdsHttp.Incomplete i -> {
                    return;
                }
                case MmdsHttp.Malformed m -> {
                    stack.countMalformed();
                    queue(MmdsHttp.response(m.status(), "text/plain", m.reason() + ".", "Connection: close\r\n"));
                    inLength = 0;
                    closeAfterSend = true;
                }
                case MmdsHttp.Parsed p -> {
                    queue(stack.answer(p.request()));
                    System.arraycopy(in, p.request().length(), in, 0, inLength - p.request().length());
                    inLength -= p.request().length();
                    if (p.request().wantsClose()) closeAfterSend = true;
                }
            }
        }
    }

    private void queue(byte[] data) {
        if (outLength + data.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, outLength + data.length));
        System.arraycopy(data, 0, out, outLength, data.length);
        outLength += data.length;
    }

    /** Sends what the guest's window allows of the unsent data, then our FIN once all is sent; true if it sent anything. */
    private boolean transmit() {
        boolean sent = false;
        int unsentStart = sndNxt - sndUna - (established ? 0 : 1);
        int inFlight = unsentStart;
        for (int at = unsentStart; at < outLength; ) {
            int room = window - inFlight;
            if (room <= 0) break;
            int n = Math.min(Math.min(mss, room), outLength - at);
            stack.send(guestMac, guestIp, guestPort, ourPort, sndNxt, rcvNxt, ACK | PSH, MmdsNetStack.WINDOW, out, at, n, 0);
            sndNxt += n;
            at += n;
            inFlight += n;
            sent = true;
        }
        if (closeAfterSend && !finSent && sndNxt - sndUna == outLength + (established ? 0 : 1)) {
            stack.send(guestMac, guestIp, guestPort, ourPort, sndNxt, rcvNxt, FIN | ACK, MmdsNetStack.WINDOW, null, 0, 0, 0);
            sndNxt++;
            finSent = true;
            sent = true;
        }
        return sent;
    }

    /** Sends the unacknowledged data again (the guest's duplicate ACK says it is missing). */
    private void resend() {
        int sentData = Math.min(outLength, sndNxt - sndUna - (finSent ? 1 : 0));
        int seq = sndUna;
        for (int at = 0; at < sentData; ) {
            int n = Math.min(mss, sentData - at);
            stack.send(guestMac, guestIp, guestPort, ourPort, seq, rcvNxt, ACK | PSH, MmdsNetStack.WINDOW, out, at, n, 0);
            seq += n;
            at += n;
        }
        if (finSent) stack.send(guestMac, guestIp, guestPort, ourPort, seq, rcvNxt, FIN | ACK, MmdsNetStack.WINDOW, null, 0, 0, 0);
    }

    private void ackNow() {
        stack.send(guestMac, guestIp, guestPort, ourPort, sndNxt, rcvNxt, ACK, MmdsNetStack.WINDOW, null, 0, 0, 0);
    }
}
