package dev.flint.devices.legacy;

import dev.flint.arch.x86.Layout;
import dev.flint.machine.StopReason;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.BusDevice;

/**
 * The hardware-reduced ACPI registers the FADT names: sleep control (offset 0), sleep status (1) and
 * reset (2), one byte each from {@link Layout#ACPI_SLEEP_CONTROL_PORT}. Writing SLP_EN with the \_S5
 * sleep type powers the machine off; writing the reset value resets it. Other sleep states are not
 * offered by the DSDT and are ignored.
 */
public final class AcpiPowerRegisters implements BusDevice {
    public static final int LENGTH = 3;
    static final int SLEEP_CONTROL = 0, SLEEP_STATUS = 1, RESET = 2;
    static final int SLP_EN = 0x20, SLP_TYP_SHIFT = 2, SLP_TYP_MASK = 0x1C;

    private final SystemControl control;

    public AcpiPowerRegisters(SystemControl control) {
        this.control = control;
    }

    @Override
    public long read(long offset, int size) {
        return 0; // no wake events: WAK_STS never sets
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xFF;
        if (offset == SLEEP_CONTROL && (v & SLP_EN) != 0
                && (v & SLP_TYP_MASK) >> SLP_TYP_SHIFT == Layout.ACPI_S5_SLEEP_TYPE) {
            control.requestStop(new StopReason.PowerOff());
        } else if (offset == RESET && v == Layout.ACPI_RESET_VALUE) {
            control.requestStop(new StopReason.Reset("ACPI reset register"));
        }
    }
}
