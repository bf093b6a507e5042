package dev.flint.engine.kvm;

/**
 * Byte offsets of the KVM structures Flint reads and writes (x86-64 layout of include/uapi/linux/kvm.h
 * and arch/x86/include/uapi/asm/kvm.h). Kept as plain offsets: the structures are fixed ABI and the
 * offsets are easier to check against the header than a layout DSL.
 */
final class Layouts {
    private Layouts() {}

    // struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags, all u64
    static final int REGS_SIZE = 18 * 8;
    static final int REGS_RIP = 16 * 8, REGS_RFLAGS = 17 * 8;

    // struct kvm_segment (24 bytes)
    static final int SEG_SIZE = 24;
    static final int SEG_BASE = 0, SEG_LIMIT = 8, SEG_SELECTOR = 12, SEG_TYPE = 14, SEG_PRESENT = 15, SEG_DPL = 16,
            SEG_DB = 17, SEG_S = 18, SEG_L = 19, SEG_G = 20, SEG_AVL = 21, SEG_UNUSABLE = 22;

    // struct kvm_sregs: cs ds es fs gs ss tr ldt, gdt idt (kvm_dtable, 16 bytes), cr0 cr2 cr3 cr4 cr8 efer apic_base, bitmap
    static final int SREGS_SIZE = 312;
    static final int SREGS_CS = 0, SREGS_DS = 24, SREGS_ES = 48, SREGS_FS = 72, SREGS_GS = 96, SREGS_SS = 120,
            SREGS_TR = 144, SREGS_LDT = 168, SREGS_GDT = 192, SREGS_IDT = 208,
            SREGS_CR0 = 224, SREGS_CR2 = 232, SREGS_CR3 = 240, SREGS_CR4 = 248, SREGS_CR8 = 256,
            SREGS_EFER = 264, SREGS_APIC_BASE = 272;

    // struct kvm_fpu (416 bytes)
    static final int FPU_SIZE = 416;
    static final int FPU_FCW = 128, FPU_MXCSR = 408;

    // struct kvm_run (the fixed head and the exit union Flint decodes)
    static final int RUN_IMMEDIATE_EXIT = 1, RUN_EXIT_REASON = 8;
    static final int RUN_UNION = 32;
    static final int IO_DIRECTION = RUN_UNION, IO_SIZE = RUN_UNION + 1, IO_PORT = RUN_UNION + 2,
            IO_COUNT = RUN_UNION + 4, IO_DATA_OFFSET = RUN_UNION + 8;
    static final int MMIO_PHYS_ADDR = RUN_UNION, MMIO_DATA = RUN_UNION + 8, MMIO_LEN = RUN_UNION + 16,
            MMIO_IS_WRITE = RUN_UNION + 20;
    static final int INTERNAL_SUBERROR = RUN_UNION, INTERNAL_NDATA = RUN_UNION + 4, INTERNAL_DATA = RUN_UNION + 8;
    static final int FAIL_ENTRY_REASON = RUN_UNION, FAIL_ENTRY_CPU = RUN_UNION + 8;
    static final int SYSTEM_EVENT_TYPE = RUN_UNION;

    // struct kvm_cpuid2 { u32 nent, padding; struct kvm_cpuid_entry2 entries[]; } entries are 40 bytes
    static final int CPUID_HEADER = 8, CPUID_ENTRY = 40;
    static final int CPUID_FUNCTION = 0, CPUID_INDEX = 4, CPUID_FLAGS = 8, CPUID_EAX = 12, CPUID_EBX = 16,
            CPUID_ECX = 20, CPUID_EDX = 24;

    // struct kvm_msrs { u32 nmsrs, pad; struct kvm_msr_entry { u32 index, reserved; u64 data; } entries[]; }
    static final int MSRS_HEADER = 8, MSR_ENTRY = 16;

    // struct kvm_userspace_memory_region { u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr; }
    static final int MEMORY_REGION_SIZE = 32;
    static final int MEMORY_REGION_FLAGS = 4;
    static final int MEM_LOG_DIRTY_PAGES = 1;

    // struct kvm_dirty_log { u32 slot, padding1; union { void *dirty_bitmap; u64 padding2; }; }
    static final int DIRTY_LOG_SIZE = 16;
    static final int DIRTY_LOG_SLOT = 0, DIRTY_LOG_BITMAP = 8;

    // struct kvm_msi { u32 address_lo, address_hi, data, flags; u8 pad[16]; }
    static final int MSI_SIZE = 32;

    // struct kvm_ioeventfd (64 bytes): u64 datamatch, u64 addr, u32 len, s32 fd, u32 flags, pad
    static final int IOEVENTFD_SIZE = 64;
    static final int IOEVENTFD_DATAMATCH = 0, IOEVENTFD_ADDR = 8, IOEVENTFD_LEN = 16, IOEVENTFD_FD = 20,
            IOEVENTFD_FLAGS = 24;
    static final int IOEVENTFD_FLAG_DATAMATCH = 1, IOEVENTFD_FLAG_DEASSIGN = 4;

    // struct kvm_irqfd (32 bytes): u32 fd, u32 gsi, u32 flags, u32 resamplefd, pad
    static final int IRQFD_SIZE = 32;
    static final int IRQFD_FD = 0, IRQFD_GSI = 4, IRQFD_FLAGS = 8;
    static final int IRQFD_FLAG_DEASSIGN = 1;

    // struct kvm_irq_routing: u32 nr, u32 flags, then kvm_irq_routing_entry[nr] (48 bytes each:
    // u32 gsi, u32 type, u32 flags, u32 pad, then a 32-byte union: irqchip {u32 irqchip, u32 pin} or
    // msi {u32 address_lo, u32 address_hi, u32 data, u32 pad})
    static final int ROUTING_HEADER = 8, ROUTE_SIZE = 48;
    static final int ROUTE_GSI = 0, ROUTE_TYPE = 4, ROUTE_U = 16;
    static final int ROUTE_TYPE_IRQCHIP = 1, ROUTE_TYPE_MSI = 2;
    static final int IRQCHIP_PIC_MASTER = 0, IRQCHIP_PIC_SLAVE = 1, IRQCHIP_IOAPIC = 2;

    // Snapshot structures, saved and restored as opaque bytes (sizes checked against the x86-64 headers)
    static final int IRQCHIP_SIZE = 520;         // struct kvm_irqchip { u32 chip_id, pad; union { char dummy[512]; ... } }
    static final int PIT2_SIZE = 112;            // struct kvm_pit_state2
    static final int CLOCK_SIZE = 48;            // struct kvm_clock_data { u64 clock; u32 flags, pad0; u64 realtime, host_tsc; u32 pad[4]; }
    static final int CLOCK_FLAGS = 8;
    static final int LAPIC_SIZE = 1024;          // struct kvm_lapic_state { char regs[1024]; }
    static final int EVENTS_SIZE = 64;           // struct kvm_vcpu_events
    static final int EVENTS_FLAGS = 20;
    static final int DEBUGREGS_SIZE = 128;       // struct kvm_debugregs
    static final int XSAVE_SIZE = 4096;          // struct kvm_xsave { u32 region[1024]; u32 extra[]; }
    static final int XCRS_SIZE = 392;            // struct kvm_xcrs { u32 nr_xcrs, flags; kvm_xcr xcrs[16]; u64 padding[16]; }
}
