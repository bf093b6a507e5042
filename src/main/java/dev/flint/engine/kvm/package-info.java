/**
 * The {@code kvm} engine: vCPUs run under Linux KVM, driven through /dev/kvm with FFM downcalls
 * ({@link dev.flint.sys.Libc}); no JNI, no native library of Flint's own.
 *
 * <h2>Pieces</h2>
 * <ul>
 *   <li>{@link dev.flint.engine.kvm.KvmEngine}: availability (no /dev/kvm, permission denied, PVM host,
 *       missing capability) and VM creation.</li>
 *   <li>{@code KvmVm}: the VM fd with the in-kernel irqchip (PIC, I/O APIC, LAPICs) and PIT, one memory
 *       slot per {@link dev.flint.machine.GuestMemory} region, the vCPUs, pause/resume/stop/close.</li>
 *   <li>{@code KvmVcpu}: one platform thread per vCPU looping on KVM_RUN; exits ({@code VcpuExit}, decoded
 *       from the shared {@code kvm_run} page by {@code KvmRun}) go to the port-I/O and MMIO buses or
 *       become a {@link dev.flint.machine.StopReason}. CPUID is KVM's supported set with the per-vCPU APIC
 *       id and topology fixed up ({@code CpuidTable}); vCPU 0 gets the boot loader's state
 *       ({@code Registers}), the others wait in the in-kernel LAPIC for INIT/SIPI from the guest.</li>
 *   <li>{@code KvmInterrupts}: GSIs through KVM_IRQ_LINE with KVM's default routing (0-15 to PIC and
 *       I/O APIC, 16-23 to the I/O APIC), MSIs through KVM_SIGNAL_MSI.</li>
 * </ul>
 *
 * <h2>Getting a vCPU out of the guest</h2>
 * {@code VcpuKick}: the vCPU thread blocks a real-time signal for itself and hands KVM (KVM_SET_SIGNAL_MASK)
 * a mask without it for guest mode. A kick sets {@code kvm_run.immediate_exit} and tgkill()s the thread:
 * inside the guest the signal forces an EINTR exit, outside it the flag (or the pending signal) makes the
 * next KVM_RUN return at once. The signal is never delivered to a handler, so the JVM's signal handling is
 * untouched; the thread takes it back with sigtimedwait. Because HotSpot restores a thread's original
 * signal mask when the thread ends, kicks are sent under a lock that the ending thread takes before
 * draining what is queued.
 *
 * <h2>PVM hosts</h2>
 * A /dev/kvm on a CPU without VT-x/AMD-V is PVM: real-mode and VMM-built long-mode code run (the engine's
 * fast tests use exactly that), a stock kernel does not, so availability() says no unless the user opts
 * in with {@code -Dflint.kvm.allowPvm=true}. Stock-kernel boots are tested nested inside QEMU TCG with
 * SVM ({@code dev.flint.nested} tests).
 */
package dev.flint.engine.kvm;
