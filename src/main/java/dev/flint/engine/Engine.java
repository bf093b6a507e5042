package dev.flint.engine;

/**
 * A way to run vCPUs: {@code kvm} (hardware virtualization through /dev/kvm) or {@code emu} (Flint's own
 * x86-64 CPU). Everything else in a machine — memory, buses, devices, boot state — is shared.
 */
public interface Engine {
    /** The name used on the command line ({@code --engine NAME}). */
    String name();

    /** Whether this engine can boot a stock kernel on this host, and if not, why (one line). */
    Availability availability();

    /**
     * Whether the boot loader should unpack a compressed kernel on the host instead of letting the kernel's
     * own decompressor run in the guest. True where guest instructions are expensive (emu).
     */
    default boolean unpacksKernelOnHost() { return false; }

    /**
     * Whether the boot loader should enter the vmlinux the host's cache already unpacked from a bzImage, when
     * it has one, instead of the kernel's own decompressor (never unpacking for it). True for kvm.
     */
    default boolean entersCachedUnpackedKernel() { return false; }

    /**
     * Does ahead, on the calling thread, the work every VM of this engine needs and no configuration changes
     * (loading and linking its code, binding its native calls), so that a later {@link #create} has less to
     * do; true if it did any. Never fails: a problem met here is met again, and reported, by {@code create}.
     */
    default boolean warmUp() { return false; }

    /** Creates a VM over the given memory, buses and control. Fails with {@link EngineException}. */
    VirtualMachine create(VmSetup setup);

    record Availability(boolean usable, String reason) {
        public static Availability yes() { return new Availability(true, "available"); }
        public static Availability no(String reason) { return new Availability(false, reason); }
    }
}
