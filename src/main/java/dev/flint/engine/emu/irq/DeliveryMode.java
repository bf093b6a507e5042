package dev.flint.engine.emu.irq;

/** The delivery-mode field shared by the ICR, LVT entries, I/O APIC redirection entries and MSI data. */
public enum DeliveryMode {
    FIXED(0), LOWEST_PRIORITY(1), SMI(2), NMI(4), INIT(5), STARTUP(6), EXTINT(7);

    final int code;

    DeliveryMode(int code) { this.code = code; }

    private static final DeliveryMode[] BY_CODE = new DeliveryMode[8];
    static {
        for (DeliveryMode m : values()) BY_CODE[m.code] = m;
    }

    /** The mode encoded in the low three bits of {@code code}; null for the reserved encoding 3. */
    static DeliveryMode of(int code) { return BY_CODE[code & 7]; }
}
