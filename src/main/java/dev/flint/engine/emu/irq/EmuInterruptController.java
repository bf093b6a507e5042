package dev.flint.engine.emu.irq;

import dev.flint.machine.InterruptController;

/**
 * The emu engine's {@link InterruptController}: what devices see. Numbers 0-15 are ISA IRQs and reach
 * both the 8259 pair and the I/O APIC; 16-23 are I/O APIC pins (PCI INTx). MSIs go to the APIC bus.
 *
 * <p>ISA IRQ 0 (the PIT) goes to PIC line 0 and I/O APIC pin 2, the wiring a PC has and that the MADT
 * declares with an interrupt source override "bus IRQ 0 → GSI 2". Every other ISA IRQ n reaches pin n.
 * IRQ 2 is the PIC cascade, so no device may raise it. This is the same routing QEMU installs for KVM's
 * in-kernel irqchip, so a device behaves identically under both engines.
 */
public final class EmuInterruptController implements InterruptController {
    private static final GuestFaultLog LOG = new GuestFaultLog(EmuInterruptController.class);

    private static final int ISA_IRQS = 16;
    private static final int CASCADE_IRQ = 2;
    private static final int TIMER_IRQ = 0;
    /** I/O APIC pin of ISA IRQ 0 (MADT interrupt source override). */
    public static final int TIMER_IOAPIC_PIN = 2;

    private final DualPic pic;
    private final IoApic ioApic;
    private final ApicBus apicBus;

    public EmuInterruptController(DualPic pic, IoApic ioApic, ApicBus apicBus) {
        this.pic = pic;
        this.ioApic = ioApic;
        this.apicBus = apicBus;
    }

    /** The I/O APIC pin that line {@code gsi} of this controller drives. */
    public static int ioApicPin(int gsi) { return gsi == TIMER_IRQ ? TIMER_IOAPIC_PIN : gsi; }

    @Override
    public void setLevel(int gsi, boolean high) {
        if (gsi < 0 || gsi >= IoApic.PINS) throw new IllegalArgumentException("no interrupt line " + gsi);
        if (gsi == CASCADE_IRQ) {
            LOG.warn("irq 2", () -> "IRQ 2 is the PIC cascade; a device raised it, ignored");
            return;
        }
        if (gsi < ISA_IRQS) pic.setIrq(gsi, high);
        ioApic.setLevel(ioApicPin(gsi), high);
    }

    @Override
    public void sendMsi(long address, int data) { apicBus.sendMsi(address, data); }
}
