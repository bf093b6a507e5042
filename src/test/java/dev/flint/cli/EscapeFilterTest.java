package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EscapeFilterTest {
    private final AtomicInteger quits = new AtomicInteger();

    private EscapeFilter filter(byte[] input) {
        return new EscapeFilter(new ByteArrayInputStream(input), quits::incrementAndGet);
    }

    /** Test input as text; \u0001 is Ctrl-A. */
    private EscapeFilter filter(String input) {
        return filter(input.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    @Test
    void ordinaryBytesPassThroughUnchanged() throws IOException {
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) all[i] = (byte) (i == 1 ? 0 : i);
        assertArrayEquals(all, filter(all).readAllBytes());
        assertEquals(0, quits.get());
    }

    @Test
    void ctrlAxQuitsAndEndsTheStream() throws IOException {
        EscapeFilter in = filter("ls\u0001xrm");
        assertEquals("ls", text(in.readAllBytes()));
        assertEquals(1, quits.get());
        assertEquals(-1, in.read());
    }

    @Test
    void ctrlACtrlASendsOneCtrlAAndOtherEscapesAreDropped() throws IOException {
        assertEquals("a\u0001bc", text(filter("a\u0001\u0001b\u0001zc").readAllBytes()));
        assertEquals(0, quits.get());
    }

    @Test
    void escapeSplitAcrossReadsStillWorks() throws IOException {
        // A terminal delivers keys one read at a time: Ctrl-A in one read, x in the next.
        InputStream oneByteAtATime = new ByteArrayInputStream(new byte[] {(byte) 'q', 1, (byte) 'x'}) {
            @Override
            public synchronized int read(byte[] b, int off, int len) { return super.read(b, off, Math.min(len, 1)); }
        };
        EscapeFilter in = new EscapeFilter(oneByteAtATime, quits::incrementAndGet);
        assertEquals('q', in.read());
        assertEquals(-1, in.read());
        assertEquals(1, quits.get());
    }
}
