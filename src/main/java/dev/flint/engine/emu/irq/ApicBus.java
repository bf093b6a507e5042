package dev.flint.engine.emu.irq;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The wire between interrupt sources and the local APICs: routes IPIs, I/O APIC redirections and MSIs
 * to the APIC(s) their destination names, and carries level-triggered EOIs back to the I/O APIC.
 *
 * <p>Lowest-priority delivery goes to the software-enabled matching APIC with the lowest id: the SDM
 * lets the chipset pick any of the set, and a fixed choice keeps interrupt affinity predictable.
 */
public final class ApicBus {
    private static final GuestFaultLog LOG = new GuestFaultLog(ApicBus.class);

    /** MSI address bits 31:20 (Intel SDM "Message Address Register Format"). */
    private static final long MSI_ADDRESS_BASE = 0xFEE0_0000L;

    private volatile List<LocalApic> apics = List.of();
    private volatile IntConsumer eoiListener = vector -> { };

    synchronized void attach(LocalApic apic) {
        var next = new ArrayList<>(apics);
        next.add(apic);
        apics = List.copyOf(next);
    }

    /** Who hears EOIs of level-triggered interrupts (the I/O APIC, to clear Remote IRR). */
    void setEoiListener(IntConsumer listener) { eoiListener = listener; }

    void broadcastEoi(int vector) { eoiListener.accept(vector); }

    /** Delivers {@code message}; {@code source} is the sending APIC for shorthands, null otherwise. */
    public void deliver(ApicMessage message, LocalApic source) {
        List<LocalApic> all = apics;
        List<LocalApic> targets = switch (message.shorthand()) {
            case NONE -> all.stream().filter(a -> a.matchesDestination(message.destination(), message.logical())).toList();
            case SELF -> source == null ? List.of() : List.of(source);
            case ALL_INCLUDING_SELF -> all;
            case ALL_EXCLUDING_SELF -> all.stream().filter(a -> a != source).toList();
        };
        if (message.mode() == DeliveryMode.LOWEST_PRIORITY && targets.size() > 1) {
            // A software-disabled APIC would drop the interrupt; prefer one that takes it.
            LocalApic chosen = null;
            for (LocalApic a : targets) {
                if (chosen == null || a.acceptsFixed() && (!chosen.acceptsFixed() || a.id() < chosen.id())) chosen = a;
            }
            targets = List.of(chosen);
        }
        for (LocalApic target : targets) target.accept(message);
    }

    /**
     * Decodes an Intel-format MSI: address 0xFEEx_xxxx with destination id in bits 19:12, redirection
     * hint bit 3 and destination mode bit 2; data with vector in bits 7:0, delivery mode 10:8 and trigger
     * mode 15. A redirection hint turns fixed delivery into lowest-priority among the destinations.
     */
    public void sendMsi(long address, int data) {
        if ((address & 0xFFF0_0000L) != MSI_ADDRESS_BASE || (address >>> 32) != 0) {
            LOG.warn("msi address", () -> String.format("MSI to non-APIC address 0x%x dropped", address));
            return;
        }
        DeliveryMode mode = DeliveryMode.of(data >>> 8);
        if (mode == null || mode == DeliveryMode.STARTUP) {
            LOG.warn("msi mode", () -> String.format("MSI with unsupported data 0x%x dropped", data));
            return;
        }
        boolean redirectionHint = (address & 0x8) != 0;
        if (redirectionHint && mode == DeliveryMode.FIXED) mode = DeliveryMode.LOWEST_PRIORITY;
        deliver(ApicMessage.to((int) (address >>> 12), (address & 0x4) != 0, mode, data,
                (data & 0x8000) != 0), null);
    }
}
