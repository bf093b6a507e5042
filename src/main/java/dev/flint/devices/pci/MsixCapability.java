package dev.flint.devices.pci;

import dev.flint.machine.InterruptController;
import dev.flint.machine.InterruptRoutes;
import dev.flint.machine.bus.BusDevice;

import java.util.concurrent.atomic.AtomicLong;

/**
 * MSI-X for a PCI function: the capability in configuration space, the vector table and the pending bit
 * array. The device places {@link #table()} and {@link #pba()} in its BARs at the offsets it declared,
 * and signals with {@link #notify(int)}: delivered through {@link InterruptController#sendMsi} when the
 * vector is usable, remembered in the PBA while it is masked and delivered on unmask.
 *
 * <p>With {@link #useRoutes} a vector is delivered through an engine route instead (KVM: an irqfd bound to
 * an MSI routing entry). Masking and the PBA stay here either way, since every delivery passes through
 * {@link #notify}; a vector's route is (re)programmed lazily, on its first delivery after the guest
 * changed its address or data, so the guest's table writes cost no engine call.
 */
public final class MsixCapability {
    public static final int CAP_ID = 0x11;
    static final int CONTROL_ENABLE = 0x8000, CONTROL_FUNCTION_MASK = 0x4000;
    public static final int ENTRY_SIZE = 16;
    private static final int VECTOR_MASKED = 1;

    private final InterruptController irq;
    private final PciConfigSpace config;
    private final int vectors;
    private final int capOffset;
    private final int[] table;
    private final long[] pending;
    private boolean enabled, functionMasked;
    // Guarded by this: the engine's routes, one per vector once it fired; a null entry means "not yet".
    private InterruptRoutes routes;
    private InterruptRoutes.MsiRoute[] vectorRoutes;
    private boolean routesExhausted;
    private final AtomicLong routed = new AtomicLong(), sent = new AtomicLong();

    /**
     * Adds the capability to {@code config}.
     *
     * @param tableBar / tableOffset where the device maps {@link #table()} (offset 8-byte aligned)
     * @param pbaBar / pbaOffset     where it maps {@link #pba()}
     */
    public MsixCapability(PciConfigSpace config, InterruptController irq, int vectors,
                          int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
        if (vectors < 1 || vectors > 2048) throw new IllegalArgumentException("MSI-X supports 1..2048 vectors");
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0) throw new IllegalArgumentException("MSI-X offsets must be 8-byte aligned");
        this.irq = irq;
        this.config = config;
        this.vectors = vectors;
        this.table = new int[vectors * 4];
        for (int v = 0; v < vectors; v++) table[v * 4 + 3] = VECTOR_MASKED; // masked out of reset
        this.pending = new long[(vectors + 63) / 64];
        byte[] body = new byte[10];
        int control = vectors - 1;
        body[0] = (byte) control;
        body[1] = (byte) (control >> 8);
        putInt(body, 2, (int) tableOffset | tableBar);
        putInt(body, 6, (int) pbaOffset | pbaBar);
        byte[] mask = {0, (byte) ((CONTROL_ENABLE | CONTROL_FUNCTION_MASK) >> 8)};
        this.capOffset = config.addCapability(CAP_ID, body, mask, rel -> controlWritten());
    }

    /** Snapshot: the vector table, pending bits and control (the control word itself is in config space). */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInts(table).putLongs(pending).putBoolean(enabled).putBoolean(functionMasked);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        in.readInts(table);
        in.readLongs(pending);
        enabled = in.getBoolean();
        functionMasked = in.getBoolean();
    }

    public int vectors() { return vectors; }

    /** Bytes the table needs in its BAR. */
    public long tableSize() { return (long) vectors * ENTRY_SIZE; }

    /** Bytes the PBA needs in its BAR. */
    public long pbaSize() { return pending.length * 8L; }

    public synchronized boolean enabled() { return enabled; }

    private void controlWritten() {
        int control = config.capabilityByte(capOffset + 2) | config.capabilityByte(capOffset + 3) << 8;
        synchronized (this) {
            enabled = (control & CONTROL_ENABLE) != 0;
            functionMasked = (control & CONTROL_FUNCTION_MASK) != 0;
        }
        deliverPending();
    }

    /**
     * Signals {@code vector}. Returns false if MSI-X is disabled (the device then falls back to INTx, if it
     * has one) or the vector does not exist; a masked vector is left pending and counts as signalled.
     */
    public boolean notify(int vector) {
        long address;
        int data;
        synchronized (this) {
            if (!enabled || vector < 0 || vector >= vectors) return false;
            if (functionMasked || (table[vector * 4 + 3] & VECTOR_MASKED) != 0) {
                pending[vector / 64] |= 1L << (vector % 64);
                return true;
            }
            address = (table[vector * 4] & 0xFFFF_FFFFL) | (long) table[vector * 4 + 1] << 32;
            data = table[vector * 4 + 2];
            InterruptRoutes.MsiRoute route = routeFor(vector);
            if (route != null) {
                route.program(address, data); // a no-op unless the guest changed the entry
                routed.incrementAndGet(); // counted first: whoever sees the interrupt sees it counted
                route.fire();
                return true;
            }
        }
        sent.incrementAndGet();
        irq.sendMsi(address, data);
        return true;
    }

    /**
     * Delivers unmasked vectors through {@code routes} from now on (engine-neutral: any engine offering
     * {@link InterruptRoutes}). If the engine runs out of routes, the vectors without one use sendMsi.
     */
    public synchronized void useRoutes(InterruptRoutes routes) {
        if (this.routes != null) throw new IllegalStateException("routes already in use");
        this.routes = routes;
        this.vectorRoutes = new InterruptRoutes.MsiRoute[vectors];
    }

    /** The route of {@code vector}, made on its first use; null without routes (caller holds this). */
    private InterruptRoutes.MsiRoute routeFor(int vector) {
        if (routes == null) return null;
        if (vectorRoutes[vector] == null && !routesExhausted) {
            try {
                vectorRoutes[vector] = routes.newMsiRoute();
            } catch (RuntimeException e) {
                vectorRoutes[vector] = null; // the engine refused; sendMsi still works
            }
            routesExhausted = vectorRoutes[vector] == null;
        }
        return vectorRoutes[vector];
    }

    /** Messages delivered through engine routes, and through {@link InterruptController#sendMsi}. */
    public long routedMessages() { return routed.get(); }

    public long sentMessages() { return sent.get(); }

    /** Releases the engine routes (the device is going away). */
    public synchronized void releaseRoutes() {
        if (vectorRoutes == null) return;
        for (int v = 0; v < vectors; v++) {
            if (vectorRoutes[v] != null) vectorRoutes[v].close();
            vectorRoutes[v] = null;
        }
        routes = null;
    }

    private void deliverPending() {
        for (int v = 0; v < vectors; v++) {
            boolean fire;
            synchronized (this) {
                fire = enabled && !functionMasked && (pending[v / 64] & (1L << (v % 64))) != 0
                        && (table[v * 4 + 3] & VECTOR_MASKED) == 0;
                if (fire) pending[v / 64] &= ~(1L << (v % 64));
            }
            if (fire) notify(v);
        }
    }

    /** The vector table's registers, relative to the table offset. */
    public BusDevice table() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (MsixCapability.this) {
                    return readWords(table, offset, size);
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (MsixCapability.this) {
                    if (offset < 0 || offset + size > (long) table.length * 4) return;
                    writeWords(offset, size, value);
                }
                deliverPending(); // an unmask may release a pending message
            }
        };
    }

    /** The pending bit array (read-only), relative to the PBA offset. */
    public BusDevice pba() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (MsixCapability.this) {
                    if (offset < 0 || offset + size > pending.length * 8L) return 0;
                    long word = pending[(int) (offset / 8)];
                    long v = word >>> (8 * (offset & 7));
                    return size >= 8 ? v : v & ((1L << (8 * size)) - 1);
                }
            }

            @Override
            public void write(long offset, int size, long value) { } // read-only per the spec
        };
    }

    private static long readWords(int[] words, long offset, int size) {
        if (offset < 0 || offset + size > (long) words.length * 4) return 0;
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            long at = offset + i;
            v = (v << 8) | ((words[(int) (at / 4)] >>> (8 * (at & 3))) & 0xFF);
        }
        return v;
    }

    private void writeWords(long offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            long at = offset + i;
            int idx = (int) (at / 4), shift = (int) (8 * (at & 3));
            table[idx] = (table[idx] & ~(0xFF << shift)) | (int) (((value >>> (8 * i)) & 0xFF) << shift);
        }
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) b[at + i] = (byte) (v >>> (8 * i));
    }
}
