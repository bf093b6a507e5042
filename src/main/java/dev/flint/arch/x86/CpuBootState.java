package dev.flint.arch.x86;

/**
 * The architectural state a vCPU starts in: what the boot loader decided, applied by whichever engine
 * runs the VM. Built by {@link dev.flint.arch.x86} code only; engines never invent boot state.
 */
public record CpuBootState(
        long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
        long rip, long rflags,
        Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
        Segment tr, Segment ldt,
        long gdtBase, int gdtLimit, long idtBase, int idtLimit,
        long cr0, long cr3, long cr4, long efer) {

    public static final long CR0_PE = 1L, CR0_ET = 1L << 4, CR0_NE = 1L << 5, CR0_WP = 1L << 16, CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5;
    public static final long EFER_SCE = 1L, EFER_LME = 1L << 8, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;

    /** The state of a vCPU right after power-on reset (CS:IP = F000:FFF0). */
    public static CpuBootState reset() {
        Segment data = Segment.real(0, 0x3);
        Segment cs = new Segment(0xF000, 0xFFFF_0000L, 0xFFFF, 0xB, true, 0, false, true, false, false);
        return new CpuBootState(0, 0, 0, 0x600, 0, 0, 0, 0, 0xFFF0, 0x2,
                cs, data, data, data, data, data,
                new Segment(0, 0, 0xFFFF, 0xB, true, 0, false, false, false, false),
                new Segment(0, 0, 0xFFFF, 0x2, true, 0, false, false, false, false),
                0, 0xFFFF, 0, 0xFFFF, 0x6000_0010L, 0, 0, 0);
    }
}
