package dev.flint.engine.emu.irq;

/**
 * An external interrupt controller behind the APIC's LINT0 pin in ExtINT mode (the 8259 pair): it, not
 * the APIC, supplies the vector during the CPU's interrupt-acknowledge cycle.
 */
interface ExtIntSource {
    /** Vector the controller would supply now, without acknowledging; -1 if it has none. */
    int pendingVector();

    /** The INTA cycle: marks the interrupt in service and returns its vector (the spurious one if none). */
    int acknowledge();

    ExtIntSource NONE = new ExtIntSource() {
        @Override public int pendingVector() { return -1; }
        @Override public int acknowledge() { return -1; }
    };
}
