package dev.flint.devices.vhostuser;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.EventFd;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.SharedMapping;
import dev.flint.sys.UnixSocket;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A hostile vhost-user front end against Flint's back end: each bad message ends the connection with one
 * clear reason (what {@link BackendConnection#run} returns), the front end sees its socket closed, and
 * the back end's thread and descriptors are gone. Nothing reaches outside the back end's own mappings.
 */
class HostileFrontEndTest {
    @TempDir Path dir;

    private static byte[] header(int request, int flags, int size) {
        return ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(request).putInt(flags).putInt(size).array();
    }

    private static byte[] frame(int request, byte[] payload) {
        return ByteBuffer.allocate(12 + payload.length).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(request).putInt(Frame.VERSION).putInt(payload.length).put(payload).array();
    }

    private static byte[] memTable(long... fields) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * fields.length).order(ByteOrder.LITTLE_ENDIAN).putInt(fields.length / 4).putInt(0);
        for (long f : fields) b.putLong(f);
        return b.array();
    }

    private static byte[] ringAddresses(long desc, long used, long avail) {
        return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0).putLong(desc).putLong(used)
                .putLong(avail).putLong(0).array();
    }

    /** One hostile exchange: what to send (with a memfd of 1 MiB and an eventfd at hand). */
    record Attack(String expected, Consumer<Peer> send) {
        @Override public String toString() { return expected; }
    }

    record Peer(UnixSocket socket, FileDescriptor memfd, EventFd eventfd) {
        void send(byte[] bytes, int... fds) { socket.send(bytes, fds); }
    }

    static Stream<Arguments> attacks() {
        long mib = 1 << 20;
        return Stream.of(
                new Attack("protocol version 2", p -> p.send(header(1, 2, 0))),
                new Attack("claims a payload of 4294967295 bytes", p -> p.send(header(1, 1, -1))),
                new Attack("claims a payload of 65536 bytes", p -> p.send(header(5, 1, 65536))),
                new Attack("request 999 is not supported", p -> p.send(frame(999, new byte[0]))),
                new Attack("payload of 4 bytes (expected 8)", p -> p.send(frame(2, new byte[4]))),
                new Attack("reply flag on request 1", p -> p.send(header(1, 1 | Frame.REPLY, 0))),
                new Attack("in the middle of a message", p -> { p.send(header(2, 1, 8)); p.socket().shutdown(); }),
                new Attack("acknowledged features 0x", p -> p.send(frame(2, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 63).array()))),
                new Attack("memory table with 0 regions", p -> p.send(frame(5, memTable()))),
                new Attack("memory table with 9 regions", p -> p.send(frame(5, ByteBuffer.allocate(8 + 32 * 9).order(ByteOrder.LITTLE_ENDIAN).putInt(9).array()))),
                new Attack("came with 0 file descriptor(s)", p -> p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 0)))),
                new Attack("not a positive, page-aligned range", p -> p.send(frame(5, memTable(0x10, mib, 0x7000_0000_0000L, 0)), p.memfd().fd())),
                new Attack("ends at 2097152 of a file of 1048576 bytes", p -> p.send(frame(5, memTable(0, 2 * mib, 0x7000_0000_0000L, 0)), p.memfd().fd())),
                new Attack("ends at 1052672 of a file", p -> p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 4096)), p.memfd().fd())),
                new Attack("crosses the 32-bit MMIO hole", p -> p.send(frame(5, memTable(0xBFF0_0000L, 2 * mib, 0x7000_0000_0000L, 0)), p.memfd().fd())),
                new Attack("too large", p -> p.send(frame(5, memTable(0, Long.MAX_VALUE & ~0xFFFL, 0x7000_0000_0000L, 0)), p.memfd().fd())),
                new Attack("overlap in the guest-physical", p -> p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 0, 0x80000, mib, 0x7100_0000_0000L, 0)),
                        p.memfd().fd(), p.memfd().fd())),
                new Attack("of a file of 0 bytes", p -> p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 0)), p.eventfd().fd())),
                new Attack("ring 7 (the device has 1)", p -> p.send(frame(8, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(7).putInt(256).array()))),
                new Attack("ring size 3", p -> p.send(frame(8, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(3).array()))),
                new Attack("ring addresses before a memory table", p -> p.send(frame(9, new byte[40]))),
                new Attack("with 0 descriptor(s) and flag fd", p -> p.send(frame(12, new byte[8]))),
                new Attack("with 1 descriptor(s) and flag no-fd", p -> p.send(frame(12, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1 << 8).array()), p.eventfd().fd())),
                new Attack("reserved bits", p -> p.send(frame(13, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1 << 12).array()))),
                new Attack("more than 8 file descriptors", p -> p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 0)),
                        p.memfd().fd(), p.memfd().fd(), p.memfd().fd(), p.memfd().fd(), p.memfd().fd(), p.memfd().fd(), p.memfd().fd(), p.memfd().fd(), p.memfd().fd())),
                new Attack("configuration access of 512 bytes", p -> p.send(frame(24, ByteBuffer.allocate(12 + 512).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(512).array()))),
                new Attack("is in no memory region", p -> {
                    p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 0)), p.memfd().fd());
                    p.send(frame(9, ringAddresses(0x7100_0000_0000L, 0x7000_0000_2000L, 0x7000_0000_1000L)));
                }),
                new Attack("ring 0: misaligned ring", p -> {
                    p.send(frame(5, memTable(0, mib, 0x7000_0000_0000L, 0)), p.memfd().fd());
                    p.send(frame(9, ringAddresses(0x7000_0000_0008L, 0x7000_0000_2000L, 0x7000_0000_1000L)));
                }),
                new Attack("GET_CONFIG without its protocol feature", p -> p.send(frame(24, ByteBuffer.allocate(12 + 8).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(8).array())))
        ).map(Arguments::of);
    }

    @ParameterizedTest
    @MethodSource("attacks")
    void aBadMessageClosesTheConnectionWithOneReason(Attack attack) throws Exception {
        Path image = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        VhostResources before = VhostResources.self();
        try (BackendHarness backend = new BackendHarness(dir, image, false);
             FileDescriptor memfd = SharedMapping.memfd("hostile", 1 << 20);
             EventFd eventfd = new EventFd();
             UnixSocket peer = UnixSocket.connect(backend.socket)) {
            attack.send().accept(new Peer(peer, memfd, eventfd));
            String reason = backend.awaitEnd();
            assertTrue(reason.contains(attack.expected()), "reason: " + reason);
            assertFalse(reason.startsWith("crashed"), reason);
            peer.setReceiveTimeout(60_000);
            try (Arena arena = Arena.ofConfined()) {
                assertEquals(0, peer.receive(arena.allocate(16), 1).bytes(), "the back end closed the connection");
            } catch (ErrnoException e) {
                assertEquals(104, e.errno(), "closed with our bytes unread: a reset, else " + e.getMessage()); // ECONNRESET
            }
        }
        assertEquals(before, VhostResources.self(), "no descriptor is left behind");
    }
}
