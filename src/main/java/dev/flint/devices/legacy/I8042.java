package dev.flint.devices.legacy;

import dev.flint.machine.InterruptController;
import dev.flint.machine.StopReason;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.BusDevice;

import java.util.ArrayDeque;

/**
 * The PS/2 keyboard controller (i8042) at ports 0x60 (data) and 0x64 (status/command), with a keyboard
 * that answers Linux's probe (reset, identify, LEDs, scancode set) and no mouse behind the aux port.
 *
 * <p>Its one job beyond being found: the CPU reset line. Command 0xFE (pulse output port bit 0) or an
 * output port write with bit 0 clear asks the machine to reset, which Flint reports as
 * {@link StopReason.Reset}. {@link #sendCtrlAltDel()} types Ctrl+Alt+Del for a graceful guest reboot.
 *
 * <p>Output bytes wait in a small queue; IRQ 1 (keyboard) or 12 (aux loopback) is high while the byte at
 * the head is unread and its interrupt is enabled in the command byte. The two ports are registered
 * separately ({@link #dataPort()}, {@link #commandPort()}) so 0x61 stays free for the engine's PIT/speaker port.
 */
public final class I8042 {
    static final int STATUS_OBF = 0x01, STATUS_SYS = 0x04, STATUS_CMD = 0x08, STATUS_UNLOCKED = 0x10,
            STATUS_AUX = 0x20;
    static final int CTR_KBD_INT = 0x01, CTR_AUX_INT = 0x02, CTR_SYS = 0x04, CTR_KBD_DISABLE = 0x10,
            CTR_AUX_DISABLE = 0x20, CTR_XLATE = 0x40;
    static final int ACK = 0xFA;
    /** Enough for every multi-byte reply and an injected key sequence; more is dropped like a full buffer. */
    private static final int QUEUE_LIMIT = 16;

    private record Output(int value, boolean aux) {}

    private final InterruptController irq;
    private final int kbdGsi, auxGsi;
    private final SystemControl control;
    private final ArrayDeque<Output> queue = new ArrayDeque<>();
    private int ctr = CTR_KBD_INT | CTR_SYS | CTR_AUX_DISABLE | CTR_XLATE;
    private int status = STATUS_SYS | STATUS_UNLOCKED;
    private int outputPort = 0x01; // bit 0 = reset line inactive
    /** A controller command waiting for its parameter byte on port 0x60, or 0. */
    private int pendingCommand;
    /** A keyboard command waiting for its parameter byte, or 0. */
    private int pendingKeyboardCommand;
    private boolean kbdLine, auxLine;

    public I8042(InterruptController irq, int kbdGsi, int auxGsi, SystemControl control) {
        this.irq = irq;
        this.kbdGsi = kbdGsi;
        this.auxGsi = auxGsi;
        this.control = control;
    }

    /** Snapshot: the output queue, command state and interrupt lines. */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(queue.size());
        for (Output o : queue) out.putInt(o.value()).putBoolean(o.aux());
        out.putInts(new int[] {ctr, status, outputPort, pendingCommand, pendingKeyboardCommand})
                .putBoolean(kbdLine).putBoolean(auxLine);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        int n = in.getInt();
        if (n < 0 || n > QUEUE_LIMIT) throw new dev.flint.machine.state.SnapshotException("i8042: output queue of " + n);
        queue.clear();
        for (int i = 0; i < n; i++) queue.add(new Output(in.getInt(), in.getBoolean()));
        int[] r = in.getInts(5);
        ctr = r[0]; status = r[1]; outputPort = r[2]; pendingCommand = r[3]; pendingKeyboardCommand = r[4];
        kbdLine = in.getBoolean();
        auxLine = in.getBoolean();
        in.end();
    }

    /** Port 0x60: output buffer (read), keyboard data or a command's parameter (write). */
    public BusDevice dataPort() {
        return new BusDevice() {
            @Override public long read(long offset, int size) { return readData(); }
            @Override public void write(long offset, int size, long value) { writeData((int) value & 0xFF); }
        };
    }

    /** Port 0x64: status (read), controller command (write). */
    public BusDevice commandPort() {
        return new BusDevice() {
            @Override public long read(long offset, int size) { return readStatus(); }
            @Override public void write(long offset, int size, long value) { writeCommand((int) value & 0xFF); }
        };
    }

    synchronized int readStatus() {
        Output head = queue.peek();
        return status | (head != null ? STATUS_OBF | (head.aux ? STATUS_AUX : 0) : 0);
    }

    synchronized int readData() {
        Output head = queue.poll();
        // Lower the line so the next byte (if any) produces a fresh edge.
        setLines(false, false);
        updateLines();
        return head == null ? 0 : head.value;
    }

    synchronized void writeCommand(int cmd) {
        status |= STATUS_CMD;
        pendingCommand = 0;
        switch (cmd) {
            case 0x20 -> reply(ctr);                              // read command byte
            case 0x60, 0xD1, 0xD2, 0xD3, 0xD4 -> pendingCommand = cmd; // parameter follows on 0x60
            case 0xA7 -> ctr |= CTR_AUX_DISABLE;
            case 0xA8 -> ctr &= ~CTR_AUX_DISABLE;
            case 0xA9, 0xAB -> reply(0x00);                       // aux / keyboard interface test: OK
            case 0xAA -> {                                        // controller self-test
                status |= STATUS_SYS;
                reply(0x55);
            }
            case 0xAD -> ctr |= CTR_KBD_DISABLE;
            case 0xAE -> ctr &= ~CTR_KBD_DISABLE;
            case 0xC0 -> reply(0x00);                             // input port
            case 0xD0 -> reply(outputPort);
            default -> {
                if ((cmd & 0xF0) == 0xF0) {
                    // Pulse output lines whose bit is 0 in the low nibble; bit 0 is the CPU reset.
                    if ((cmd & 0x01) == 0) control.requestStop(new StopReason.Reset("i8042 reset line"));
                }
                // Anything else: an unknown command, ignored like the real controller does.
            }
        }
        updateLines();
    }

    synchronized void writeData(int v) {
        status &= ~STATUS_CMD;
        int cmd = pendingCommand;
        pendingCommand = 0;
        switch (cmd) {
            case 0x60 -> {
                ctr = v;
                status = (status & ~STATUS_SYS) | (v & CTR_SYS);
            }
            case 0xD1 -> {
                outputPort = v;
                if ((v & 0x01) == 0) control.requestStop(new StopReason.Reset("i8042 output port"));
            }
            case 0xD2 -> reply(v);                     // write keyboard output buffer
            case 0xD3 -> enqueue(new Output(v, true)); // write aux output buffer: the aux loopback test
            case 0xD4 -> { }                           // to the aux device: there is no mouse, nothing answers
            default -> keyboardCommand(v);
        }
        updateLines();
    }

    /** A byte for the keyboard itself (no controller command pending). */
    private void keyboardCommand(int v) {
        int pending = pendingKeyboardCommand;
        pendingKeyboardCommand = 0;
        if (pending != 0) {
            reply(ACK);
            if (pending == 0xF0 && v == 0) reply(0x02); // "which scancode set": set 2
            return;
        }
        switch (v) {
            case 0xFF -> {              // reset: ACK, then self-test passed
                reply(ACK);
                reply(0xAA);
            }
            case 0xF2 -> {              // identify: MF2 keyboard (translated by the controller)
                reply(ACK);
                reply(0xAB);
                reply((ctr & CTR_XLATE) != 0 ? 0x41 : 0x83);
            }
            case 0xEE -> reply(0xEE);   // echo
            case 0xED, 0xF0, 0xF3 -> {  // LEDs, scancode set, typematic: a parameter byte follows
                reply(ACK);
                pendingKeyboardCommand = v;
            }
            default -> reply(ACK);      // enable, disable, set defaults, ...
        }
    }

    /**
     * Types Ctrl+Alt+Del: the press and release scancodes, in set 1 when the controller translates
     * (Linux's default) and set 2 otherwise. Linux reboots if its atkbd driver is bound.
     */
    public synchronized void sendCtrlAltDel() {
        int[] codes = (ctr & CTR_XLATE) != 0
                ? new int[] {0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D}
                : new int[] {0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14};
        for (int c : codes) reply(c);
        updateLines();
    }

    private void reply(int v) {
        enqueue(new Output(v & 0xFF, false));
    }

    private void enqueue(Output o) {
        if (queue.size() < QUEUE_LIMIT) queue.add(o);
    }

    private void updateLines() {
        Output head = queue.peek();
        boolean kbd = head != null && !head.aux && (ctr & CTR_KBD_INT) != 0;
        boolean aux = head != null && head.aux && (ctr & CTR_AUX_INT) != 0;
        setLines(kbd, aux);
    }

    private void setLines(boolean kbd, boolean aux) {
        if (kbd != kbdLine) irq.setLevel(kbdGsi, kbdLine = kbd);
        if (aux != auxLine) irq.setLevel(auxGsi, auxLine = aux);
    }
}
