package dev.flint.devices.legacy;

import dev.flint.arch.x86.Layout;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.machine.bus.Bus;
import dev.flint.testing.Await;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class LegacyDevicesTest {
    @Test
    void installsEveryDeviceWhereTheTablesSayAndLeavesEnginePortsFree() {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        RecordingInterrupts irq = new RecordingInterrupts();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (LegacyDevices d = dev.flint.devices.legacy.LegacyDevicesTestSupport.install(io, mmio, irq, r -> { }, InputStream.nullInputStream(), console)) {
            dev.flint.devices.pci.PciTestBus.on(io, mmio, irq); // must not collide with the legacy devices
            for (int port : new int[] {Layout.COM1_PORT, Layout.COM1_PORT + 7, Layout.I8042_DATA_PORT,
                    Layout.I8042_COMMAND_PORT, Layout.RTC_PORT, Layout.RTC_PORT + 1, Layout.POST_PORT,
                    Layout.ACPI_SLEEP_CONTROL_PORT, Layout.ACPI_RESET_PORT}) {
                assertNotNull(io.find(port), "port 0x" + Integer.toHexString(port));
            }
            // The engine's own devices (PIC, PIT, speaker port, ELCR) keep their ports.
            for (int port : new int[] {0x20, 0x21, 0x40, 0x43, 0x61, 0xA0, 0x4D0}) {
                assertNull(io.find(port), "port 0x" + Integer.toHexString(port) + " left for the engine");
            }
            io.write(Layout.COM1_PORT, 1, 'k');
            assertEquals("k", console.toString());
        }
    }

    @Test
    void closeStopsTheConsoleThread() throws Exception {
        PipedOutputStream feed = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(feed);
        LegacyDevices d = LegacyDevicesTestSupport.withConsole(in);
        d.serial().write(Serial16550.MCR, 1, Serial16550.MCR_RTS);
        feed.write('a');
        feed.flush();
        Await.until("the byte reached the UART", () -> (d.serial().read(Serial16550.LSR, 1) & Serial16550.LSR_DR) != 0);
        assertEquals('a', d.serial().read(Serial16550.RBR_THR, 1));
        d.close();
        Thread t = Thread.getAllStackTraces().keySet().stream()
                .filter(th -> th.getName().equals("flint-console-in")).findFirst().orElse(null);
        if (t != null) t.join(5000);
        assertTrue(t == null || !t.isAlive(), "console thread ended");
    }
}
