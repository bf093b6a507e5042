package dev.flint.engine.emu.irq;

import dev.flint.machine.bus.BusDevice;

/**
 * The PC's cascaded 8259 pair: master at ports 0x20/0x21, slave at 0xA0/0xA1 on master line 2, and the
 * edge/level control registers (ELCR) at 0x4D0/0x4D1. The master's output drives LINT0 of APIC 0; when
 * LINT0 is programmed ExtINT (virtual wire mode) the CPU's interrupt acknowledge reaches
 * {@link #acknowledge()} for the vector.
 *
 * <p>Linux probes the pair, masks it and hands the ISA lines to the I/O APIC; this model is complete
 * enough for that and for running on the PIC alone ({@code noapic}).
 */
public final class DualPic implements ExtIntSource {
    public static final int MASTER_PORT = 0x20;
    public static final int SLAVE_PORT = 0xA0;
    public static final int ELCR_PORT = 0x4D0;

    private static final int CASCADE_LINE = 2;

    // ELCR: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered.
    private final Pic8259 master = new Pic8259(0xF8);
    private final Pic8259 slave = new Pic8259(0xDE);
    private LocalApic output;
    private boolean outputLevel;

    /** Snapshot: both chips and the INT output level (LINT0's level is restored with the local APIC). */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        master.save(out);
        slave.save(out);
        out.putBoolean(outputLevel);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        master.restore(in);
        slave.restore(in);
        outputLevel = in.getBoolean();
        in.end();
    }

    /** Connects the master's INT output to {@code apic}'s LINT0 and makes the pair its ExtINT source. */
    public synchronized void connectTo(LocalApic apic) {
        output = apic;
        apic.connectExtInt(this);
        apic.setLint(0, outputLevel);
    }

    /** Drives ISA interrupt line {@code irq} (0-15); line 2 is the cascade and not an input. */
    public synchronized void setIrq(int irq, boolean level) {
        if (irq < 0 || irq > 15) throw new IllegalArgumentException("no PIC line " + irq);
        if (irq == CASCADE_LINE) return;
        if (irq < 8) master.setLine(irq, level);
        else slave.setLine(irq - 8, level);
        updateOutputs();
    }

    @Override
    public synchronized int pendingVector() {
        int line = master.highestPending();
        if (line < 0) return -1;
        if (line != CASCADE_LINE) return master.vectorBase() + line;
        int slaveLine = slave.highestPending();
        return slave.vectorBase() + (slaveLine < 0 ? 7 : slaveLine);
    }

    @Override
    public synchronized int acknowledge() {
        int line = master.highestPending();
        int vector;
        if (line < 0) {
            vector = master.vectorBase() + 7; // the request went away: spurious IRQ 7, nothing in service
        } else {
            master.acknowledge(line);
            if (line == CASCADE_LINE) {
                int slaveLine = slave.highestPending();
                if (slaveLine >= 0) slave.acknowledge(slaveLine);
                vector = slave.vectorBase() + (slaveLine < 0 ? 7 : slaveLine);
            } else {
                vector = master.vectorBase() + line;
            }
        }
        updateOutputs();
        return vector;
    }

    /** Ports 0x20-0x21 (register with length 2). */
    public BusDevice masterPorts() { return new ChipPorts(master); }

    /** Ports 0xA0-0xA1 (register with length 2). */
    public BusDevice slavePorts() { return new ChipPorts(slave); }

    /** Ports 0x4D0-0x4D1 (register with length 2): one trigger-mode bit per ISA line. */
    public BusDevice elcrPorts() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (DualPic.this) {
                    long value = master.elcr() | (slave.elcr() << 8);
                    return (value >>> (offset * 8)) & (size == 1 ? 0xFF : 0xFFFF);
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (DualPic.this) {
                    if (offset == 0) master.setElcr((int) value);
                    if (offset == 1) slave.setElcr((int) value);
                    else if (size > 1) slave.setElcr((int) (value >>> 8));
                    updateOutputs();
                }
            }
        };
    }

    /** Propagates the slave's output to master line 2 and the master's to LINT0. Holds the lock. */
    private void updateOutputs() {
        master.followLine(CASCADE_LINE, slave.highestPending() >= 0);
        boolean level = master.highestPending() >= 0;
        if (level != outputLevel) {
            outputLevel = level;
            if (output != null) output.setLint(0, level);
        }
    }

    /** The command (offset 0) and data (offset 1) ports of one chip. */
    private final class ChipPorts implements BusDevice {
        private final Pic8259 chip;

        ChipPorts(Pic8259 chip) { this.chip = chip; }

        @Override
        public long read(long offset, int size) {
            synchronized (DualPic.this) {
                long value = offset == 0 ? chip.readCommand() : chip.readData();
                updateOutputs(); // a poll read acknowledges
                return value;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (DualPic.this) {
                if (offset == 0) chip.writeCommand((int) value & 0xFF);
                else chip.writeData((int) value & 0xFF);
                updateOutputs();
            }
        }
    }
}
