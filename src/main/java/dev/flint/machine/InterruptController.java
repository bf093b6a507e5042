package dev.flint.machine;

/**
 * How devices interrupt the guest, whichever engine runs it. The KVM engine implements this with
 * KVM_IRQ_LINE and KVM_SIGNAL_MSI against the in-kernel irqchip; the emu engine with its own I/O APIC,
 * PIC and local APICs. Devices hold this interface only, never an engine type.
 *
 * <p>GSI numbering follows the usual PC layout: 0-15 are the ISA IRQs (routed to both the PIC and the
 * I/O APIC), 16-23 the remaining I/O APIC pins used for PCI INTx.
 */
public interface InterruptController {
    /** Drives a level-triggered line high or low. Edge-triggered ISA devices pulse it (high then low). */
    void setLevel(int gsi, boolean high);

    /** Raises then lowers a line: the edge an ISA device produces. */
    default void pulse(int gsi) {
        setLevel(gsi, true);
        setLevel(gsi, false);
    }

    /** Delivers a message-signalled interrupt (PCI MSI/MSI-X): the address and data the guest programmed. */
    void sendMsi(long address, int data);
}
