package dev.flint.engine.kvm;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import dev.flint.sys.FileDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Moves x86 register state between Flint's {@link CpuBootState} and KVM's {@code kvm_regs},
 * {@code kvm_sregs} and {@code kvm_fpu}, and renders a vCPU's registers for error reports.
 */
final class Registers {
    private Registers() {}

    private static final String[] GPR_NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};

    /** Loads {@code state} into the vCPU: special registers first (mode), then general ones, then a clean FPU. */
    static void apply(FileDescriptor vcpu, CpuBootState state) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sregs = arena.allocate(Layouts.SREGS_SIZE, 8);
            // Start from KVM's current values so fields Flint does not model (apic_base, cr8) stay sane.
            vcpu.ioctl(KvmApi.GET_SREGS, sregs);
            putSegment(sregs, Layouts.SREGS_CS, state.cs());
            putSegment(sregs, Layouts.SREGS_DS, state.ds());
            putSegment(sregs, Layouts.SREGS_ES, state.es());
            putSegment(sregs, Layouts.SREGS_FS, state.fs());
            putSegment(sregs, Layouts.SREGS_GS, state.gs());
            putSegment(sregs, Layouts.SREGS_SS, state.ss());
            putSegment(sregs, Layouts.SREGS_TR, state.tr());
            putSegment(sregs, Layouts.SREGS_LDT, state.ldt());
            sregs.set(JAVA_LONG, Layouts.SREGS_GDT, state.gdtBase());
            sregs.set(JAVA_SHORT, Layouts.SREGS_GDT + 8, (short) state.gdtLimit());
            sregs.set(JAVA_LONG, Layouts.SREGS_IDT, state.idtBase());
            sregs.set(JAVA_SHORT, Layouts.SREGS_IDT + 8, (short) state.idtLimit());
            sregs.set(JAVA_LONG, Layouts.SREGS_CR0, state.cr0());
            sregs.set(JAVA_LONG, Layouts.SREGS_CR3, state.cr3());
            sregs.set(JAVA_LONG, Layouts.SREGS_CR4, state.cr4());
            sregs.set(JAVA_LONG, Layouts.SREGS_EFER, state.efer());
            vcpu.ioctl(KvmApi.SET_SREGS, sregs);

            MemorySegment regs = arena.allocate(Layouts.REGS_SIZE, 8);
            long[] gprs = {state.rax(), state.rbx(), state.rcx(), state.rdx(), state.rsi(), state.rdi(),
                    state.rsp(), state.rbp()};
            for (int i = 0; i < gprs.length; i++) regs.set(JAVA_LONG, 8L * i, gprs[i]);
            regs.set(JAVA_LONG, Layouts.REGS_RIP, state.rip());
            regs.set(JAVA_LONG, Layouts.REGS_RFLAGS, state.rflags() | 0x2); // bit 1 is always set
            vcpu.ioctl(KvmApi.SET_REGS, regs);

            // The power-on FPU state: x87 control word 0x37F (all exceptions masked), MXCSR 0x1F80.
            MemorySegment fpu = arena.allocate(Layouts.FPU_SIZE, 8);
            fpu.set(JAVA_SHORT, Layouts.FPU_FCW, (short) 0x37F);
            fpu.set(JAVA_INT, Layouts.FPU_MXCSR, 0x1F80);
            vcpu.ioctl(KvmApi.SET_FPU, fpu);
        }
    }

    private static void putSegment(MemorySegment sregs, long at, Segment s) {
        sregs.set(JAVA_LONG, at + Layouts.SEG_BASE, s.base());
        sregs.set(JAVA_INT, at + Layouts.SEG_LIMIT, s.limit());
        sregs.set(JAVA_SHORT, at + Layouts.SEG_SELECTOR, (short) s.selector());
        sregs.set(JAVA_BYTE, at + Layouts.SEG_TYPE, (byte) s.type());
        sregs.set(JAVA_BYTE, at + Layouts.SEG_PRESENT, flag(s.present()));
        sregs.set(JAVA_BYTE, at + Layouts.SEG_DPL, (byte) s.dpl());
        sregs.set(JAVA_BYTE, at + Layouts.SEG_DB, flag(s.db()));
        sregs.set(JAVA_BYTE, at + Layouts.SEG_S, flag(s.s()));
        sregs.set(JAVA_BYTE, at + Layouts.SEG_L, flag(s.l()));
        sregs.set(JAVA_BYTE, at + Layouts.SEG_G, flag(s.g()));
        sregs.set(JAVA_BYTE, at + Layouts.SEG_AVL, (byte) 0);
        sregs.set(JAVA_BYTE, at + Layouts.SEG_UNUSABLE, flag(!s.present()));
    }

    private static byte flag(boolean b) { return (byte) (b ? 1 : 0); }

    /**
     * The vCPU's registers as a few readable lines (for triple faults and internal errors). Never throws:
     * a failing ioctl is reported in the text instead.
     */
    static String dump(FileDescriptor vcpu) {
        StringBuilder out = new StringBuilder();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment regs = arena.allocate(Layouts.REGS_SIZE, 8);
            vcpu.ioctl(KvmApi.GET_REGS, regs);
            for (int i = 0; i < GPR_NAMES.length; i++) {
                out.append(String.format("%-6s=%016x", GPR_NAMES[i], regs.get(JAVA_LONG, 8L * i)));
                out.append(i % 4 == 3 || i == GPR_NAMES.length - 1 ? '\n' : ' ');
            }
            MemorySegment sregs = arena.allocate(Layouts.SREGS_SIZE, 8);
            vcpu.ioctl(KvmApi.GET_SREGS, sregs);
            String[] segs = {"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"};
            for (int i = 0; i < segs.length; i++) {
                long at = (long) i * Layouts.SEG_SIZE;
                out.append(String.format("%-3s=%04x base=%016x limit=%08x type=%x%s%s%n", segs[i],
                        sregs.get(JAVA_SHORT, at + Layouts.SEG_SELECTOR) & 0xFFFF,
                        sregs.get(JAVA_LONG, at + Layouts.SEG_BASE),
                        sregs.get(JAVA_INT, at + Layouts.SEG_LIMIT),
                        sregs.get(JAVA_BYTE, at + Layouts.SEG_TYPE),
                        sregs.get(JAVA_BYTE, at + Layouts.SEG_L) != 0 ? " L" : "",
                        sregs.get(JAVA_BYTE, at + Layouts.SEG_UNUSABLE) != 0 ? " unusable" : ""));
            }
            out.append(String.format("gdt=%016x/%04x idt=%016x/%04x%n",
                    sregs.get(JAVA_LONG, Layouts.SREGS_GDT), sregs.get(JAVA_SHORT, Layouts.SREGS_GDT + 8) & 0xFFFF,
                    sregs.get(JAVA_LONG, Layouts.SREGS_IDT), sregs.get(JAVA_SHORT, Layouts.SREGS_IDT + 8) & 0xFFFF));
            out.append(String.format("cr0=%016x cr2=%016x cr3=%016x cr4=%016x efer=%016x",
                    sregs.get(JAVA_LONG, Layouts.SREGS_CR0), sregs.get(JAVA_LONG, Layouts.SREGS_CR2),
                    sregs.get(JAVA_LONG, Layouts.SREGS_CR3), sregs.get(JAVA_LONG, Layouts.SREGS_CR4),
                    sregs.get(JAVA_LONG, Layouts.SREGS_EFER)));
        } catch (RuntimeException e) {
            out.append("(registers unavailable: ").append(e.getMessage()).append(')');
        }
        return out.toString();
    }
}
