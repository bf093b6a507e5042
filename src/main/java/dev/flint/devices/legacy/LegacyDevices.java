package dev.flint.devices.legacy;

import dev.flint.arch.x86.Layout;
import dev.flint.machine.InterruptController;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.logging.Logger;

/**
 * The PC devices every Flint machine has, on the port-I/O bus at the addresses {@link Layout} gives and
 * the ACPI tables describe: COM1, the i8042, the CMOS RTC, the ACPI power registers and the POST port.
 * Also owns the console input thread feeding COM1.
 */
public final class LegacyDevices implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(LegacyDevices.class.getName());
    /** Port 0x80: POST codes, and Linux's I/O delay (it writes here to wait a microsecond). */
    private static final BusDevice POST_SINK = new BusDevice() {
        @Override public long read(long offset, int size) { return 0xFF; }
        @Override public void write(long offset, int size, long value) { }
    };

    private final Serial16550 serial;
    private final I8042 i8042;
    private final CmosRtc rtc;
    private final Thread consoleThread;
    private volatile boolean closed;

    private LegacyDevices(Serial16550 serial, I8042 i8042, CmosRtc rtc, InputStream consoleIn) {
        this.serial = serial;
        this.i8042 = i8042;
        this.rtc = rtc;
        this.consoleThread = consoleIn == null ? null
                : Thread.ofPlatform().daemon().name("flint-console-in").unstarted(() -> pumpConsole(consoleIn));
    }

    /**
     * Creates the devices and registers them. {@code mmio} is unused today (all legacy devices are port
     * I/O) and is part of the signature so MMIO-placed platform devices can join without changing callers.
     *
     * @param consoleIn  guest console input (COM1 receive); null for none
     * @param consoleOut guest console output (COM1 transmit); null discards it
     */
    public static LegacyDevices install(Bus portIo, Bus mmio, InterruptController irq, SystemControl control,
                                        InputStream consoleIn, OutputStream consoleOut) {
        Serial16550 serial = new Serial16550(irq, Layout.COM1_IRQ,
                consoleOut != null ? consoleOut : OutputStream.nullOutputStream());
        I8042 i8042 = new I8042(irq, Layout.I8042_KBD_IRQ, Layout.I8042_AUX_IRQ, control);
        CmosRtc rtc = new CmosRtc();
        portIo.register(Layout.COM1_PORT, 8, serial, "COM1");
        portIo.register(Layout.I8042_DATA_PORT, 1, i8042.dataPort(), "i8042 data");
        portIo.register(Layout.I8042_COMMAND_PORT, 1, i8042.commandPort(), "i8042 command");
        portIo.register(Layout.RTC_PORT, 2, rtc, "CMOS RTC");
        portIo.register(Layout.POST_PORT, 1, POST_SINK, "POST port");
        portIo.register(Layout.ACPI_SLEEP_CONTROL_PORT, AcpiPowerRegisters.LENGTH, new AcpiPowerRegisters(control),
                "ACPI power registers");
        LegacyDevices devices = new LegacyDevices(serial, i8042, rtc, consoleIn);
        if (devices.consoleThread != null) devices.consoleThread.start();
        return devices;
    }

    public Serial16550 serial() { return serial; }
    public I8042 i8042() { return i8042; }
    public CmosRtc rtc() { return rtc; }

    /** Snapshot: one section per device. */
    public void save(dev.flint.machine.state.StateWriter state) {
        try (var s = state.section("serial")) { serial.save(s); }
        try (var s = state.section("i8042")) { i8042.save(s); }
        try (var s = state.section("rtc")) { rtc.save(s); }
    }

    public void restore(dev.flint.machine.state.StateReader state) {
        serial.restore(state.section("serial"));
        i8042.restore(state.section("i8042"));
        rtc.restore(state.section("rtc"));
    }

    /** Moves console bytes into the UART as fast as the guest drains its FIFO, never buffering more. */
    private void pumpConsole(InputStream in) {
        byte[] buf = new byte[64];
        try {
            int n;
            while (!closed && (n = in.read(buf)) >= 0) {
                int off = 0;
                while (off < n && !closed) {
                    off += serial.offerInput(buf, off, n - off);
                    if (off < n) serial.awaitRoom();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            if (!closed) LOG.warning("console input failed: " + e.getMessage());
        }
    }

    /** Stops the console input thread (a thread blocked reading a terminal ends with the JVM: it is a daemon). */
    @Override
    public void close() {
        closed = true;
        if (consoleThread != null) consoleThread.interrupt();
    }
}
