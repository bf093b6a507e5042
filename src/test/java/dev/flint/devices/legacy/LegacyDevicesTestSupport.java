package dev.flint.devices.legacy;

import dev.flint.arch.x86.Layout;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.machine.InterruptController;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;

import java.io.InputStream;
import java.io.OutputStream;

/** The legacy devices wired as Flint's device manager wires them (ports and lines per Layout), for device tests. */
public final class LegacyDevicesTestSupport {
    private LegacyDevicesTestSupport() {}

    static LegacyDevices withConsole(InputStream in) {
        return install(new Bus("io"), new Bus("mmio"), new RecordingInterrupts(), r -> { }, in, OutputStream.nullOutputStream());
    }

    public static LegacyDevices install(Bus portIo, Bus mmio, InterruptController irq, SystemControl control,
                                        InputStream in, OutputStream out) {
        LegacyDevices d = LegacyDevices.create(irq, new LegacyDevices.Lines(Layout.COM1_IRQ, Layout.I8042_KBD_IRQ, Layout.I8042_AUX_IRQ),
                control, in, out);
        portIo.register(Layout.COM1_PORT, 8, d.serial(), "COM1");
        portIo.register(Layout.I8042_DATA_PORT, 1, d.i8042().dataPort(), "i8042 data");
        portIo.register(Layout.I8042_COMMAND_PORT, 1, d.i8042().commandPort(), "i8042 command");
        portIo.register(Layout.RTC_PORT, 2, d.rtc(), "CMOS RTC");
        portIo.register(Layout.POST_PORT, 1, d.postPort(), "POST port");
        portIo.register(Layout.ACPI_SLEEP_CONTROL_PORT, AcpiPowerRegisters.LENGTH, d.powerRegisters(), "ACPI power registers");
        return d;
    }
}
