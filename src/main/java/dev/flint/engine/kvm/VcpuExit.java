package dev.flint.engine.kvm;

/**
 * Why KVM_RUN returned to user space, decoded from {@code struct kvm_run}. The vCPU loop switches over
 * this family; decoding and handling stay apart so each can be read (and tested) on its own.
 */
sealed interface VcpuExit {
    /**
     * Port I/O: {@code count} repetitions (string I/O, REP INS/OUTS) of {@code size} bytes each, the data
     * at {@code dataOffset} in the kvm_run mapping.
     */
    record Io(int port, int size, boolean out, int count, long dataOffset) implements VcpuExit {}

    /** An access to guest-physical memory that is not RAM; for a write, {@code data} holds the value. */
    record Mmio(long address, int length, boolean write, long data) implements VcpuExit {}

    /** HLT without an in-kernel LAPIC (Flint always has one, so this only appears if that changes). */
    record Halt() implements VcpuExit {}

    /** The vCPU triple-faulted (or otherwise took a shutdown). */
    record Shutdown() implements VcpuExit {}

    /** The guest asked the platform for shutdown, reset or reported a crash (PSCI-like event). */
    record SystemEvent(int type) implements VcpuExit {}

    /** KVM could not emulate something; {@code data} is the suberror's detail. */
    record InternalError(int suberror, long[] data) implements VcpuExit {}

    /** VM entry failed (invalid guest state); the reason is the hardware's code. */
    record FailEntry(long hardwareReason, int cpu) implements VcpuExit {}

    /** KVM_RUN was interrupted (a kick, or immediate_exit): the loop looks at its requests. */
    record Interrupted() implements VcpuExit {}

    /** Any other exit reason; fatal since Flint enables nothing that produces one. */
    record Unexpected(int reason) implements VcpuExit {}
}
