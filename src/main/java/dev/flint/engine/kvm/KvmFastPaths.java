package dev.flint.engine.kvm;

import dev.flint.machine.InterruptRoutes;
import dev.flint.machine.NotifyFastPath;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.EventFd;
import dev.flint.sys.FileDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * KVM's I/O shortcuts for devices: KVM_IOEVENTFD turns a guest write to a doorbell address into an
 * eventfd signal inside the kernel (no exit to Flint), and MSI routes are GSIs above the irqchip's 24
 * pins with an MSI entry in the GSI routing table, each bound to an eventfd with KVM_IRQFD, so a device
 * raises its interrupt by writing that eventfd and the kernel injects it.
 *
 * <p>KVM_SET_GSI_ROUTING replaces the whole table, so every update writes the irqchip's default routes
 * (the ones KVM_CREATE_IRQCHIP installed: GSI 0-15 to the PIC and I/O APIC pin of the same number, 16-23
 * to the I/O APIC) followed by the programmed MSI routes; KVM_IRQ_LINE keeps working as before.
 *
 * <p>After {@link #close} (the VM fd is about to go) every call does nothing: devices outlive the engine
 * by a little during teardown, and an ioctl on a closed, maybe reused, fd must never happen.
 */
final class KvmFastPaths implements NotifyFastPath, InterruptRoutes {
    private static final Logger LOG = Logger.getLogger(KvmFastPaths.class.getName());
    private static final int FIRST_MSI_GSI = KvmInterrupts.GSI_COUNT;
    private static final int PIC_GSIS = 16;
    /** Ample for virtio (a vector per queue plus one per device) while keeping the routing table small. */
    private static final int MAX_MSI_ROUTES = 1024;

    private final FileDescriptor vm;
    private final int gsiLimit;
    /** Readers: every ioctl and eventfd write. Writer: {@link #close}. */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    // Guarded by this: the MSI routes by GSI, and which GSIs are taken.
    private final TreeMap<Integer, Route> routes = new TreeMap<>();
    private final BitSet usedGsis = new BitSet();

    /** @param maxRoutes what KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING) reported: the table's capacity */
    KvmFastPaths(FileDescriptor vm, int maxRoutes) {
        this.vm = vm;
        this.gsiLimit = Math.min(maxRoutes - defaultRouteCount(), MAX_MSI_ROUTES) + FIRST_MSI_GSI;
    }

    // ---- ioeventfd ----

    @Override
    public Registration signalOnWrite(long address, int width, OptionalLong datamatch, EventFd eventfd) {
        if (width != 1 && width != 2 && width != 4 && width != 8) throw new IllegalArgumentException("width " + width);
        ioeventfd(address, width, datamatch, eventfd, false);
        AtomicBoolean open = new AtomicBoolean(true);
        return () -> {
            if (open.getAndSet(false)) ioeventfd(address, width, datamatch, eventfd, true);
        };
    }

    private void ioeventfd(long address, int width, OptionalLong datamatch, EventFd eventfd, boolean deassign) {
        guarded(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = arena.allocate(Layouts.IOEVENTFD_SIZE, 8);
                s.set(JAVA_LONG, Layouts.IOEVENTFD_DATAMATCH, datamatch.orElse(0));
                s.set(JAVA_LONG, Layouts.IOEVENTFD_ADDR, address);
                s.set(JAVA_INT, Layouts.IOEVENTFD_LEN, width);
                s.set(JAVA_INT, Layouts.IOEVENTFD_FD, eventfd.fd());
                s.set(JAVA_INT, Layouts.IOEVENTFD_FLAGS, (datamatch.isPresent() ? Layouts.IOEVENTFD_FLAG_DATAMATCH : 0)
                        | (deassign ? Layouts.IOEVENTFD_FLAG_DEASSIGN : 0));
                vm.ioctl(KvmApi.IOEVENTFD, s);
            }
        });
    }

    // ---- MSI routes ----

    @Override
    public synchronized MsiRoute newMsiRoute() {
        int gsi = usedGsis.nextClearBit(FIRST_MSI_GSI);
        if (gsi >= gsiLimit) return null;
        EventFd eventfd = new EventFd();
        try {
            irqfd(eventfd, gsi, false);
        } catch (RuntimeException e) {
            eventfd.close();
            throw e;
        }
        usedGsis.set(gsi);
        Route route = new Route(gsi, eventfd);
        routes.put(gsi, route);
        return route;
    }

    private void irqfd(EventFd eventfd, int gsi, boolean deassign) {
        guarded(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = arena.allocate(Layouts.IRQFD_SIZE, 8);
                s.set(JAVA_INT, Layouts.IRQFD_FD, eventfd.fd());
                s.set(JAVA_INT, Layouts.IRQFD_GSI, gsi);
                s.set(JAVA_INT, Layouts.IRQFD_FLAGS, deassign ? Layouts.IRQFD_FLAG_DEASSIGN : 0);
                vm.ioctl(KvmApi.IRQFD, s);
            }
        });
    }

    /** Writes the irqchip's default routes plus every programmed MSI route (caller holds this). */
    private void pushRoutingTable() {
        int count = defaultRouteCount();
        for (Route r : routes.values()) if (r.programmed) count++;
        int entries = count;
        guarded(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment table = arena.allocate(Layouts.ROUTING_HEADER + (long) Layouts.ROUTE_SIZE * entries, 8);
                table.set(JAVA_INT, 0, entries);
                int i = 0;
                for (int gsi = 0; gsi < FIRST_MSI_GSI; gsi++) {
                    irqchipEntry(table, i++, gsi, Layouts.IRQCHIP_IOAPIC, gsi);
                    if (gsi < PIC_GSIS) {
                        irqchipEntry(table, i++, gsi, gsi < 8 ? Layouts.IRQCHIP_PIC_MASTER : Layouts.IRQCHIP_PIC_SLAVE, gsi % 8);
                    }
                }
                for (Route r : routes.values()) {
                    if (!r.programmed) continue;
                    long e = entry(table, i++, r.gsi, Layouts.ROUTE_TYPE_MSI);
                    table.set(JAVA_INT, e + Layouts.ROUTE_U, (int) r.address);
                    table.set(JAVA_INT, e + Layouts.ROUTE_U + 4, (int) (r.address >>> 32));
                    table.set(JAVA_INT, e + Layouts.ROUTE_U + 8, r.data);
                }
                vm.ioctl(KvmApi.SET_GSI_ROUTING, table);
            }
        });
    }

    private static int defaultRouteCount() {
        return FIRST_MSI_GSI + PIC_GSIS;
    }

    private static void irqchipEntry(MemorySegment table, int index, int gsi, int irqchip, int pin) {
        long e = entry(table, index, gsi, Layouts.ROUTE_TYPE_IRQCHIP);
        table.set(JAVA_INT, e + Layouts.ROUTE_U, irqchip);
        table.set(JAVA_INT, e + Layouts.ROUTE_U + 4, pin);
    }

    private static long entry(MemorySegment table, int index, int gsi, int type) {
        long e = Layouts.ROUTING_HEADER + (long) Layouts.ROUTE_SIZE * index;
        table.set(JAVA_INT, e + Layouts.ROUTE_GSI, gsi);
        table.set(JAVA_INT, e + Layouts.ROUTE_TYPE, type);
        return e;
    }

    private final class Route implements MsiRoute {
        final int gsi;
        final EventFd eventfd;
        // Guarded by KvmFastPaths.this.
        long address;
        int data;
        /** Volatile too: {@link #fire} reads them without the table's lock. */
        volatile boolean programmed, released;

        Route(int gsi, EventFd eventfd) {
            this.gsi = gsi;
            this.eventfd = eventfd;
        }

        @Override
        public void program(long address, int data) {
            synchronized (KvmFastPaths.this) {
                if (released || (programmed && this.address == address && this.data == data)) return;
                this.address = address;
                this.data = data;
                this.programmed = true;
                pushRoutingTable();
            }
        }

        @Override
        public void fire() {
            // No lock of the route table here: this is the per-interrupt path (one eventfd write).
            lock.readLock().lock();
            try {
                if (!closed && programmed && !released) eventfd.signal();
            } finally {
                lock.readLock().unlock();
            }
        }

        @Override
        public void close() {
            synchronized (KvmFastPaths.this) {
                if (released) return;
                released = true;
                routes.remove(gsi);
                try {
                    irqfd(eventfd, gsi, true);
                    if (programmed) pushRoutingTable();
                } finally {
                    usedGsis.clear(gsi);
                    closeEventFd(eventfd);
                }
            }
        }
    }

    /** Runs an ioctl unless the VM is closed; KVM refusing is logged and rethrown for the caller to fall back. */
    private void guarded(Runnable ioctl) {
        lock.readLock().lock();
        try {
            if (closed) return;
            ioctl.run();
        } catch (ErrnoException e) {
            LOG.warning("KVM fast path: " + e.getMessage());
            throw e;
        } finally {
            lock.readLock().unlock();
        }
    }

    private void closeEventFd(EventFd eventfd) {
        lock.writeLock().lock(); // no fire() is between its closed check and its write
        try {
            eventfd.close();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Called by the VM before its fd closes: later calls do nothing, route eventfds are released. */
    void close() {
        synchronized (this) {
            lock.writeLock().lock();
            try {
                closed = true;
                for (Route r : routes.values()) {
                    r.released = true;
                    r.eventfd.close();
                }
                routes.clear();
            } finally {
                lock.writeLock().unlock();
            }
        }
    }
}
