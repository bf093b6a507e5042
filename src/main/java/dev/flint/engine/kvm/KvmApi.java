package dev.flint.engine.kvm;

/**
 * The numbers of the Linux KVM API (include/uapi/linux/kvm.h, x86-64) Flint uses: ioctl request codes,
 * exit reasons and capability ids. Request codes are computed the way the kernel's {@code _IO*} macros
 * do, from the direction, the argument size and the command number, so each line can be checked against
 * the header.
 */
final class KvmApi {
    private KvmApi() {}

    private static final int KVMIO = 0xAE;
    private static final long NONE = 0, WRITE = 1, READ = 2;

    private static long io(int nr) { return ioc(NONE, nr, 0); }
    private static long ior(int nr, int size) { return ioc(READ, nr, size); }
    private static long iow(int nr, int size) { return ioc(WRITE, nr, size); }
    private static long iowr(int nr, int size) { return ioc(READ | WRITE, nr, size); }

    private static long ioc(long dir, int nr, int size) {
        return (dir << 30) | ((long) size << 16) | ((long) KVMIO << 8) | nr;
    }

    /** The only API version there has ever been; anything else is not KVM as we know it. */
    static final int API_VERSION = 12;

    // /dev/kvm
    static final long GET_API_VERSION = io(0x00);
    static final long CREATE_VM = io(0x01);
    static final long CHECK_EXTENSION = io(0x03);
    static final long GET_VCPU_MMAP_SIZE = io(0x04);
    static final long GET_SUPPORTED_CPUID = iowr(0x05, 8);
    static final long GET_MSR_INDEX_LIST = iowr(0x02, 4);

    // VM fd
    static final long CREATE_VCPU = io(0x41);
    static final long SET_USER_MEMORY_REGION = iow(0x46, 32);
    static final long GET_DIRTY_LOG = iow(0x42, Layouts.DIRTY_LOG_SIZE);
    static final long SET_TSS_ADDR = io(0x47);
    static final long SET_IDENTITY_MAP_ADDR = iow(0x48, 8);
    static final long CREATE_IRQCHIP = io(0x60);
    static final long IRQ_LINE = iow(0x61, 8);
    static final long CREATE_PIT2 = iow(0x77, 64);
    static final long SIGNAL_MSI = iow(0xA5, 32);
    static final long SET_GSI_ROUTING = iow(0x6A, 8);
    static final long IRQFD = iow(0x76, 32);
    static final long IOEVENTFD = iow(0x79, 64);
    // VM fd, snapshots: the in-kernel PIC/I/O APIC (SET_IRQCHIP really is _IOR in kvm.h), PIT and kvmclock
    static final long GET_IRQCHIP = iowr(0x62, Layouts.IRQCHIP_SIZE);
    static final long SET_IRQCHIP = ior(0x63, Layouts.IRQCHIP_SIZE);
    static final long GET_PIT2 = ior(0x9F, Layouts.PIT2_SIZE);
    static final long SET_PIT2 = iow(0xA0, Layouts.PIT2_SIZE);
    static final long SET_CLOCK = iow(0x7B, Layouts.CLOCK_SIZE);
    static final long GET_CLOCK = ior(0x7C, Layouts.CLOCK_SIZE);

    // vCPU fd
    static final long RUN = io(0x80);
    static final long GET_REGS = ior(0x81, Layouts.REGS_SIZE);
    static final long SET_REGS = iow(0x82, Layouts.REGS_SIZE);
    static final long GET_SREGS = ior(0x83, Layouts.SREGS_SIZE);
    static final long SET_SREGS = iow(0x84, Layouts.SREGS_SIZE);
    static final long SET_MSRS = iow(0x89, 8);
    static final long SET_SIGNAL_MASK = iow(0x8B, 4);
    static final long SET_FPU = iow(0x8D, Layouts.FPU_SIZE);
    static final long SET_CPUID2 = iow(0x90, 8);
    static final long GET_MP_STATE = ior(0x98, 4);
    static final long SET_MP_STATE = iow(0x99, 4);
    // vCPU fd, snapshots
    static final long GET_MSRS = iowr(0x88, 8);
    static final long GET_LAPIC = ior(0x8E, Layouts.LAPIC_SIZE);
    static final long SET_LAPIC = iow(0x8F, Layouts.LAPIC_SIZE);
    static final long GET_VCPU_EVENTS = ior(0x9F, Layouts.EVENTS_SIZE);
    static final long SET_VCPU_EVENTS = iow(0xA0, Layouts.EVENTS_SIZE);
    static final long GET_DEBUGREGS = ior(0xA1, Layouts.DEBUGREGS_SIZE);
    static final long SET_DEBUGREGS = iow(0xA2, Layouts.DEBUGREGS_SIZE);
    static final long SET_TSC_KHZ = io(0xA2);
    static final long GET_TSC_KHZ = io(0xA3);
    static final long GET_XSAVE = ior(0xA4, Layouts.XSAVE_SIZE);
    static final long SET_XSAVE = iow(0xA5, Layouts.XSAVE_SIZE);
    static final long GET_XCRS = ior(0xA6, Layouts.XCRS_SIZE);
    static final long SET_XCRS = iow(0xA7, Layouts.XCRS_SIZE);
    /** Like GET_XSAVE for a state larger than 4 KiB (AMX); its size is what CAP_XSAVE2 reports. */
    static final long GET_XSAVE2 = ior(0xCF, Layouts.XSAVE_SIZE);

    // Capabilities
    /** The capabilities Flint relies on, with the names kvm.h gives them (for the error message). */
    static final java.util.Map<Integer, String> REQUIRED_CAPS = java.util.Map.of(
            0, "KVM_CAP_IRQCHIP", 3, "KVM_CAP_USER_MEMORY", 4, "KVM_CAP_SET_TSS_ADDR", 7, "KVM_CAP_EXT_CPUID",
            33, "KVM_CAP_PIT2", 77, "KVM_CAP_SIGNAL_MSI", 136, "KVM_CAP_IMMEDIATE_EXIT");

    /** Optional capabilities: without them the VM offers no {@link KvmFastPaths} (devices use exits and ioctls). */
    static final int CAP_IRQ_ROUTING = 25, CAP_IRQFD = 32, CAP_IOEVENTFD = 36;

    /** What a snapshot needs: without these, create refuses with their names. */
    static final java.util.Map<Integer, String> SNAPSHOT_CAPS = java.util.Map.of(
            39, "KVM_CAP_ADJUST_CLOCK", 41, "KVM_CAP_VCPU_EVENTS", 50, "KVM_CAP_DEBUGREGS", 55, "KVM_CAP_XSAVE",
            56, "KVM_CAP_XCRS");
    /** XSAVE2's value is the size of the vCPU's XSAVE state; TSC_CONTROL lets KVM scale a guest's TSC. */
    static final int CAP_TSC_CONTROL = 60, CAP_GET_TSC_KHZ = 61, CAP_XSAVE2 = 208;

    // Exit reasons (kvm_run.exit_reason)
    static final int EXIT_IO = 2, EXIT_HLT = 5, EXIT_MMIO = 6, EXIT_SHUTDOWN = 8, EXIT_FAIL_ENTRY = 9,
            EXIT_INTR = 10, EXIT_INTERNAL_ERROR = 17, EXIT_SYSTEM_EVENT = 24;

    static final int IO_OUT = 1;
    static final int SYSTEM_EVENT_SHUTDOWN = 1, SYSTEM_EVENT_RESET = 2, SYSTEM_EVENT_CRASH = 3;

    static final int MP_STATE_RUNNABLE = 0, MP_STATE_UNINITIALIZED = 1;

    // kvm_vcpu_events.flags: which optional parts KVM_SET_VCPU_EVENTS takes from the structure
    static final int VCPUEVENT_VALID_NMI_PENDING = 1, VCPUEVENT_VALID_SIPI_VECTOR = 2;

    // kvm_irqchip.chip_id
    static final int IRQCHIP_PIC_MASTER = 0, IRQCHIP_PIC_SLAVE = 1, IRQCHIP_IOAPIC = 2;

    static final int MSR_IA32_TSC = 0x10, MSR_IA32_TSC_DEADLINE = 0x6E0;

    /** PIT without the PC speaker port (Firecracker does the same; nothing listens to the beeper). */
    static final int PIT_SPEAKER_DUMMY = 1;
}
