package dev.flint.devices.virtio.block;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.IoUring;
import dev.flint.sys.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The bench's per-thread counts (docs/block-path.md, Round 9): they must see what the named thread did, and only that. */
class IoThreadCountsTest {

    @Test
    void aNameNoLiveThreadHasCountsNothing() {
        assertEquals(new IoThreadCounts(0, 0), IoThreadCounts.of("no-such-thread"));
    }

    @Test
    void sleepsBetweenTwoLooksAreTheThreadsOwn() throws Exception {
        SynchronousQueue<Integer> handoff = new SynchronousQueue<>();
        CountDownLatch measured = new CountDownLatch(1);
        Thread probe = new Thread(() -> {
            try {
                for (int i = 0; i < 20; i++) handoff.take();
                measured.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "counts-probe2");
        probe.start();
        awaitParked(probe);
        IoThreadCounts before = IoThreadCounts.of("counts-probe2");
        for (int i = 0; i < 20; i++) {
            awaitParked(probe);
            handoff.put(i);
        }
        awaitParked(probe); // now waiting on the latch: a 21st sleep
        IoThreadCounts after = IoThreadCounts.of("counts-probe2").since(before);
        measured.countDown();
        probe.join();
        // A hand-off can meet the probe between its WAITING state and its futex wait (then it does not sleep), so
        // not every one counts; a count that reads some other figure (involuntary switches, another thread) gives 0.
        assertTrue(after.sleeps() >= 5 && after.sleeps() <= 60, "20 hand-offs, most met by a sleeping probe: " + after);
        assertEquals(0, after.workerNanos(), "the probe handed nothing to io_uring");
    }

    @Test
    void countsTheCpuOfTheIoUringWorkersTheThreadHandedReadsTo(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("image");
        byte[] data = new byte[8 << 20];
        new java.util.Random(1).nextBytes(data);
        Files.write(file, data);
        AtomicReference<IoThreadCounts> during = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReference<Boolean> available = new AtomicReference<>(true);
        Thread probe = new Thread(() -> {
            int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
            try (Arena arena = Arena.ofConfined(); IoUring ring = IoUring.open(8)) {
                MemorySegment buffer = arena.allocate(data.length, 4096);
                IoThreadCounts before = IoThreadCounts.of("counts-probe3");
                for (int i = 0; i < 8; i++) {
                    long at = (long) i << 20;
                    ring.read(fd, buffer, at, 1 << 20, at, 0, IoUring.ASYNC, i); // straight to a kernel worker
                }
                int done = 0;
                while (done < 8) {
                    ring.submitAndWait(1);
                    done += ring.reap((userData, result) -> {
                        if (result != 1 << 20) throw new IllegalStateException("read " + userData + ": " + result);
                    });
                }
                during.set(IoThreadCounts.of("counts-probe3").since(before)); // the ring, and so its workers, still live
                assertEquals(data[5 << 20], buffer.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 5 << 20));
            } catch (ErrnoException e) {
                available.set(false); // no io_uring here (seccomp, old kernel)
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                Libc.close(fd);
            }
        }, "counts-probe3");
        probe.start();
        probe.join();
        assumeTrue(available.get(), "io_uring unavailable");
        if (failure.get() != null) throw new AssertionError(failure.get());
        assertTrue(during.get().workerNanos() > 0, "8 MiB copied by the ring's workers took their CPU: " + during.get());
    }

    /** Waits until {@code t} is blocked (parked), as observed, not for a fixed time. */
    private static void awaitParked(Thread t) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (t.isAlive() && t.getState() != Thread.State.WAITING) {
            if (System.nanoTime() > deadline) throw new AssertionError("probe never blocked: " + t.getState());
            Thread.onSpinWait();
        }
    }
}
