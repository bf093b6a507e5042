package dev.flint.devices.mmds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The MMDS as a guest reaches it: ARP, a TCP connection, HTTP with V1 and V2 semantics, and the data store. */
class MmdsNetStackTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final AtomicLong now = new AtomicLong();
    private final Mmds mmds = new Mmds(51200, now::get);
    private final MmdsNetStack stack = new MmdsNetStack(mmds);
    private final GuestSide guest = new GuestSide(stack, Mmds.DEFAULT_IPV4);

    private static JsonNode json(String text) throws Exception { return JSON.readTree(text); }

    private void store(String text) throws Exception { mmds.store().put(json(text)); }

    private static String body(String answer) { return answer.substring(answer.indexOf("\r\n\r\n") + 4); }

    @Test
    void arpForTheServiceAddressIsAnsweredAndOtherAddressesAreNotTaken() {
        byte[] request = guest.arpRequest(Mmds.DEFAULT_IPV4);
        assertTrue(stack.isForMmds(request, request.length));
        guest.send(request);
        byte[] reply = stack.nextReply();
        assertNotNull(reply);
        assertEquals(2, MmdsNetStack.u16(reply, 20), "an ARP reply");
        assertEquals(Mmds.DEFAULT_IPV4, MmdsNetStack.i32(reply, 28), "for the MMDS address");
        byte[] mac = java.util.Arrays.copyOfRange(reply, 22, 28);
        assertTrue(java.util.Arrays.equals(MmdsNetStack.MMDS_MAC, mac));
        byte[] other = guest.arpRequest(Mmds.ipv4(10, 0, 0, 1));
        assertFalse(stack.isForMmds(other, other.length), "ARP for the gateway goes to the TAP");
    }

    @Test
    void v1AnswersGetsInImdsTextOrJsonWithoutAToken() throws Exception {
        store("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-12345678\", \"network\": {\"mac\": \"x\"}, \"n\": 3}}}");
        String value = guest.http(40001, "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n");
        assertTrue(value.startsWith("HTTP/1.1 200"), value);
        assertEquals("ami-12345678", body(value));
        String listing = guest.http(40002, "GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals("ami-id\nnetwork/\nn", body(listing));
        String asJson = guest.http(40003, "GET /latest/meta-data/network HTTP/1.1\r\nAccept: application/json\r\n\r\n");
        assertEquals("{\"mac\":\"x\"}", body(asJson));
        assertTrue(guest.http(40004, "GET /latest/meta-data/n HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 501"));
        assertTrue(guest.http(40005, "GET /latest/nothing HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 404"));
        String post = guest.http(40006, "POST /latest HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assertTrue(post.startsWith("HTTP/1.1 405") && post.contains("Allow: GET, PUT"), post);
    }

    @Test
    void v2NeedsASessionTokenThatExpires() throws Exception {
        mmds.configure(new Mmds.Settings(Mmds.Version.V2, Mmds.DEFAULT_IPV4, false));
        store("{\"latest\": {\"meta-data\": {\"instance-id\": \"i-abc\"}}}");
        String get = "GET /latest/meta-data/instance-id HTTP/1.1\r\n";
        assertTrue(guest.http(41000, get + "\r\n").startsWith("HTTP/1.1 401"));
        assertTrue(guest.http(41001, get + "X-metadata-token: forged\r\n\r\n").startsWith("HTTP/1.1 401"));
        String tokenAnswer = guest.http(41002, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
        assertTrue(tokenAnswer.startsWith("HTTP/1.1 200"), tokenAnswer);
        String token = body(tokenAnswer);
        assertEquals(43, token.length());
        assertEquals("i-abc", body(guest.http(41003, get + "X-metadata-token: " + token + "\r\n\r\n")));
        assertEquals("i-abc", body(guest.http(41004, get + "X-aws-ec2-metadata-token: " + token + "\r\n\r\n")));
        now.addAndGet(61_000_000_000L);
        assertTrue(guest.http(41005, get + "X-metadata-token: " + token + "\r\n\r\n").startsWith("HTTP/1.1 401"), "expired");
        assertTrue(guest.http(41006, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n")
                .startsWith("HTTP/1.1 400"));
        assertTrue(guest.http(41007, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n"
                + "X-Forwarded-For: 1.2.3.4\r\n\r\n").startsWith("HTTP/1.1 400"));
        assertTrue(guest.http(41008, "PUT /latest/api/token HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 400"));
    }

    @Test
    void imdsCompatibleModeAnswersTextWhateverTheAcceptHeader() throws Exception {
        mmds.configure(new Mmds.Settings(Mmds.Version.V1, Mmds.DEFAULT_IPV4, true));
        store("{\"a\": {\"b\": \"c\"}}");
        String answer = guest.http(42000, "GET /a HTTP/1.1\r\nAccept: application/json\r\n\r\n");
        assertTrue(answer.contains("Content-Type: text/plain"), answer);
        assertEquals("b", body(answer));
    }

    @Test
    void aConfiguredAddressIsTheOneAnswered() throws Exception {
        int address = Mmds.parseLinkLocal("169.254.170.2");
        mmds.configure(new Mmds.Settings(Mmds.Version.V1, address, false));
        store("{\"k\": \"v\"}");
        assertEquals("v", body(new GuestSide(stack, address).http(43000, "GET /k HTTP/1.1\r\n\r\n")));
        byte[] toDefault = guest.tcp(43001, 80, 1, 0, MmdsNetStack.SYN, new byte[0]);
        assertFalse(stack.isForMmds(toDefault, toDefault.length), "169.254.169.254 is an ordinary address now");
        assertThrows(IllegalArgumentException.class, () -> Mmds.parseLinkLocal("10.0.0.1"));
        assertThrows(IllegalArgumentException.class, () -> Mmds.parseLinkLocal("169.254.0.1"));
        assertThrows(IllegalArgumentException.class, () -> Mmds.parseLinkLocal("169.254.255.1"));
        assertThrows(IllegalArgumentException.class, () -> Mmds.parseLinkLocal("169.254.1.256"));
    }

    @Test
    void answerFramesCarryValidChecksumsAndAreCutToTheGuestsMss() throws Exception {
        store("{\"big\": \"" + "z".repeat(5000) + "\"}");
        // A SYN with MSS 600: the answer must come in segments of at most 600 bytes.
        byte[] syn = guest.tcp(44000, 80, 500, 0, MmdsNetStack.SYN, new byte[0]);
        byte[] withMss = new byte[syn.length + 4];
        System.arraycopy(syn, 0, withMss, 0, syn.length);
        withMss[46] = (byte) 0x60; // data offset 6 words
        MmdsNetStack.put16(withMss, 16, 20 + 24);
        withMss[54] = 2;
        withMss[55] = 4;
        MmdsNetStack.put16(withMss, 56, 600);
        withMss[24] = withMss[25] = 0;
        MmdsNetStack.put16(withMss, 24, MmdsNetStack.checksum(withMss, 14, 20, 0));
        guest.send(withMss);
        byte[] synAck = stack.nextReply();
        assertTrue(GuestSide.checksumsValid(synAck));
        int ack = GuestSide.seqOf(synAck) + 1;
        byte[] request = "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n".getBytes();
        guest.send(guest.tcp(44000, 80, 501, ack, MmdsNetStack.ACK | MmdsNetStack.PSH, request));
        int segments = 0;
        for (byte[] f; (f = stack.nextReply()) != null; ) {
            assertTrue(GuestSide.checksumsValid(f));
            int payload = f.length - 54;
            assertTrue(payload <= 600, "segment of " + payload);
            if (payload > 0) segments++;
        }
        assertTrue(segments >= 9, segments + " segments");
    }

    @Test
    void segmentsForAnUnknownConnectionOrPortAreReset() {
        guest.send(guest.tcp(45000, 80, 7, 99, MmdsNetStack.ACK, "GET / HTTP/1.1\r\n\r\n".getBytes()));
        byte[] rst = stack.nextReply();
        assertEquals(MmdsNetStack.RST, GuestSide.flags(rst) & MmdsNetStack.RST);
        guest.send(guest.tcp(45001, 22, 7, 0, MmdsNetStack.SYN, new byte[0]));
        assertEquals(MmdsNetStack.RST, GuestSide.flags(stack.nextReply()) & MmdsNetStack.RST);
        assertNull(stack.nextReply());
    }

    @Test
    void theStoreMergesPatchesAndRefusesWhatOutgrowsItsLimit() throws Exception {
        Mmds small = new Mmds(64);
        small.store().put(json("{\"a\": {\"b\": 1, \"c\": 2}, \"d\": 3}"));
        small.store().patch(json("{\"a\": {\"b\": null, \"e\": [1]}, \"d\": \"x\"}"));
        assertEquals(json("{\"a\": {\"c\": 2, \"e\": [1]}, \"d\": \"x\"}"), small.store().snapshot());
        MmdsException tooBig = assertThrows(MmdsException.class, () -> small.store().patch(json("{\"f\": \"" + "y".repeat(64) + "\"}")));
        assertTrue(tooBig.getMessage().contains("over its limit of 64"), tooBig.getMessage());
        assertEquals(json("{\"a\": {\"c\": 2, \"e\": [1]}, \"d\": \"x\"}"), small.store().snapshot(), "a refused patch changes nothing");
        assertThrows(MmdsException.class, () -> small.store().put(json("[1, 2]")));
    }

    @Test
    void tokensAreBoundedWhateverTheGuestAsks() {
        MmdsTokens tokens = new MmdsTokens(now::get);
        for (int i = 0; i < 5000; i++) tokens.issue(21600);
        assertEquals(MmdsTokens.MAX_TOKENS, tokens.size());
    }
}
