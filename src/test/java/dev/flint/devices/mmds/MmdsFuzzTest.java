package dev.flint.devices.mmds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * Hostile guest traffic at the MMDS: random frames, valid frames with random bytes changed or cut, and
 * random TCP segments on live connections. Nothing may throw, the answer queue and the connection table
 * stay within their bounds, and a correct exchange still works afterwards. Counts are logged;
 * {@code -Dflint.mmds.fuzz.frames=N} and {@code -Dflint.mmds.fuzz.seed=S} set the run.
 */
class MmdsFuzzTest {
    private static final Logger LOG = Logger.getLogger(MmdsFuzzTest.class.getName());

    @Test
    void randomAndMutatedFramesNeverBreakTheService() throws Exception {
        long seed = Long.getLong("flint.mmds.fuzz.seed", System.nanoTime());
        int frames = Integer.getInteger("flint.mmds.fuzz.frames", 200_000);
        Random random = new Random(seed);
        Mmds mmds = new Mmds(51200);
        mmds.store().put(new ObjectMapper().readTree("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\"}}}"));
        MmdsNetStack stack = new MmdsNetStack(mmds);
        GuestSide guest = new GuestSide(stack, Mmds.DEFAULT_IPV4);
        List<byte[]> valid = new ArrayList<>();
        valid.add(guest.arpRequest(Mmds.DEFAULT_IPV4));
        valid.add(guest.tcp(5000, 80, 1, 0, MmdsNetStack.SYN, new byte[0]));
        valid.add(guest.tcp(5000, 80, 2, 0, MmdsNetStack.ACK | MmdsNetStack.PSH, "GET /latest HTTP/1.1\r\n\r\n".getBytes()));
        valid.add(guest.tcp(5001, 80, 2, 0, MmdsNetStack.ACK | MmdsNetStack.FIN, new byte[0]));
        valid.add(guest.tcp(5002, 80, 9, 0, MmdsNetStack.ACK, ("PUT /latest/api/token HTTP/1.1\r\nContent-Length: 99999\r\n\r\n").getBytes()));
        long taken = 0, forOthers = 0, answers = 0, maxQueued = 0;
        for (int i = 0; i < frames; i++) {
            byte[] f = next(random, valid, guest);
            if (stack.isForMmds(f, f.length)) {
                taken++;
                stack.receive(f, f.length);
            } else {
                forOthers++;
            }
            maxQueued = Math.max(maxQueued, stack.queuedReplies());
            if (random.nextInt(4) == 0) {
                while (stack.nextReply() != null) answers++;
            }
        }
        while (stack.nextReply() != null) answers++;
        Map<String, Long> counters = stack.counters();
        LOG.info("MMDS fuzz (seed " + seed + "): " + frames + " frames, " + taken + " taken by the MMDS, " + forOthers
                + " left for the TAP, " + answers + " answer frames; " + counters);
        assertTrue(maxQueued <= MmdsNetStack.MAX_QUEUED_REPLIES, "answer queue grew to " + maxQueued);
        assertTrue(counters.get("mmds_connections") <= MmdsNetStack.MAX_CONNECTIONS, counters.toString());
        assertTrue(taken > frames / 4, "the mutations should mostly stay addressed to the MMDS: " + taken);
        String answer = guest.http(6000, "GET /latest/meta-data/ami-id HTTP/1.1\r\nConnection: close\r\n\r\n");
        assertEquals("ami-1", answer.substring(answer.indexOf("\r\n\r\n") + 4), "seed " + seed);
    }

    private static byte[] next(Random random, List<byte[]> valid, GuestSide guest) {
        int pick = random.nextInt(10);
        if (pick == 0) { // random bytes behind a valid header to the MMDS
            byte[] f = new byte[random.nextInt(200)];
            random.nextBytes(f);
            byte[] base = valid.get(1 + random.nextInt(valid.size() - 1));
            System.arraycopy(base, 0, f, 0, Math.min(f.length, 34));
            return f;
        }
        if (pick < 4) { // a random TCP segment on one of a few ports, random flags, numbers and payload
            byte[] payload = new byte[random.nextInt(3) == 0 ? random.nextInt(1500) : 0];
            random.nextBytes(payload);
            if (random.nextBoolean() && payload.length > 20) {
                byte[] get = "GET /latest/meta-data/ HTTP/1.1\r\n\r\n".getBytes();
                System.arraycopy(get, 0, payload, 0, Math.min(get.length, payload.length));
            }
            return guest.tcp(5000 + random.nextInt(80), random.nextInt(8) == 0 ? random.nextInt(65536) : 80,
                    random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(64), random.nextInt(),
                    random.nextInt(64), payload);
        }
        byte[] f = valid.get(random.nextInt(valid.size())).clone(); // a valid frame, mutated
        int edits = 1 + random.nextInt(4);
        for (int e = 0; e < edits; e++) {
            int at = 14 + random.nextInt(Math.max(1, f.length - 14));
            switch (random.nextInt(3)) {
                case 0 -> f[Math.min(at, f.length - 1)] ^= (byte) (1 << random.nextInt(8));
                case 1 -> f[Math.min(at, f.length - 1)] = (byte) random.nextInt(256);
                default -> f = java.util.Arrays.copyOf(f, Math.max(14, Math.min(f.length, at)));
            }
        }
        return f;
    }
}
