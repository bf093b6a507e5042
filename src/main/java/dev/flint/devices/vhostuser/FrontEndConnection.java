package dev.flint.devices.vhostuser;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.UnixSocket;

import java.nio.file.Path;

/**
 * The front end's side of a vhost-user socket: sends requests and reads their replies, checking that a
 * reply answers the request it follows and has the size that request's reply has. Replies must come
 * within {@link #REPLY_TIMEOUT_MILLIS}: a back end that stops answering is an error, not a hang.
 */
final class FrontEndConnection implements AutoCloseable {
    static final long REPLY_TIMEOUT_MILLIS = 30_000;
    private final UnixSocket socket;
    private final Path path;
    private boolean replyAck;

    private FrontEndConnection(UnixSocket socket, Path path) {
        this.socket = socket;
        this.path = path;
    }

    static FrontEndConnection connect(Path path) {
        UnixSocket s;
        try {
            s = UnixSocket.connect(path);
        } catch (ErrnoException | IllegalArgumentException e) {
            throw new VhostUserException("cannot connect to the vhost-user back end at " + path + ": " + e.getMessage());
        }
        s.setReceiveTimeout(REPLY_TIMEOUT_MILLIS);
        return new FrontEndConnection(s, path);
    }

    UnixSocket socket() { return socket; }

    /** Asks for REPLY_ACK on every request without a reply of its own (once the protocol feature is agreed). */
    void useReplyAck() { replyAck = true; }

    /** Sends a request that has no reply (an acknowledgement is awaited when REPLY_ACK was agreed). */
    void send(VhostUserMessage m) {
        int[] fds = m.fds().stream().mapToInt(FileDescriptor::fd).toArray();
        Frame.write(socket, m.frame(replyAck), fds);
        if (replyAck) {
            long status = u64(readReply(m.code()));
            if (status != 0) throw new VhostUserException("the back end at " + path + " refused request " + m.code() + " (status " + status + ")");
        }
    }

    /** Sends a request and returns its reply's 8-byte value. */
    long ask(VhostUserMessage m) {
        Frame.write(socket, m.frame(false));
        return u64(readReply(m.code()));
    }

    /** Sends a request and returns its reply's payload of exactly {@code size} bytes. */
    byte[] askPayload(VhostUserMessage m, int size) {
        Frame.write(socket, m.frame(false));
        Frame reply = readReply(m.code());
        if (reply.payload().length != size) {
            throw new VhostUserException("the back end answered request " + m.code() + " with " + reply.payload().length + " bytes, expected " + size);
        }
        return reply.payload();
    }

    private Frame readReply(int code) {
        Frame reply;
        try {
            reply = Frame.read(socket);
        } catch (VhostUserException e) {
            throw new VhostUserException(e.getMessage().contains("Resource temporarily unavailable")
                    ? "the back end at " + path + " did not answer request " + code + " within " + REPLY_TIMEOUT_MILLIS / 1000 + " s"
                    : e.getMessage());
        }
        if (reply == null) throw new VhostUserException("the back end at " + path + " closed the connection");
        reply.closeFds();
        if (!reply.isReply() || reply.request() != code || !reply.fds().isEmpty()) {
            throw new VhostUserException("the back end answered request " + code + " with message " + reply.request()
                    + (reply.isReply() ? "" : " (not a reply)"));
        }
        return reply;
    }

    private static long u64(Frame reply) {
        if (reply.payload().length != 8) throw new VhostUserException("reply to request " + reply.request() + " of " + reply.payload().length + " bytes (expected 8)");
        return reply.body().getLong(0);
    }

    @Override
    public void close() { socket.close(); }
}
