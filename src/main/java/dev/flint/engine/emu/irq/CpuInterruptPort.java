package dev.flint.engine.emu.irq;

/**
 * A vCPU's view of its local APIC: what the CPU core asks at instruction boundaries and when it halts.
 * Implemented by the emulated local APIC; used by the CPU core. The core never sees the I/O APIC, PIC or
 * devices: everything reaches it through this port.
 */
public interface CpuInterruptPort {
    /** Vector of the highest-priority maskable interrupt deliverable now (after TPR/ISR), or -1. Includes
     *  ExtINT from the PIC through LINT0. Cheap: called on every block boundary. */
    int pendingVector();

    /** The CPU takes the interrupt {@link #pendingVector()} returned (IF=1): moves it to in-service and
     *  returns the vector (may differ if a higher one arrived meanwhile), or -1 if it vanished. */
    int acknowledge();

    /** True once per NMI delivered to this CPU. */
    boolean takeNmi();

    /** True once per INIT IPI (the CPU then resets to wait-for-SIPI). */
    boolean takeInit();

    /** The vector page of a pending STARTUP IPI, or -1. */
    int takeSipi();

    /** CR8 writes and reads map onto the task-priority register (CR8 = TPR[7:4]). */
    void setCr8(long cr8);

    long cr8();

    /** Value of IA32_APIC_BASE (MSR 0x1B): the physical address of the xAPIC page plus flags. */
    long apicBase();

    /** Reads the xAPIC register page the CPU intercepts at {@link #apicBase()}. */
    long mmioRead(long offset, int size);

    void mmioWrite(long offset, int size, long value);

    /** An APIC-owned MSR (0x1B, 0x6E0 TSC_DEADLINE, x2APIC range if advertised); null if not one of ours. */
    Long readMsr(int index);

    /** Writes an APIC-owned MSR; false if not one of ours (the core then raises #GP). */
    boolean writeMsr(int index, long value);

    /** Host nanoseconds (System.nanoTime scale) of the next timer event of this APIC, or Long.MAX_VALUE:
     *  a halted vCPU sleeps at most until then. */
    long nextEventNanos();

    /** Lets the APIC wake this vCPU when an interrupt, NMI, INIT or SIPI arrives while it is halted. */
    void setWakeup(Runnable wakeup);

    /**
     * The vCPU keeps this APIC's timer itself from now on: it calls {@link #expireTimer} between slices and
     * sleeps in HLT no longer than {@link #nextEventNanos()}, so the APIC arms no task on the host timer
     * thread. A tickless guest re-arms its timer on every entry to and exit from idle (twice per I/O
     * request it waits for); each re-arm then costs a field write instead of waking another thread.
     */
    default void keepTimerOnCpu() { }

    /** Fires the timer if {@code nowNanos} reached its deadline (only after {@link #keepTimerOnCpu}); cheap when not due. */
    default void expireTimer(long nowNanos) { }
}
