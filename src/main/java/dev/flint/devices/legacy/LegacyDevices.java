package dev.flint.devices.legacy;

import dev.flint.machine.InterruptController;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.BusDevice;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.logging.Logger;

/**
 * The PC devices every Flint machine has: COM1, the i8042, the CMOS RTC, the ACPI power registers and the
 * POST port. They know no port numbers: the device manager puts them on the port-I/O bus where the ACPI
 * tables say they are.
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
    private final AcpiPowerRegisters power;
    private final Thread consoleThread;
    private volatile boolean closed;

    private LegacyDevices(Serial16550 serial, I8042 i8042, CmosRtc rtc, AcpiPowerRegisters power, InputStream consoleIn) {
        this.serial = serial;
        this.i8042 = i8042;
        this.rtc = rtc;
        this.power = power;
        this.consoleThread = consoleIn == null ? null
                : Thread.ofPlatform().daemon().name("flint-console-in").unstarted(() -> pumpConsole(consoleIn));
    }

    /**
     * The interrupt lines the device manager gives the legacy devices (GSIs of the machine's controller).
     *
     * @param com1     COM1's line
     * @param keyboard the i8042's keyboard line
     * @param mouse    the i8042's auxiliary (mouse) line
     */
    public record Lines(int com1, int keyboard, int mouse) {}

    /**
     * Creates the devices; they raise {@code lines} on {@code irq}. Where they sit on the port-I/O bus is
     * the device manager's business: it registers {@link #serial}, {@link I8042#dataPort},
     * {@link I8042#commandPort}, {@link #rtc}, {@link #postPort} and {@link #powerRegisters}.
     *
     * @param consoleIn  guest console input (COM1 receive); null for none
     * @param consoleOut guest console output (COM1 transmit); null discards it
     */
    public static LegacyDevices create(InterruptController irq, Lines lines, SystemControl control,
                                       InputStream consoleIn, OutputStream consoleOut) {
        Serial16550 serial = new Serial16550(irq, lines.com1(),
                consoleOut != null ? consoleOut : OutputStream.nullOutputStream());
        I8042 i8042 = new I8042(irq, lines.keyboard(), lines.mouse(), control);
        LegacyDevices devices = new LegacyDevices(serial, i8042, new CmosRtc(), new AcpiPowerRegisters(control), consoleIn);
        if (devices.consoleThread != null) devices.consoleThread.start();
        return devices;
    }

    /** The POST port's device (Linux's I/O delay writes there). */
    public BusDevice postPort() { return POST_SINK; }

    /** The hardware-reduced ACPI sleep and reset registers ({@link AcpiPowerRegisters#LENGTH} ports). */
    public BusDevice powerRegisters() { return power; }

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
