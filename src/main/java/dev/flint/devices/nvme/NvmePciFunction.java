package dev.flint.devices.nvme;

import dev.flint.devices.pci.BarRegions;
import dev.flint.devices.pci.MsixCapability;
import dev.flint.devices.pci.PciBar;
import dev.flint.devices.pci.PciConfigSpace;
import dev.flint.devices.pci.PciDevice;
import dev.flint.devices.virtio.block.DiskImageException;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.bus.BusDevice;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An NVMe controller as a PCI function (class 01:08:02, what Linux's nvme driver binds to): one 64-bit
 * memory BAR holding the controller registers (0x0000), the doorbells (0x1000, stride 4), the MSI-X table
 * (0x2000) and the pending bits (0x3000). Interrupts are MSI-X only, one vector for the admin queue and
 * one per I/O queue; there is no INTx pin, so a driver that cannot use MSI-X does not bind.
 *
 * <p>The engine's interrupt routes (kvm: irqfd) carry the vectors when offered. Doorbell registers carry
 * the new queue tail, which an ioeventfd would drop; so the I/O queues' SQ doorbells are diverted to an
 * eventfd (kvm: ioeventfd) only while the driver uses shadow doorbells ({@link ShadowDoorbells}), where
 * the value is in guest memory and a ring is only a wake-up. Everything else comes through the MMIO bus.
 */
public final class NvmePciFunction implements PciDevice, AutoCloseable {
    static final long REGISTERS = 0x0000, DOORBELLS = 0x1000, MSIX_TABLE = 0x2000, MSIX_PBA = 0x3000, BAR_SIZE = 0x4000;
    static final int PCI_DEVICE = 0x0010, PCI_CLASS = 0x010802, PCI_REVISION = 2;

    private final NvmeController controller;
    private final PciConfigSpace config;
    private final MsixCapability msix;
    private final NvmeIoThread io;
    private final String name;
    private final java.util.concurrent.atomic.AtomicLong ringsByBus = new java.util.concurrent.atomic.AtomicLong();
    /** Set once the function was taken off the bus (hot removal): its registers then read all ones and ignore writes. */
    private volatile boolean removed;
    /** Set by {@link #useFastPaths} when the engine can divert doorbell writes; null otherwise. */
    private volatile DoorbellDiversion diversion;

    private NvmePciFunction(String name, NvmeIdentity identity, int ioQueues, GuestMemory memory, InterruptController irq) {
        this.name = name;
        config = new PciConfigSpace(IdentifyData.PCI_VENDOR, PCI_DEVICE, PCI_CLASS, PCI_REVISION,
                IdentifyData.PCI_VENDOR, PCI_DEVICE);
        msix = new MsixCapability(config, irq, ioQueues + 1, 0, MSIX_TABLE, 0, MSIX_PBA);
        NvmeIoThread[] thread = new NvmeIoThread[1];
        controller = new NvmeController(memory, identity, ioQueues, msix::notify, () -> thread[0].wake());
        io = new NvmeIoThread(name, controller::serviceAll, controller::throttleTimeoutMillis);
        thread[0] = io;
        BarRegions bar = new BarRegions(name + " BAR0")
                .add(REGISTERS, DOORBELLS, new Registers(), "registers")
                .add(DOORBELLS, controller.doorbells.span(), new DoorbellRegion(), "doorbells")
                .add(MSIX_TABLE, msix.tableSize(), msix.table(), "MSI-X table")
                .add(MSIX_PBA, msix.pbaSize(), msix.pba(), "MSI-X PBA");
        config.setBar(0, new PciBar(BAR_SIZE, PciBar.Kind.MEMORY64, false, bar));
        io.start();
    }

    /**
     * A controller with {@code ioQueues} I/O queue pairs (one per vCPU) and the drives as namespaces 1, 2,
     * ... in order. Opens and locks every image (a one-line {@link DiskImageException} if one cannot be
     * used; those already opened are closed again). Closing the function stops its I/O thread and closes
     * the images.
     */
    public static NvmePciFunction create(NvmeIdentity identity, List<DriveConfig> drives, int ioQueues,
                                         GuestMemory memory, InterruptController irq) {
        NvmePciFunction f = new NvmePciFunction("nvme", identity, ioQueues, memory, irq);
        try {
            for (DriveConfig drive : drives) f.attach(drive);
            return f;
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * Attaches {@code drive} as the next free namespace and returns its ID. While the guest runs, the
     * driver hears of it through a Namespace Attribute Changed event and rescans: a new /dev/nvmeXnY.
     */
    public int attach(DriveConfig drive) {
        int nsid = controller.freeNamespaceId();
        if (nsid < 0) throw new DiskImageException("the NVMe controller " + controller.identity.serial()
                + " has no free namespace (at most " + NvmeSpec.MAX_NAMESPACES + ")");
        NvmeNamespace ns = NvmeNamespace.open(nsid, drive, controller.identity.serial());
        try {
            controller.attach(ns);
        } catch (RuntimeException e) {
            ns.close();
            throw e;
        }
        return nsid;
    }

    /**
     * Detaches namespace {@code nsid} (hot-attached, or the drive the controller was made with) and closes its
     * image; a running guest's driver is told by a Namespace Attribute Changed event and drops the disk.
     */
    public void detach(int nsid) {
        controller.detach(nsid);
    }

    /**
     * Takes namespace {@code nsid}'s new size after its file grew, and tells the driver if it changed; returns
     * the 512-byte blocks now. A shrunk file is a DiskImageException, an unknown namespace an IllegalArgumentException.
     */
    public long resize(int nsid) {
        return controller.resized(nsid);
    }

    /**
     * Changes namespace {@code nsid}'s rate limit ({@code PATCH /drives}): each bucket given replaces the old
     * one (or removes it, when it limits nothing), a null one stays. An unknown namespace is an
     * IllegalArgumentException. Any thread.
     */
    public void updateRateLimit(int nsid, dev.flint.devices.ratelimit.BucketConfig bandwidth,
                                dev.flint.devices.ratelimit.BucketConfig ops) {
        if (!controller.updateRateLimit(nsid, bandwidth, ops)) {
            throw new IllegalArgumentException("NVMe controller " + controller.identity.serial() + " has no namespace " + nsid);
        }
    }

    /** Lets the engine's interrupt routes (kvm: irqfd) carry the MSI-X vectors. Call before the guest runs. */
    public void useFastPaths(IoFastPaths paths) {
        paths.interrupts().ifPresent(msix::useRoutes);
        paths.notifications().ifPresent(path -> {
            DoorbellDiversion d = new DoorbellDiversion(path, io.kick(), controller.maxIoQueues);
            diversion = d;
            controller.onShadowDoorbells(d::setWanted);
            config.addBarListener(d);
        });
    }

    @Override public String name() { return name; }

    @Override public PciConfigSpace configSpace() { return config; }

    /** The metrics group of {@link #counters()}. */
    public String metricsGroup() { return "nvme"; }

    /** Commands by kind, bytes, failures, guest errors, and which path interrupts took. */
    public Map<String, Long> counters() {
        Map<String, Long> all = new TreeMap<>(controller.counters());
        all.put("notify_mmio", ringsByBus.get());
        all.put("notify_eventfd", io.kicksByEventFd());
        all.put("msi_routed", msix.routedMessages());
        all.put("msi_sent", msix.sentMessages());
        return all;
    }

    public long guestErrors() { return controller.guestErrors(); }

    /** The controller status register, for tests. */
    int csts() { return controller.csts(); }

    NvmeController controller() { return controller; }

    /**
     * Snapshot of a paused function: configuration space, MSI-X, and the controller
     * ({@link NvmeControllerState}).
     */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        config.save(out);
        msix.save(out);
        NvmeControllerState.save(controller, out);
    }

    /** Takes back {@link #save}'s state on a function built with the same namespaces, before any vCPU runs. */
    public void restore(dev.flint.machine.state.StateReader.Section in) {
        config.restore(in);
        msix.restore(in);
        NvmeControllerState.restore(controller, in);
    }

    /** Quiesces the controller for a VM pause (see {@code VirtioPciDevice.pause}). */
    public void pause() { if (!removed) io.pause(); }

    public void resume() { if (!removed) io.resume(); }

    /**
     * Marks the function as taken off the bus: a vCPU that looked its BAR up just before the removal reads
     * all ones and its writes are dropped, as a surprise-removed device's would be. Call before {@link #close}.
     */
    public void markRemoved() { removed = true; }

    @Override
    public void close() {
        removed = true;
        DoorbellDiversion d = diversion;
        if (d != null) d.close(); // before the I/O thread closes the eventfd it names
        io.close();
        msix.releaseRoutes();
        controller.close();
    }

    private final class Registers implements BusDevice {
        @Override
        public long read(long offset, int size) {
            return removed ? (size >= 8 ? -1L : (1L << (8 * size)) - 1) : controller.readRegister(offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            if (!removed) controller.writeRegister(offset, size, value);
        }
    }

    private final class DoorbellRegion implements BusDevice {
        @Override public long read(long offset, int size) { return 0; } // write-only registers

        @Override
        public void write(long offset, int size, long value) {
            if (removed) return;
            ringsByBus.incrementAndGet();
            controller.writeDoorbell(offset, size, value);
        }
    }
}
