package dev.flint.sys;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LibcTest {
    @Test
    void errnoOfAFailedCallIsReported() {
        var e = assertThrows(ErrnoException.class, () -> Libc.open("/nonexistent/flint", Libc.O_RDONLY));
        assertEquals(Libc.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("No such file"), e.getMessage());
    }

    @Test
    void eventfdCountsWhatIsWrittenToIt() {
        try (var fd = new FileDescriptor(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK));
             Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8, 8);
            var empty = assertThrows(ErrnoException.class, () -> Libc.read(fd.fd(), buf));
            assertEquals(Libc.EAGAIN, empty.errno());
            buf.set(ValueLayout.JAVA_LONG, 0, 3);
            Libc.write(fd.fd(), buf);
            Libc.write(fd.fd(), buf);
            assertEquals(8, Libc.read(fd.fd(), buf));
            assertEquals(6, buf.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Test
    void guestMemoryIsCommittedOnlyWhenTouchedAndUnusableAfterClose() throws Exception {
        long before = rssKib();
        GuestMemory mem = GuestMemory.allocate(512L << 20);
        mem.writeLong(0x1000, 42);
        assertTrue(rssKib() - before < 64 * 1024, "512 MiB of guest RAM should not be resident untouched");
        assertEquals(42, mem.readLong(0x1000));
        mem.close();
        mem.close();
        assertThrows(IllegalStateException.class, () -> mem.readLong(0x1000));
    }

    private static long rssKib() throws java.io.IOException {
        return java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("VmRSS:")).map(l -> l.replaceAll("\\D", "")).mapToLong(Long::parseLong)
                .findFirst().orElseThrow();
    }
}
