package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An io_uring instance driven through FFM: {@code io_uring_setup} and {@code io_uring_enter} as raw
 * system calls (glibc has no wrappers) and the three shared rings mapped into this process. The kernel
 * structures ({@code io_uring_params} with its two offset blocks, the 64-byte submission entry and the
 * 16-byte completion entry) are described once as layouts and read through their var handles; ring
 * positions come from the offsets the kernel reports, never from constants.
 *
 * <p>One thread owns an instance: it queues entries ({@link #read}, {@link #write}, {@link #fsync}),
 * submits them with {@link #submitAndWait} and takes the completions with {@link #reap}. Buffers are
 * native memory the caller keeps alive until the completion is reaped (guest RAM, in Flint).
 */
public final class IoUring implements AutoCloseable {
    private static final long SYS_IO_URING_SETUP = 425, SYS_IO_URING_ENTER = 426;
    private static final int IORING_ENTER_GETEVENTS = 1;
    private static final long IORING_OFF_SQ_RING = 0, IORING_OFF_CQ_RING = 0x8000000L, IORING_OFF_SQES = 0x10000000L;
    private static final int PROT_READ_WRITE = 0x1 | 0x2, MAP_SHARED_POPULATE = 0x01 | 0x8000;
    static final byte OP_READV = 1, OP_WRITEV = 2, OP_FSYNC = 3, OP_READ = 22, OP_WRITE = 23;
    /**
     * {@code IOSQE_ASYNC} in an entry's flags: the kernel does not try the operation in {@code io_uring_enter}
     * but hands it to one of the ring's io-wq worker threads at once, so several entries' copies run on other
     * cores while the submitting thread goes on (docs/block-path.md, Round 7).
     */
    public static final int ASYNC = 1 << 4;
    private static final int FSYNC_DATASYNC = 1;
    private static final int EINTR = 4, EAGAIN = 11, EBUSY = 16;

    /** struct io_sqring_offsets. */
    static final StructLayout SQ_OFFSETS = MemoryLayout.structLayout(
            JAVA_INT.withName("head"), JAVA_INT.withName("tail"), JAVA_INT.withName("ring_mask"),
            JAVA_INT.withName("ring_entries"), JAVA_INT.withName("flags"), JAVA_INT.withName("dropped"),
            JAVA_INT.withName("array"), JAVA_INT.withName("resv1"), JAVA_LONG.withName("user_addr"));
    /** struct io_cqring_offsets. */
    static final StructLayout CQ_OFFSETS = MemoryLayout.structLayout(
            JAVA_INT.withName("head"), JAVA_INT.withName("tail"), JAVA_INT.withName("ring_mask"),
            JAVA_INT.withName("ring_entries"), JAVA_INT.withName("overflow"), JAVA_INT.withName("cqes"),
            JAVA_INT.withName("flags"), JAVA_INT.withName("resv1"), JAVA_LONG.withName("user_addr"));
    /** struct io_uring_params (120 bytes). */
    static final StructLayout PARAMS = MemoryLayout.structLayout(
            JAVA_INT.withName("sq_entries"), JAVA_INT.withName("cq_entries"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("sq_thread_cpu"), JAVA_INT.withName("sq_thread_idle"), JAVA_INT.withName("features"),
            JAVA_INT.withName("wq_fd"), MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv"),
            SQ_OFFSETS.withName("sq_off"), CQ_OFFSETS.withName("cq_off"));
    /** struct io_uring_sqe, the fields Flint fills (the rest stay zero). */
    static final StructLayout SQE = MemoryLayout.structLayout(
            JAVA_BYTE.withName("opcode"), JAVA_BYTE.withName("flags"), JAVA_SHORT.withName("ioprio"),
            JAVA_INT.withName("fd"), JAVA_LONG.withName("off"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
            JAVA_INT.withName("op_flags"), JAVA_LONG.withName("user_data"), JAVA_SHORT.withName("buf_index"),
            JAVA_SHORT.withName("personality"), JAVA_INT.withName("splice_fd_in"), JAVA_LONG.withName("addr3"),
            JAVA_LONG.withName("pad2"));
    /** struct io_uring_cqe (without the big-CQE extension, which Flint does not ask for). */
    static final StructLayout CQE = MemoryLayout.structLayout(
            JAVA_LONG.withName("user_data"), JAVA_INT.withName("res"), JAVA_INT.withName("flags"));

    private static final long SQ_OFF = PARAMS.byteOffset(PathElement.groupElement("sq_off"));
    private static final long CQ_OFF = PARAMS.byteOffset(PathElement.groupElement("cq_off"));

    private static final VarHandle INT = JAVA_INT.varHandle(); // (segment, offset): acquire/release ring indices
    private static final VarHandle SQE_OPCODE = sqe("opcode"), SQE_FLAGS = sqe("flags"), SQE_FD = sqe("fd"), SQE_OFF = sqe("off"),
            SQE_ADDR = sqe("addr"), SQE_LEN = sqe("len"), SQE_OP_FLAGS = sqe("op_flags"), SQE_USER_DATA = sqe("user_data");
    private static final VarHandle CQE_USER_DATA = CQE.varHandle(PathElement.groupElement("user_data"));
    private static final VarHandle CQE_RES = CQE.varHandle(PathElement.groupElement("res"));

    private static final MethodHandle SETUP = syscall(FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
    private static final MethodHandle ENTER = syscall(FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));

    private static VarHandle sqe(String field) { return SQE.varHandle(PathElement.groupElement(field)); }

    private static MethodHandle syscall(FunctionDescriptor fd) {
        return Downcalls.withErrno("syscall", fd, 1);
    }

    /** What {@link #reap} hands each completion to. */
    @FunctionalInterface
    public interface Completions {
        /** {@code result}: bytes moved, 0 for fsync, or a negated errno. */
        void complete(long userData, int result);
    }

    private final FileDescriptor ring;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment captured = Downcalls.newCaptureBuffer();
    private final MemorySegment sqRing, cqRing, sqes;
    private final long sqRingBytes, cqRingBytes, sqesBytes;
    private final int sqEntries, sqMask, cqMask;
    private final long sqHead, sqTail, sqArray, cqHead, cqTail, cqes;
    private int localTail;   // entries queued, not yet published to the kernel
    private int unsubmitted; // published but not yet passed to io_uring_enter

    private IoUring(int fd, MemorySegment params) {
        this.ring = new FileDescriptor(fd);
        {
            sqEntries = params.get(JAVA_INT, PARAMS.byteOffset(PathElement.groupElement("sq_entries")));
            int cqEntries = params.get(JAVA_INT, PARAMS.byteOffset(PathElement.groupElement("cq_entries")));
            int sqArrayOff = sqField(params, "array"), cqesOff = cqField(params, "cqes");
            sqRingBytes = sqArrayOff + 4L * sqEntries;
            cqRingBytes = cqesOff + CQE.byteSize() * cqEntries;
            sqesBytes = SQE.byteSize() * sqEntries;
            sqRing = map(sqRingBytes, IORING_OFF_SQ_RING);
            cqRing = map(cqRingBytes, IORING_OFF_CQ_RING);
            sqes = map(sqesBytes, IORING_OFF_SQES);
            sqHead = sqField(params, "head");
            sqTail = sqField(params, "tail");
            sqArray = sqArrayOff;
            sqMask = sqRing.get(JAVA_INT, sqField(params, "ring_mask"));
            cqHead = cqField(params, "head");
            cqTail = cqField(params, "tail");
            cqes = cqesOff;
            cqMask = cqRing.get(JAVA_INT, cqField(params, "ring_mask"));
            localTail = (int) INT.getAcquire(sqRing, sqTail);
        }
    }

    private static int sqField(MemorySegment params, String name) {
        return params.get(JAVA_INT, SQ_OFF + SQ_OFFSETS.byteOffset(PathElement.groupElement(name)));
    }

    private static int cqField(MemorySegment params, String name) {
        return params.get(JAVA_INT, CQ_OFF + CQ_OFFSETS.byteOffset(PathElement.groupElement(name)));
    }

    private MemorySegment map(long bytes, long offset) {
        long address = Libc.mmap(bytes, PROT_READ_WRITE, MAP_SHARED_POPULATE, ring.fd(), offset);
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    /**
     * A ring with room for {@code entries} submissions (rounded up to a power of two by the kernel); an
     * {@link ErrnoException} where io_uring is unavailable: an old kernel (ENOSYS), a seccomp filter
     * (EPERM), or {@code kernel.io_uring_disabled}.
     */
    public static IoUring open(int entries) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment params = call.allocate(PARAMS);
            long fd = Downcalls.checked("io_uring_setup", e -> (long) SETUP.invokeExact(e, SYS_IO_URING_SETUP, (long) entries, params));
            try {
                return new IoUring((int) fd, params);
            } catch (RuntimeException e) { // a ring that cannot be mapped is no ring (its mappings go with the process)
                Libc.close((int) fd);
                throw e;
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** Submission entries the ring holds; no more than this many may be queued between submits. */
    public int capacity() { return sqEntries; }

    /** Queues a read of {@code buffer.byteSize()} bytes at {@code position}; false if the ring is full. */
    public boolean read(int fd, MemorySegment buffer, long position, long userData) {
        return read(fd, buffer, 0, buffer.byteSize(), position, userData);
    }

    /** Queues a write of {@code buffer} at {@code position}; false if the ring is full. */
    public boolean write(int fd, MemorySegment buffer, long position, long userData) {
        return write(fd, buffer, 0, buffer.byteSize(), position, userData);
    }

    /**
     * Queues a read of {@code length} bytes at {@code position} into {@code memory} from {@code offset} (a
     * range of a larger segment, guest RAM say, without a view made per request); false if the ring is full.
     */
    public boolean read(int fd, MemorySegment memory, long offset, long length, long position, long userData) {
        return queue(OP_READ, 0, fd, memory, offset, length, position, 0, userData);
    }

    /**
     * As {@link #read(int, MemorySegment, long, long, long, long)}, with {@code preadv2}'s flags for the read
     * ({@code RWF_NOWAIT}: complete with {@code -EAGAIN} instead of going to the disk).
     */
    public boolean read(int fd, MemorySegment memory, long offset, long length, long position, int rwFlags, long userData) {
        return queue(OP_READ, 0, fd, memory, offset, length, position, rwFlags, userData);
    }

    /**
     * As {@link #read(int, MemorySegment, long, long, long, int, long)}, with the entry's own flags
     * ({@link #ASYNC}: straight to a kernel worker thread).
     */
    public boolean read(int fd, MemorySegment memory, long offset, long length, long position, int rwFlags, int sqeFlags, long userData) {
        return queue(OP_READ, sqeFlags, fd, memory, offset, length, position, rwFlags, userData);
    }

    /** As {@link #write(int, MemorySegment, long, long, long, long)}, with the entry's own flags ({@link #ASYNC}). */
    public boolean write(int fd, MemorySegment memory, long offset, long length, long position, int sqeFlags, long userData) {
        return queue(OP_WRITE, sqeFlags, fd, memory, offset, length, position, 0, userData);
    }

    /** Queues a write of {@code length} bytes of {@code memory} from {@code offset} at {@code position}; false if the ring is full. */
    public boolean write(int fd, MemorySegment memory, long offset, long length, long position, long userData) {
        return queue(OP_WRITE, 0, fd, memory, offset, length, position, 0, userData);
    }

    /**
     * Queues a vectored read ({@code IORING_OP_READV}) at {@code position} into the {@code count} buffers that
     * {@code iovecs} describes from entry {@code first} ({@link Libc#IOVEC_BYTES} bytes each: address, length),
     * one entry for a request scattered over many buffers; false if the ring is full. The caller has checked
     * every buffer the iovecs name and keeps them and the iovecs unchanged until the completion is reaped.
     */
    public boolean readv(int fd, MemorySegment iovecs, int first, int count, long position, int rwFlags, int sqeFlags, long userData) {
        return queue(OP_READV, sqeFlags, fd, iovecs, first * Libc.IOVEC_BYTES, count * Libc.IOVEC_BYTES, position, rwFlags, userData, count);
    }

    /** As {@link #readv}, a vectored write ({@code IORING_OP_WRITEV}) of the buffers the iovecs name. */
    public boolean writev(int fd, MemorySegment iovecs, int first, int count, long position, int sqeFlags, long userData) {
        return queue(OP_WRITEV, sqeFlags, fd, iovecs, first * Libc.IOVEC_BYTES, count * Libc.IOVEC_BYTES, position, 0, userData, count);
    }

    /** Queues an fdatasync; false if the ring is full. */
    public boolean fsync(int fd, long userData) {
        return queue(OP_FSYNC, 0, fd, MemorySegment.NULL, 0, 0, 0, FSYNC_DATASYNC, userData);
    }

    private boolean queue(byte opcode, int sqeFlags, int fd, MemorySegment memory, long offset, long length, long position, int opFlags, long userData) {
        return queue(opcode, sqeFlags, fd, memory, offset, length, position, opFlags, userData, length);
    }

    /** {@code len}: the entry's length field, bytes or (vectored) the iovec count. */
    private boolean queue(byte opcode, int sqeFlags, int fd, MemorySegment memory, long offset, long length, long position, int opFlags,
                          long userData, long len) {
        if (!memory.equals(MemorySegment.NULL) && !memory.isNative()) throw new IllegalArgumentException("io_uring needs native buffers");
        java.util.Objects.checkFromIndexSize(offset, length, memory.byteSize());
        if (length > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer over 2 GiB");
        int head = (int) INT.getAcquire(sqRing, sqHead);
        if (localTail - head >= sqEntries) return false;
        int index = localTail & sqMask;
        long e = SQE.byteSize() * index; // written in place: no view of the entry per request
        for (long at = 0; at < SQE.byteSize(); at += 8) sqes.set(JAVA_LONG, e + at, 0L);
        SQE_OPCODE.set(sqes, e, opcode);
        if (sqeFlags != 0) SQE_FLAGS.set(sqes, e, (byte) sqeFlags);
        SQE_FD.set(sqes, e, fd);
        SQE_OFF.set(sqes, e, position);
        SQE_ADDR.set(sqes, e, memory.address() + offset);
        SQE_LEN.set(sqes, e, (int) len);
        SQE_OP_FLAGS.set(sqes, e, opFlags);
        SQE_USER_DATA.set(sqes, e, userData);
        sqRing.set(JAVA_INT, sqArray + 4L * index, index);
        localTail++;
        INT.setRelease(sqRing, sqTail, localTail); // the entry is visible before the tail that publishes it
        unsubmitted++;
        return true;
    }

    /**
     * Passes every queued entry to the kernel and sleeps until at least {@code minComplete} completions
     * are available. Returns the number of entries submitted.
     */
    public int submitAndWait(int minComplete) {
        int submitted = 0;
        while (true) {
            long r;
            try {
                r = (long) ENTER.invokeExact(captured, SYS_IO_URING_ENTER, (long) ring.fd(), (long) unsubmitted, (long) minComplete,
                        (long) (minComplete > 0 ? IORING_ENTER_GETEVENTS : 0), 0L, 0L);
            } catch (Throwable t) {
                throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
            }
            if (r >= 0) {
                unsubmitted -= (int) r;
                submitted += (int) r;
                if (unsubmitted == 0) return submitted;
                continue; // the kernel took part of the batch: pass it the rest
            }
            int errno = Downcalls.errno(captured);
            if (errno == EINTR) continue;
            if ((errno == EAGAIN || errno == EBUSY) && pendingCompletions() > 0) return submitted; // reap, then go on
            throw new ErrnoException("io_uring_enter", errno);
        }
    }

    /** Completions waiting to be reaped. */
    public int pendingCompletions() {
        return (int) INT.getAcquire(cqRing, cqTail) - (int) INT.getAcquire(cqRing, cqHead);
    }

    /** Hands every available completion to {@code sink} and returns how many there were. */
    public int reap(Completions sink) {
        int head = (int) INT.getAcquire(cqRing, cqHead);
        int tail = (int) INT.getAcquire(cqRing, cqTail);
        int n = 0;
        for (; head != tail; head++, n++) {
            long at = cqes + CQE.byteSize() * (head & cqMask);
            long userData = (long) CQE_USER_DATA.get(cqRing, at);
            int res = (int) CQE_RES.get(cqRing, at);
            INT.setRelease(cqRing, cqHead, head + 1); // the slot is free for the kernel once read
            sink.complete(userData, res);
        }
        return n;
    }

    @Override
    public void close() {
        Libc.munmap(sqRing.address(), sqRingBytes);
        Libc.munmap(cqRing.address(), cqRingBytes);
        Libc.munmap(sqes.address(), sqesBytes);
        ring.close();
        arena.close();
    }
}
