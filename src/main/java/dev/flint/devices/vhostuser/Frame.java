package dev.flint.devices.vhostuser;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.UnixSocket;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One vhost-user message on the wire: a 12-byte header (request code, flags, payload size, all u32
 * little-endian), the payload, and the file descriptors that came with it. Reading checks the header
 * before trusting the size: a wrong version or a payload larger than any message has is a
 * {@link VhostUserException} and nothing more is read.
 */
public record Frame(int request, int flags, byte[] payload, List<FileDescriptor> fds) {
    public static final int HEADER = 12;
    public static final int VERSION = 0x1, VERSION_MASK = 0x3, REPLY = 0x4, NEED_REPLY = 0x8;
    /** Larger than any message this implementation speaks (a memory table of 8 regions, 256 config bytes). */
    public static final int MAX_PAYLOAD = 4096;
    /** The most descriptors one message carries (a memory table's). */
    public static final int MAX_FDS = 8;

    public Frame {
        payload = payload.clone();
        fds = List.copyOf(fds);
    }

    public Frame(int request, int flags, byte[] payload) {
        this(request, flags, payload, List.of());
    }

    public boolean needsReply() { return (flags & NEED_REPLY) != 0; }
    public boolean isReply() { return (flags & REPLY) != 0; }

    /** The payload as a little-endian buffer. */
    public ByteBuffer body() { return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN); }

    /** Closes the descriptors nobody took. */
    public void closeFds() { fds.forEach(FileDescriptor::close); }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(request).putInt(flags).putInt(payload.length).put(payload);
        return b.array();
    }

    /** Sends the frame with {@code fds} (the caller keeps ownership of them). */
    public static void write(UnixSocket socket, Frame frame, int... fds) {
        try {
            socket.send(frame.encode(), fds);
        } catch (ErrnoException e) {
            throw new VhostUserException("vhost-user peer unreachable: " + e.getMessage());
        }
    }

    /**
     * The next frame, or null at a clean end of stream (between frames). Descriptors that arrived are the
     * frame's; on any error they are closed before the exception leaves.
     */
    public static Frame read(UnixSocket socket) {
        List<FileDescriptor> fds = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = arena.allocate(HEADER);
            if (!readFully(socket, header, fds, true)) {
                fds.forEach(FileDescriptor::close);
                return null;
            }
            ByteBuffer h = header.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            int request = h.getInt(0), flags = h.getInt(4), size = h.getInt(8);
            if ((flags & VERSION_MASK) != VERSION) {
                throw new VhostUserException("vhost-user message with protocol version " + (flags & VERSION_MASK) + " (expected 1)");
            }
            if (size < 0 || size > MAX_PAYLOAD) {
                throw new VhostUserException("vhost-user message " + request + " claims a payload of " + Integer.toUnsignedString(size) + " bytes");
            }
            byte[] payload = new byte[size];
            if (size > 0) {
                MemorySegment body = arena.allocate(size);
                readFully(socket, body, fds, false);
                MemorySegment.copy(body, ValueLayout.JAVA_BYTE, 0, payload, 0, size);
            }
            return new Frame(request, flags, payload, fds);
        } catch (VhostUserException e) {
            fds.forEach(FileDescriptor::close);
            throw e;
        } catch (ErrnoException | IllegalStateException e) {
            fds.forEach(FileDescriptor::close);
            throw new VhostUserException("vhost-user connection failed: " + e.getMessage());
        }
    }

    /** Fills {@code into}; false if the stream ended before its first byte and {@code endAllowed}. */
    private static boolean readFully(UnixSocket socket, MemorySegment into, List<FileDescriptor> fds, boolean endAllowed) {
        long done = 0;
        while (done < into.byteSize()) {
            UnixSocket.Received r = socket.receive(into.asSlice(done), MAX_FDS - fds.size());
            fds.addAll(r.fds());
            if (r.bytes() == 0) {
                if (done == 0 && endAllowed) return false;
                throw new VhostUserException("vhost-user peer closed the connection in the middle of a message");
            }
            done += r.bytes();
        }
        return true;
    }
}
