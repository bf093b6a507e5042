package dev.flint.engine.kvm;

import dev.flint.sys.Libc;
import dev.flint.sys.MappedMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One vCPU's {@code struct kvm_run}: the page(s) the kernel and Flint share to describe an exit and to
 * carry I/O data back. Only the vCPU's own thread reads exits; {@link #requestImmediateExit} may be
 * called from any thread.
 */
final class KvmRun implements AutoCloseable {
    private final MappedMemory mapping;
    private final MemorySegment run;

    KvmRun(int vcpuFd, long size) {
        this.mapping = MappedMemory.shared(vcpuFd, size, 0);
        this.run = mapping.segment();
    }

    /** Makes the next (or the current, once kicked) KVM_RUN return at once with EINTR. */
    void requestImmediateExit(boolean on) {
        run.set(ValueLayout.JAVA_BYTE, Layouts.RUN_IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    /** Decodes the exit KVM_RUN just reported. */
    VcpuExit exit() {
        int reason = run.get(ValueLayout.JAVA_INT, Layouts.RUN_EXIT_REASON);
        return switch (reason) {
            case KvmApi.EXIT_IO -> new VcpuExit.Io(
                    run.get(ValueLayout.JAVA_SHORT, Layouts.IO_PORT) & 0xFFFF,
                    run.get(ValueLayout.JAVA_BYTE, Layouts.IO_SIZE),
                    run.get(ValueLayout.JAVA_BYTE, Layouts.IO_DIRECTION) == KvmApi.IO_OUT,
                    run.get(ValueLayout.JAVA_INT, Layouts.IO_COUNT),
                    run.get(ValueLayout.JAVA_LONG, Layouts.IO_DATA_OFFSET));
            case KvmApi.EXIT_MMIO -> {
                int len = run.get(ValueLayout.JAVA_INT, Layouts.MMIO_LEN);
                boolean write = run.get(ValueLayout.JAVA_BYTE, Layouts.MMIO_IS_WRITE) != 0;
                long data = write && isAccessSize(len) ? Libc.getSized(run, Layouts.MMIO_DATA, len) : 0;
                yield new VcpuExit.Mmio(run.get(ValueLayout.JAVA_LONG, Layouts.MMIO_PHYS_ADDR), len, write, data);
            }
            case KvmApi.EXIT_HLT -> new VcpuExit.Halt();
            case KvmApi.EXIT_SHUTDOWN -> new VcpuExit.Shutdown();
            case KvmApi.EXIT_SYSTEM_EVENT -> new VcpuExit.SystemEvent(run.get(ValueLayout.JAVA_INT, Layouts.SYSTEM_EVENT_TYPE));
            case KvmApi.EXIT_INTERNAL_ERROR -> {
                int n = Math.min(16, Math.max(0, run.get(ValueLayout.JAVA_INT, Layouts.INTERNAL_NDATA)));
                long[] data = new long[n];
                for (int i = 0; i < n; i++) data[i] = run.get(ValueLayout.JAVA_LONG, Layouts.INTERNAL_DATA + 8L * i);
                yield new VcpuExit.InternalError(run.get(ValueLayout.JAVA_INT, Layouts.INTERNAL_SUBERROR), data);
            }
            case KvmApi.EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(run.get(ValueLayout.JAVA_LONG, Layouts.FAIL_ENTRY_REASON),
                    run.get(ValueLayout.JAVA_INT, Layouts.FAIL_ENTRY_CPU));
            case KvmApi.EXIT_INTR -> new VcpuExit.Interrupted();
            default -> new VcpuExit.Unexpected(reason);
        };
    }

    static boolean isAccessSize(int len) { return len == 1 || len == 2 || len == 4 || len == 8; }

    /** The value of the {@code index}-th element of a port I/O exit's data (an OUT). */
    long ioData(VcpuExit.Io io, int index) {
        return Libc.getSized(run, ioDataAt(io, index), io.size());
    }

    /** Stores the value for the {@code index}-th element of a port I/O exit (an IN). */
    void setIoData(VcpuExit.Io io, int index, long value) {
        Libc.setSized(run, ioDataAt(io, index), io.size(), value);
    }

    private long ioDataAt(VcpuExit.Io io, int index) {
        long at = io.dataOffset() + (long) index * io.size();
        // The kernel puts the data inside the mapping; a corrupt offset must not make Flint read elsewhere.
        if (at < 0 || at + io.size() > run.byteSize()) throw new IllegalStateException("I/O data outside kvm_run: " + at);
        return at;
    }

    /** Stores the value a guest MMIO read gets. */
    void setMmioData(int length, long value) {
        Libc.setSized(run, Layouts.MMIO_DATA, length, value);
    }

    @Override
    public void close() { mapping.close(); }
}
