package dev.flint.engine.emu.irq;

/**
 * One 8259A programmable interrupt controller: eight request lines, the IRR/ISR/IMR registers, the
 * ICW1-4 initialization sequence and OCW1-3 commands, with edge or level (ELCR) sensing per line.
 * Cascading and the INTA cycle across the pair are {@link DualPic}'s job. Not thread-safe: guarded by
 * the owning {@link DualPic}.
 */
final class Pic8259 {
    private final int elcrWritable;

    private int irr;
    private int isr;
    private int imr;
    private int elcr;
    /** Previous line levels, to detect rising edges on edge-sensed lines. */
    private int lineLevels;
    private int vectorBase;
    /** The line with the highest priority; rotation moves it (priority order is circular). */
    private int highestPriority;
    private boolean autoEoi;
    private boolean rotateOnAutoEoi;
    private boolean specialMask;
    private boolean readIsr;
    private boolean pollPending;
    private int initStep;
    private boolean expectIcw4;
    private boolean singleMode;

    /** {@code elcrWritable}: the lines whose trigger mode the ELCR may change (timer/cascade lines cannot). */
    void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInts(new int[] {irr, isr, imr, elcr, lineLevels, vectorBase, highestPriority, initStep});
        out.putBoolean(autoEoi).putBoolean(rotateOnAutoEoi).putBoolean(specialMask).putBoolean(readIsr)
                .putBoolean(pollPending).putBoolean(singleMode).putBoolean(expectIcw4);
    }

    void restore(dev.flint.machine.state.StateReader.Section in) {
        int[] r = in.getInts(8);
        irr = r[0]; isr = r[1]; imr = r[2]; elcr = r[3]; lineLevels = r[4]; vectorBase = r[5]; highestPriority = r[6];
        initStep = r[7];
        autoEoi = in.getBoolean();
        rotateOnAutoEoi = in.getBoolean();
        specialMask = in.getBoolean();
        readIsr = in.getBoolean();
        pollPending = in.getBoolean();
        singleMode = in.getBoolean();
        expectIcw4 = in.getBoolean();
    }

    Pic8259(int elcrWritable) { this.elcrWritable = elcrWritable; }

    int vectorBase() { return vectorBase; }

    int elcr() { return elcr; }

    void setElcr(int value) { elcr = value & elcrWritable; }

    /** Drives request line {@code line}. */
    void setLine(int line, boolean level) {
        int bit = 1 << line;
        if ((elcr & bit) != 0) {
            irr = level ? irr | bit : irr & ~bit; // level-sensed: the request follows the line
        } else if (level && (lineLevels & bit) == 0) {
            irr |= bit;                           // edge-sensed: latched on the rising edge
        }
        lineLevels = level ? lineLevels | bit : lineLevels & ~bit;
    }

    /**
     * Makes the request of {@code line} follow {@code level} whatever the ELCR says: the master's cascade
     * input tracks the slave's output, so a slave request that goes away cannot leave a stale master one.
     */
    void followLine(int line, boolean level) {
        int bit = 1 << line;
        irr = level ? irr | bit : irr & ~bit;
        lineLevels = level ? lineLevels | bit : lineLevels & ~bit;
    }

    /** The line this chip would present on INTA now, or -1 (nothing unmasked beats what is in service). */
    int highestPending() {
        int pending = priorityOf(irr & ~imr);
        if (pending < 0) return -1;
        // Special mask mode lets masked in-service lines stop blocking lower priorities.
        int inService = priorityOf(specialMask ? isr & ~imr : isr);
        if (inService >= 0 && inService <= pending) return -1;
        return (highestPriority + pending) & 7;
    }

    /** The INTA cycle for {@code line}: mark it in service (unless auto-EOI) and consume an edge request. */
    void acknowledge(int line) {
        int bit = 1 << line;
        if (autoEoi) {
            if (rotateOnAutoEoi) highestPriority = (line + 1) & 7;
        } else {
            isr |= bit;
        }
        if ((elcr & bit) == 0) irr &= ~bit;
    }

    int readCommand() {
        if (pollPending) {
            pollPending = false;
            int line = highestPending();
            if (line < 0) return 0;
            acknowledge(line);
            return 0x80 | line;
        }
        return readIsr ? isr : irr;
    }

    int readData() { return imr; }

    void writeCommand(int value) {
        if ((value & 0x10) != 0) {
            startInitialization(value);
        } else if ((value & 0x08) != 0) {
            writeOcw3(value);
        } else {
            writeOcw2(value);
        }
    }

    void writeData(int value) {
        switch (initStep) {
            case 1 -> { // ICW2: vector of line 0 (low three bits are the line number)
                vectorBase = value & 0xF8;
                initStep = singleMode ? (expectIcw4 ? 3 : 0) : 2;
            }
            case 2 -> initStep = expectIcw4 ? 3 : 0; // ICW3: cascade wiring is fixed in this machine
            case 3 -> {                              // ICW4: 8086 mode assumed; AEOI bit 1
                autoEoi = (value & 0x02) != 0;
                initStep = 0;
            }
            default -> imr = value & 0xFF;           // OCW1
        }
    }

    private void startInitialization(int icw1) {
        // ICW1 resets the chip: mask cleared, nothing in service, line 7 lowest priority, IRR read back.
        imr = 0;
        isr = 0;
        irr &= elcr;
        lineLevels = 0;
        highestPriority = 0;
        autoEoi = rotateOnAutoEoi = specialMask = readIsr = pollPending = false;
        expectIcw4 = (icw1 & 0x01) != 0;
        singleMode = (icw1 & 0x02) != 0;
        initStep = 1;
    }

    private void writeOcw3(int value) {
        if ((value & 0x04) != 0) pollPending = true;
        if ((value & 0x02) != 0) readIsr = (value & 0x01) != 0;
        if ((value & 0x40) != 0) specialMask = (value & 0x20) != 0;
    }

    private void writeOcw2(int value) {
        int line = value & 7;
        switch (value >>> 5) {
            case 0 -> rotateOnAutoEoi = false;
            case 4 -> rotateOnAutoEoi = true;
            case 1, 5 -> { // non-specific EOI (and rotate): ends the highest-priority in-service line
                int priority = priorityOf(isr);
                if (priority < 0) return;
                int served = (highestPriority + priority) & 7;
                isr &= ~(1 << served);
                if (value >>> 5 == 5) highestPriority = (served + 1) & 7;
            }
            case 3 -> isr &= ~(1 << line);
            case 7 -> {
                isr &= ~(1 << line);
                highestPriority = (line + 1) & 7;
            }
            case 6 -> highestPriority = (line + 1) & 7; // set priority: line becomes the lowest
            default -> { } // 2: no operation
        }
    }

    /** Priority rank (0 = highest) of the best line in {@code lines}, or -1 if none. */
    private int priorityOf(int lines) {
        if ((lines & 0xFF) == 0) return -1;
        for (int rank = 0; rank < 8; rank++) {
            if ((lines & (1 << ((highestPriority + rank) & 7))) != 0) return rank;
        }
        return -1;
    }
}
