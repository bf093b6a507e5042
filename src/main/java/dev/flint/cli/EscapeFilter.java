package dev.flint.cli;

import java.io.IOException;
import java.io.InputStream;

/**
 * The console escape of an interactive session, as in QEMU: Ctrl-A x ends the VM, Ctrl-A Ctrl-A sends a
 * Ctrl-A to the guest, any other key after Ctrl-A is dropped. Everything else passes through to the guest
 * unchanged. After Ctrl-A x the stream ends.
 */
final class EscapeFilter extends InputStream {
    static final int CTRL_A = 0x01;

    private final InputStream in;
    private final Runnable quit;
    private boolean escaped;
    private boolean quitted;

    EscapeFilter(InputStream in, Runnable quit) {
        this.in = in;
        this.quit = quit;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    /** Filters in place: each input byte yields at most one output byte, so nothing unread is overwritten. */
    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        if (length == 0) return 0;
        while (!quitted) {
            int n = in.read(buffer, offset, length);
            if (n < 0) return -1;
            int out = offset;
            for (int i = offset; i < offset + n; i++) {
                int b = buffer[i] & 0xFF;
                if (escaped) {
                    escaped = false;
                    if (b == 'x' || b == 'X') {
                        quitted = true;
                        quit.run();
                        break;
                    }
                    if (b == CTRL_A) buffer[out++] = CTRL_A;
                } else if (b == CTRL_A) {
                    escaped = true;
                } else {
                    buffer[out++] = (byte) b;
                }
            }
            if (out > offset) return out - offset;
        }
        return -1;
    }

    @Override
    public int available() throws IOException {
        return quitted ? 0 : in.available();
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
