package dev.flint.engine.emu.irq;

/**
 * One interrupt message on the APIC bus: an IPI from an ICR write, an I/O APIC redirection, or an MSI.
 *
 * @param destination    8-bit xAPIC destination (physical APIC id, or logical mask; 0xFF broadcasts)
 * @param logical        destination is a logical (LDR/DFR) address rather than an APIC id
 * @param mode           how the target handles it
 * @param vector         vector for FIXED/LOWEST_PRIORITY, page number for STARTUP
 * @param levelTriggered the source is level-triggered: the target sets TMR and broadcasts its EOI
 * @param shorthand      ICR destination shorthand; {@link Shorthand#NONE} for everything but IPIs
 */
public record ApicMessage(int destination, boolean logical, DeliveryMode mode, int vector,
                          boolean levelTriggered, Shorthand shorthand) {
    /** ICR bits 19:18. */
    public enum Shorthand { NONE, SELF, ALL_INCLUDING_SELF, ALL_EXCLUDING_SELF }

    public ApicMessage {
        destination &= 0xFF;
        vector &= 0xFF;
    }

    /** A message addressed by destination field (I/O APIC, MSI). */
    public static ApicMessage to(int destination, boolean logical, DeliveryMode mode, int vector,
                                 boolean levelTriggered) {
        return new ApicMessage(destination, logical, mode, vector, levelTriggered, Shorthand.NONE);
    }
}
