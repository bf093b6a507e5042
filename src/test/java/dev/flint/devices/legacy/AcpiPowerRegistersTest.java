package dev.flint.devices.legacy;

import dev.flint.arch.x86.Layout;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.machine.StopReason;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class AcpiPowerRegistersTest {
    private final List<StopReason> stops = new ArrayList<>();
    private final Bus io = new Bus("io");

    AcpiPowerRegistersTest() {
        dev.flint.devices.legacy.LegacyDevicesTestSupport.install(io, new Bus("mmio"), new RecordingInterrupts(), stops::add, null, OutputStream.nullOutputStream());
    }

    @Test
    void linuxS5WritePowersOff() {
        io.write(Layout.ACPI_SLEEP_STATUS_PORT, 1, 0x80); // Linux clears WAK_STS first
        io.write(Layout.ACPI_SLEEP_CONTROL_PORT, 1, (Layout.ACPI_S5_SLEEP_TYPE << 2) | 0x20);
        assertEquals(List.of(new StopReason.PowerOff()), stops);
    }

    @Test
    void otherSleepTypesAndResetValuesAreIgnored() {
        io.write(Layout.ACPI_SLEEP_CONTROL_PORT, 1, (3 << 2) | 0x20);
        io.write(Layout.ACPI_SLEEP_CONTROL_PORT, 1, Layout.ACPI_S5_SLEEP_TYPE << 2); // no SLP_EN
        io.write(Layout.ACPI_RESET_PORT, 1, 0x06);
        assertEquals(List.of(), stops);
    }

    @Test
    void resetRegisterResets() {
        io.write(Layout.ACPI_RESET_PORT, 1, Layout.ACPI_RESET_VALUE);
        assertEquals(List.of(new StopReason.Reset("ACPI reset register")), stops);
    }
}
