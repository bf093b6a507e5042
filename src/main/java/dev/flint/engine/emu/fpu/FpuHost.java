package dev.flint.engine.emu.fpu;

/**
 * What the x87/MMX/SSE units need from the CPU core that decoded the instruction. Implemented by the
 * core; the units never see the decoder, the MMU or the register file layout.
 *
 * <p>Memory accesses take guest <em>linear</em> addresses (segment base already applied) and may throw
 * the core's guest-exception type (page fault etc.); the units let it propagate.
 */
public interface FpuHost {
    /** General-purpose register 0..15 (RAX..R15), all 64 bits. */
    long readGpr(int index);

    /** Writes a GPR with x86 semantics: a 4-byte write zero-extends to 64 bits, 1/2-byte writes merge. */
    void writeGpr(int index, long value, int sizeBytes);

    /** Reads 1, 2, 4 or 8 bytes, zero-extended. */
    long readMem(long linear, int size);

    void writeMem(long linear, int size, long value);

    /** Sets ZF, PF and CF as given and clears OF, SF and AF (what COMISS/UCOMISD/FCOMI do). */
    void setCompareFlags(boolean zf, boolean pf, boolean cf);

    /**
     * The exception the core throws to deliver {@code vector} to the guest (#UD=6, #NM=7, #MF=16,
     * #GP=13, #XM=19). Units write {@code throw host.fault(6, 0);}.
     */
    RuntimeException fault(int vector, int errorCode);

    long cr0();

    long cr4();

    /** True in 64-bit mode (affects FXSAVE layout: 64-bit FPU IP/DP). */
    boolean longMode();

    /** RFLAGS as the x87 unit reports it in its environment images (a host without flags gives 2). */
    default long rflags() { return 2; }
}
