package dev.flint.machine;

/**
 * What devices may ask of the machine as a whole: the guest asked to power off (ACPI sleep state 5) or
 * to reset (i8042 reset line, ACPI reset register, triple fault). The VMM owns the answer; devices
 * only report.
 */
public interface SystemControl {
    void requestStop(StopReason reason);
}
