package dev.flint.engine.kvm;

import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * How another thread gets a vCPU thread out of KVM_RUN without installing a signal handler in the JVM
 * (the JVM owns signal handling; a foreign handler would be a liability).
 *
 * <p>The scheme, the one QEMU used before it had its own handlers: each vCPU thread <em>blocks</em> a
 * real-time signal for itself, and tells KVM (KVM_SET_SIGNAL_MASK) to run the guest with that signal
 * <em>unblocked</em>. A kicker sets {@code kvm_run.immediate_exit} and sends the signal to the thread
 * with tgkill. If the thread is inside KVM_RUN, the now-pending, guest-unblocked signal makes KVM leave
 * with EINTR; if it is about to enter, immediate_exit (or the still-pending signal) makes KVM_RUN return
 * EINTR at once. Back in user space the signal is blocked again, so it is never delivered to a handler:
 * the vCPU thread takes it off its queue with sigtimedwait. No handler, no timer, no lost kick.
 */
final class VcpuKick {
    /** A real-time signal above glibc's reserved ones; HotSpot does not use real-time signals. */
    static final int SIGNAL = Libc.sigrtmin() + 6;

    private VcpuKick() {}

    /**
     * Blocks the kick signal on the calling (vCPU) thread and registers with KVM the mask to use while
     * the guest runs: the thread's previous mask, which does not block the kick signal.
     */
    static void prepareThread(int vcpuFd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kickSet = Libc.sigset(arena, SIGNAL);
            MemorySegment previous = arena.allocate(Libc.SIGSET_BYTES, 8);
            Libc.pthreadSigmask(Libc.SIG_BLOCK, kickSet, previous);
            // struct kvm_signal_mask { u32 len; u8 sigset[len]; } with the kernel's 64-bit sigset.
            MemorySegment kvmMask = arena.allocate(4 + 8, 8);
            kvmMask.set(JAVA_INT, 0, 8);
            long whileInGuest = previous.get(JAVA_LONG, 0) & ~(1L << (SIGNAL - 1));
            kvmMask.set(JAVA_LONG.withByteAlignment(4), 4, whileInGuest);
            Libc.ioctl(vcpuFd, KvmApi.SET_SIGNAL_MASK, kvmMask);
        }
    }

    /** Takes a pending kick off the calling vCPU thread's queue (after KVM_RUN returned EINTR). */
    static void consume() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kickSet = Libc.sigset(arena, SIGNAL);
            while (Libc.takePendingSignal(kickSet) > 0) {
                // drain: several kicks may have queued (real-time signals queue)
            }
        }
    }

    /** Sends the kick to the vCPU thread {@code tid}. */
    static void send(int tid) {
        Libc.tgkill(tid, SIGNAL);
    }
}
