package dev.flint.machine;

/** Why a machine stopped running. Exit codes follow the CLI contract: 0 for a guest-requested stop. */
public sealed interface StopReason {
    /** The guest powered itself off (ACPI S5, or the VMM's shutdown request). */
    record PowerOff() implements StopReason {}

    /** The guest asked for a reset; Flint ends the VM (like Firecracker) rather than rebooting it. */
    record Reset(String source) implements StopReason {}

    /** The guest triple-faulted: fatal for the guest, reported as an error. */
    record TripleFault(String cpuDump) implements StopReason {}

    /**
     * The guest wrote {@code value} to the isa-debug-exit port ({@code --debug-exit}): test kernels end this
     * way. The process exit status is {@code (value << 1) | 1}, QEMU's convention, so no value reads as 0.
     */
    record DebugExit(long value) implements StopReason {
        public int exitStatus() { return (int) ((value << 1) | 1); }
    }

    /** The VMM or engine failed; {@code message} is the one line for the user. */
    record Error(String message, Throwable cause) implements StopReason {}

    default boolean guestRequested() {
        return this instanceof PowerOff || this instanceof Reset;
    }
}
