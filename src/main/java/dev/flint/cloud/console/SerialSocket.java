package dev.flint.cloud.console;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.StatusCode;

/**
 * One browser terminal attached to one instance's serial port. Keys from the browser (binary or text
 * frames) go to the port; guest output goes back as binary frames. The serial session is opened when
 * the WebSocket opens and closed when it closes, whoever closes first. (Public only because Jetty looks
 * up the listener methods reflectively.)
 */
public final class SerialSocket implements Session.Listener.AutoDemanding {

    private static final Logger LOG = Logger.getLogger(SerialSocket.class.getName());
    /** Custom close code: the instance has no serial port to attach to (not running, or unknown). */
    static final int NO_SERIAL_PORT = 4404;
    /** Guest output not yet taken by a slow browser beyond this is a reason to hang up, not to buffer. */
    static final long MAX_PENDING_BYTES = 4L << 20;

    private final SerialConsoles consoles;
    private final String instanceId;
    private final AtomicLong pendingBytes = new AtomicLong();
    private volatile Session socket;
    private volatile SerialSession serial;

    SerialSocket(SerialConsoles consoles, String instanceId) {
        this.consoles = consoles;
        this.instanceId = instanceId;
    }

    @Override
    public void onWebSocketOpen(Session session) {
        this.socket = session;
        Optional<SerialSession> opened;
        try {
            opened = consoles.open(instanceId, this::toBrowser);
        } catch (RuntimeException e) {
            LOG.warning(() -> "serial console of " + instanceId + ": " + e);
            opened = Optional.empty();
        }
        if (opened.isEmpty()) {
            session.close(NO_SERIAL_PORT, "no serial console for " + instanceId + " (is it running?)", Callback.NOOP);
            return;
        }
        serial = opened.get();
        if (!session.isOpen()) {
            serial.close();
        }
    }

    private void toBrowser(byte[] output) {
        Session s = socket;
        if (s == null || !s.isOpen() || output.length == 0) {
            return;
        }
        if (pendingBytes.addAndGet(output.length) > MAX_PENDING_BYTES) {
            s.close(StatusCode.POLICY_VIOLATION, "the browser is not reading the console output", Callback.NOOP);
            return;
        }
        int length = output.length;
        s.sendBinary(ByteBuffer.wrap(output.clone()), Callback.from(
                () -> pendingBytes.addAndGet(-length), x -> pendingBytes.addAndGet(-length)));
    }

    @Override
    public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
        byte[] keys = new byte[payload.remaining()];
        payload.get(keys);
        typeKeys(keys);
        callback.succeed();
    }

    @Override
    public void onWebSocketText(String message) {
        typeKeys(message.getBytes(StandardCharsets.UTF_8));
    }

    private void typeKeys(byte[] keys) {
        SerialSession s = serial;
        if (s == null) {
            return;
        }
        try {
            s.write(keys);
        } catch (RuntimeException e) {
            LOG.fine(() -> "serial console of " + instanceId + " refused keys: " + e);
            socket.close(StatusCode.SERVER_ERROR, "the serial port is gone", Callback.NOOP);
        }
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
        detach();
    }

    @Override
    public void onWebSocketError(Throwable cause) {
        detach();
    }

    private void detach() {
        SerialSession s = serial;
        serial = null;
        if (s != null) {
            try {
                s.close();
            } catch (RuntimeException e) {
                LOG.fine(() -> "closing the serial console of " + instanceId + ": " + e);
            }
        }
    }
}
