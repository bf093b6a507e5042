package dev.flint.boot;

import dev.flint.engine.Engine;
import dev.flint.vmm.Console;
import dev.flint.vmm.VmConfig;
import dev.flint.vmm.Vmm;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A machine in the test's own JVM with its console on memory streams, for checks that call the
 * {@link Vmm}'s Java methods while the guest runs (attaching a disk, say). Typing and waiting work as
 * with {@link FlintProcess}.
 */
public final class InProcessGuest implements AutoCloseable {
    private final LinkedBlockingQueue<Integer> keys = new LinkedBlockingQueue<>();
    private final StringBuffer output = new StringBuffer();
    public final Vmm vmm;

    public InProcessGuest(VmConfig config, Engine engine) {
        InputStream in = new InputStream() {
            @Override
            public int read() {
                try {
                    int k = keys.take();
                    return k;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return -1;
                }
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (len == 0) return 0;
                int first = read();
                if (first < 0) return -1;
                b[off] = (byte) first;
                int n = 1;
                for (Integer k; n < len && (k = keys.poll()) != null; n++) b[off + n] = (byte) (int) k;
                return n;
            }
        };
        OutputStream out = new OutputStream() {
            @Override
            public void write(int b) {
                output.append((char) (b & 0xFF));
                System.out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                output.append(new String(b, off, len, StandardCharsets.ISO_8859_1));
                System.out.write(b, off, len);
            }
        };
        vmm = Vmm.start(config, engine, new Console(in, out));
    }

    public void type(String line) {
        for (byte b : (line + "\n").getBytes(StandardCharsets.UTF_8)) keys.add(b & 0xFF);
    }

    public String output() { return output.toString(); }

    /** Waits until the console shows {@code text}; fails with the whole console if it does not in time. */
    public void await(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!output.toString().contains(text)) {
            if (vmm.stopped().isDone()) throw new AssertionError("the VM stopped before printing '" + text + "':\n" + output);
            if (System.nanoTime() > deadline) throw new AssertionError("no '" + text + "' within " + timeout + ":\n" + output);
            Thread.sleep(50);
        }
    }

    @Override
    public void close() {
        vmm.close();
    }
}
