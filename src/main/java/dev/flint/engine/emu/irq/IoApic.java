package dev.flint.engine.emu.irq;

import dev.flint.machine.bus.BusDevice;
import java.util.Arrays;

/**
 * The I/O APIC (82093AA-style, version 0x11, 24 pins) at 0xFEC00000: turns device lines into APIC bus
 * messages through its redirection table.
 *
 * <p>Register window: IOREGSEL at offset 0x00 selects an indirect register, IOWIN at 0x10 reads or writes
 * it. Indirect registers: 0x00 ID, 0x01 version, 0x02 arbitration, 0x10 + 2n / 0x11 + 2n the low and high
 * halves of redirection entry n.
 *
 * <p>Line levels from {@link #setLevel} are logical (asserted or not): the interrupt controller seam
 * already speaks in assertions, so the polarity bit is stored for the guest but not applied. Edge pins
 * deliver on each rising edge while unmasked (an edge that arrives masked is lost, as on hardware).
 * Level pins deliver while asserted and unmasked, set Remote IRR, and deliver again only after the
 * local APIC's EOI for that vector clears it.
 */
public final class IoApic implements BusDevice {
    private static final GuestFaultLog LOG = new GuestFaultLog(IoApic.class);

    public static final long BASE = 0xFEC0_0000L;
    public static final long SIZE = 0x1000;
    public static final int PINS = 24;

    private static final int VERSION = 0x11 | ((PINS - 1) << 16);
    private static final long MASKED = 1L << 16;
    private static final long LEVEL_TRIGGERED = 1L << 15;
    private static final long REMOTE_IRR = 1L << 14;
    private static final long LOGICAL = 1L << 11;
    /** Writable bits of a redirection entry's low half: all but delivery status (12) and Remote IRR (14). */
    private static final long LOW_WRITABLE = 0x0001_AFFFL;

    private final ApicBus bus;
    private int select;
    private int id;
    private final long[] redirection = new long[PINS];
    private int asserted;

    /**
     * @param id the I/O APIC id the MADT declares. Kept 8 bits wide (the 82093AA has 4) so that machines
     *           with 16 or more vCPUs, whose I/O APIC id follows the local APIC ids, read back what the
     *           MADT says.
     */
    public IoApic(ApicBus bus, int id) {
        this.bus = bus;
        this.id = id & 0xFF;
        Arrays.fill(redirection, MASKED);
    }

    /** Snapshot: the index, id, redirection table (Remote IRR included) and the asserted pins. */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(select).putInt(id).putLongs(redirection).putInt(asserted);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        select = in.getInt();
        id = in.getInt() & 0xFF;
        in.readLongs(redirection);
        asserted = in.getInt();
        in.end();
    }

    @Override
    public synchronized long read(long offset, int size) {
        long value = switch ((int) offset) {
            case 0x00 -> select;
            case 0x10 -> Integer.toUnsignedLong(readIndirect(select));
            default -> 0;
        };
        return size >= 4 ? value : value & ((1L << (size * 8)) - 1);
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        switch ((int) offset) {
            case 0x00 -> select = (int) value & 0xFF;
            case 0x10 -> writeIndirect(select, (int) value);
            default -> LOG.warn("offset", () -> String.format("I/O APIC write at unknown offset 0x%x ignored", offset));
        }
    }

    /** Drives input pin {@code pin} (asserted or not). */
    public synchronized void setLevel(int pin, boolean level) {
        if (pin < 0 || pin >= PINS) throw new IllegalArgumentException("no I/O APIC pin " + pin);
        int bit = 1 << pin;
        boolean wasAsserted = (asserted & bit) != 0;
        asserted = level ? asserted | bit : asserted & ~bit;
        long entry = redirection[pin];
        if ((entry & LEVEL_TRIGGERED) != 0) serviceLevel(pin);
        else if (level && !wasAsserted && (entry & MASKED) == 0) deliver(entry);
    }

    /** A local APIC finished a level-triggered interrupt with this vector: clear Remote IRR, re-deliver. */
    public synchronized void endOfInterrupt(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long entry = redirection[pin];
            if ((entry & REMOTE_IRR) != 0 && (entry & 0xFF) == vector) {
                redirection[pin] = entry & ~REMOTE_IRR;
                serviceLevel(pin);
            }
        }
    }

    private int readIndirect(int index) {
        return switch (index) {
            case 0x00, 0x02 -> id << 24; // arbitration id mirrors the id after reset
            case 0x01 -> VERSION;
            default -> {
                int pin = (index - 0x10) >>> 1;
                if (index < 0x10 || pin >= PINS) yield 0;
                long entry = redirection[pin];
                yield (index & 1) == 0 ? (int) entry : (int) (entry >>> 32);
            }
        };
    }

    private void writeIndirect(int index, int value) {
        if (index == 0x00) {
            id = value >>> 24;
            return;
        }
        int pin = (index - 0x10) >>> 1;
        if (index < 0x10 || pin >= PINS) return; // version, arbitration and beyond-table are read-only
        long entry = redirection[pin];
        if ((index & 1) == 0) {
            long low = Integer.toUnsignedLong(value) & LOW_WRITABLE;
            entry = (entry & ~LOW_WRITABLE) | low;
            // Remote IRR means nothing for an edge pin: switching to edge clears it (as KVM does).
            if ((entry & LEVEL_TRIGGERED) == 0) entry &= ~REMOTE_IRR;
        } else {
            entry = (entry & 0xFFFF_FFFFL) | ((long) (value & 0xFF00_0000) << 32);
        }
        redirection[pin] = entry;
        // Unmasking (or reprogramming) a level pin whose line is still up delivers it now.
        if ((entry & LEVEL_TRIGGERED) != 0) serviceLevel(pin);
    }

    private void serviceLevel(int pin) {
        long entry = redirection[pin];
        if ((asserted & (1 << pin)) == 0 || (entry & (MASKED | REMOTE_IRR)) != 0) return;
        if (deliver(entry)) redirection[pin] = entry | REMOTE_IRR;
    }

    private boolean deliver(long entry) {
        DeliveryMode mode = DeliveryMode.of((int) (entry >>> 8));
        if (mode == null || mode == DeliveryMode.STARTUP) {
            LOG.warn("delivery mode", () -> String.format("I/O APIC entry 0x%x has an invalid delivery mode, dropped", entry));
            return false;
        }
        bus.deliver(ApicMessage.to((int) (entry >>> 56), (entry & LOGICAL) != 0, mode, (int) entry & 0xFF,
                (entry & LEVEL_TRIGGERED) != 0), null);
        return true;
    }
}
