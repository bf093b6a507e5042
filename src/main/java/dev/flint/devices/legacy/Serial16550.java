package dev.flint.devices.legacy;

import dev.flint.machine.InterruptController;
import dev.flint.machine.bus.BusDevice;

import java.io.IOException;
import java.io.OutputStream;
import java.util.logging.Logger;

/**
 * A 16550A UART (the PC's COM port): receive FIFO fed by the console, transmit straight to the console
 * output, interrupts on an ISA line.
 *
 * <p>Interrupt identification follows the chip's priority order: line status, received data (or the
 * FIFO's character timeout when fewer bytes than the trigger level wait), transmitter empty, modem
 * status. The IRQ pin reaches the interrupt controller only while MCR.OUT2 is set and the UART is not in
 * loopback, as on PC boards where OUT2 gates the line driver. The line is modelled as a level computed
 * from the pending conditions; the controller sees its edges.
 *
 * <p>Console input honours RTS/CTS flow control: it is delivered only while the guest asserts RTS (which
 * Linux does when the port is opened), so nothing typed or piped before the guest listens is lost to the
 * FIFO resets its driver performs while probing and starting the port.
 *
 * <p>All state is guarded by {@code this}; {@link #offerInput} may block the console thread (back-pressure)
 * but never a vCPU.
 */
public final class Serial16550 implements BusDevice {
    private static final Logger LOG = Logger.getLogger(Serial16550.class.getName());

    static final int RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
    static final int IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08;
    static final int IIR_NONE = 0x01, IIR_RLS = 0x06, IIR_RDA = 0x04, IIR_TIMEOUT = 0x0C, IIR_THRE = 0x02,
            IIR_MS = 0x00, IIR_FIFO = 0xC0;
    static final int FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02;
    static final int LCR_DLAB = 0x80;
    static final int MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
    static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    static final int MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;
    static final int FIFO_SIZE = 16;
    private static final int[] TRIGGER_LEVELS = {1, 4, 8, 14};

    private final InterruptController irq;
    private final int gsi;
    private final OutputStream out;

    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead, rxCount;
    private long inputWaits;
    private int ier, lcr = 0x03, mcr, lsrErrors, msr, scr, dll = 0x0C, dlm;
    private boolean fifoEnabled;
    private int triggerLevel = 1;
    /** The THRE interrupt condition: set when THR empties (or THRE interrupts get enabled), cleared by reading IIR or writing THR. */
    private boolean thrEmptyPending;
    private boolean lineHigh;
    private boolean outputBroken;

    public Serial16550(InterruptController irq, int gsi, OutputStream out) {
        this.irq = irq;
        this.gsi = gsi;
        this.out = out;
        this.msr = modemStatusInputs(mcr);
    }

    /** Snapshot: registers, the receive FIFO and the interrupt condition (the line level included). */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putBytes(rx).putInt(rxHead).putInt(rxCount).putInts(new int[] {ier, lcr, mcr, lsrErrors, msr, scr, dll, dlm})
                .putBoolean(fifoEnabled).putInt(triggerLevel).putBoolean(thrEmptyPending).putBoolean(lineHigh);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        System.arraycopy(in.getBytes(FIFO_SIZE), 0, rx, 0, FIFO_SIZE);
        rxHead = Math.floorMod(in.getInt(), FIFO_SIZE);
        rxCount = Math.clamp(in.getInt(), 0, FIFO_SIZE);
        int[] r = in.getInts(8);
        ier = r[0]; lcr = r[1]; mcr = r[2]; lsrErrors = r[3]; msr = r[4]; scr = r[5]; dll = r[6]; dlm = r[7];
        fifoEnabled = in.getBoolean();
        triggerLevel = in.getInt();
        thrEmptyPending = in.getBoolean();
        lineHigh = in.getBoolean(); // the interrupt controller's restored state has the line as it was
        in.end();
        notifyAll(); // the console pump may wait for room
    }

    @Override
    public long read(long offset, int size) {
        return readRegister((int) offset) & 0xFF; // byte registers: wider accesses see the addressed byte
    }

    @Override
    public void write(long offset, int size, long value) {
        writeRegister((int) offset, (int) value & 0xFF);
    }

    synchronized int readRegister(int reg) {
        try {
            return switch (reg) {
                case RBR_THR -> (lcr & LCR_DLAB) != 0 ? dll : pop();
                case IER -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
                case IIR_FCR -> {
                    int id = interruptId();
                    if (id == IIR_THRE) thrEmptyPending = false; // reading IIR acknowledges THRE
                    yield id | (fifoEnabled ? IIR_FIFO : 0);
                }
                case LCR -> lcr;
                case MCR -> mcr;
                case LSR -> {
                    int v = lineStatus();
                    lsrErrors = 0;
                    yield v;
                }
                case MSR -> {
                    int v = msr;
                    msr &= 0xF0; // reading clears the delta bits
                    yield v;
                }
                case SCR -> scr;
                default -> 0xFF;
            };
        } finally {
            updateLine();
        }
    }

    synchronized void writeRegister(int reg, int v) {
        switch (reg) {
            case RBR_THR -> {
                if ((lcr & LCR_DLAB) != 0) dll = v;
                else transmit(v);
            }
            case IER -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = v;
                } else {
                    // Enabling THRE interrupts while the transmitter is empty raises one at once; drivers rely on it.
                    if ((v & IER_THRE) != 0 && (ier & IER_THRE) == 0) thrEmptyPending = true;
                    ier = v & 0x0F;
                }
            }
            case IIR_FCR -> {
                boolean enable = (v & FCR_ENABLE) != 0;
                if (enable != fifoEnabled || (v & FCR_CLEAR_RX) != 0) clearRx();
                fifoEnabled = enable;
                triggerLevel = TRIGGER_LEVELS[(v >> 6) & 3];
            }
            case LCR -> lcr = v;
            case MCR -> {
                int old = msr & 0xF0;
                mcr = v & 0x1F;
                int now = modemStatusInputs(mcr);
                int delta = 0;
                if (((old ^ now) & MSR_CTS) != 0) delta |= 0x01;
                if (((old ^ now) & MSR_DSR) != 0) delta |= 0x02;
                if ((old & MSR_RI) != 0 && (now & MSR_RI) == 0) delta |= 0x04; // trailing edge of RI
                if (((old ^ now) & MSR_DCD) != 0) delta |= 0x08;
                msr = now | (msr & 0x0F) | delta;
                notifyAll(); // RTS may have risen: the console thread can send
            }
            case SCR -> scr = v;
            default -> { } // LSR and MSR are read-only
        }
        updateLine();
    }

    /**
     * Offers console input; returns how many bytes the receive FIFO took (0 when full). Used by the
     * console thread, which waits on {@link #awaitRoom} instead of buffering without bound.
     */
    public synchronized int offerInput(byte[] data, int off, int len) {
        if (!acceptsInput()) return 0;
        int taken = 0;
        while (taken < len && rxCount < capacity()) {
            push(data[off + taken++]);
        }
        if (taken > 0) updateLine();
        return taken;
    }

    /** Blocks until the receive FIFO has room for at least one byte (the guest read something). */
    public synchronized void awaitRoom() throws InterruptedException {
        if (rxCount >= capacity() || !acceptsInput()) inputWaits++;
        while (rxCount >= capacity() || !acceptsInput()) wait(100);
    }

    /** How often the console thread had to wait for room or RTS ({@link #awaitRoom}): what tests observe. */
    synchronized long inputWaits() { return inputWaits; }

    /** Ready to receive from the line: RTS asserted, not in loopback (which disconnects the receiver). */
    private boolean acceptsInput() {
        return (mcr & (MCR_RTS | MCR_LOOP)) == MCR_RTS;
    }

    private int capacity() { return fifoEnabled ? FIFO_SIZE : 1; }

    private void push(byte b) {
        rx[(rxHead + rxCount) % FIFO_SIZE] = b;
        rxCount++;
    }

    private int pop() {
        if (rxCount == 0) return 0;
        int b = rx[rxHead] & 0xFF;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        notifyAll();
        return b;
    }

    private void clearRx() {
        rxHead = rxCount = 0;
        notifyAll();
    }

    private void transmit(int b) {
        thrEmptyPending = false;
        if ((mcr & MCR_LOOP) != 0) {
            if (rxCount < capacity()) push((byte) b);
            else lsrErrors |= LSR_OE;
        } else if (!outputBroken) {
            try {
                out.write(b);
                out.flush();
            } catch (IOException e) {
                outputBroken = true; // keep the guest running; the console is gone
                LOG.warning("serial console output failed, further output dropped: " + e.getMessage());
            }
        }
        // The byte left the (instant) shift register: the transmitter is empty again.
        thrEmptyPending = true;
    }

    private int lineStatus() {
        return (rxCount > 0 ? LSR_DR : 0) | lsrErrors | LSR_THRE | LSR_TEMT;
    }

    private int interruptId() {
        if ((ier & IER_RLS) != 0 && lsrErrors != 0) return IIR_RLS;
        if ((ier & IER_RDA) != 0 && rxCount > 0) {
            return fifoEnabled && rxCount < triggerLevel ? IIR_TIMEOUT : IIR_RDA;
        }
        if ((ier & IER_THRE) != 0 && thrEmptyPending) return IIR_THRE;
        if ((ier & IER_MS) != 0 && (msr & 0x0F) != 0) return IIR_MS;
        return IIR_NONE;
    }

    /** What the modem status inputs read: wired to our own outputs in loopback, a ready modem otherwise. */
    private static int modemStatusInputs(int mcr) {
        if ((mcr & MCR_LOOP) == 0) return MSR_DCD | MSR_DSR | MSR_CTS;
        return ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0) | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0) | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
    }

    private void updateLine() {
        boolean high = interruptId() != IIR_NONE && (mcr & MCR_OUT2) != 0 && (mcr & MCR_LOOP) == 0;
        if (high != lineHigh) {
            lineHigh = high;
            irq.setLevel(gsi, high);
        }
    }
}
