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

    /** Creates a VM over the given memory, buses and control. Fails with {@link EngineException}. */
    VirtualMachine create(VmSetup setup);

    record Availability(boolean usable, String reason) {
        public static Availability yes() { return new Availability(true, "available"); }
        public static Availability no(String reason) { return new Availability(false, reason); }
    }
}
