package dev.flint.devices.virtio;

import dev.flint.devices.pci.BarRegions;
import dev.flint.devices.pci.MsixCapability;
import dev.flint.devices.pci.PciBar;
import dev.flint.devices.pci.PciConfigSpace;
import dev.flint.devices.pci.PciDevice;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.GuestMemoryException;
import dev.flint.machine.InterruptController;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.bus.BusDevice;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;

/**
 * A virtio 1.x ("modern", non-transitional) PCI function around a {@link VirtioDevice}: what Linux's
 * virtio_pci driver binds to. Everything lives in one 64-bit memory BAR (BAR0) that vendor-specific
 * capabilities point into: common configuration, notifications, ISR status and device configuration,
 * followed by the MSI-X table and pending bits. Interrupts use MSI-X when the driver enables it
 * (a configuration-change vector plus one per queue), otherwise INTA# with the ISR register.
 *
 * <p>Threads: vCPU threads read and write registers (under this object's lock); a notification only
 * hands off to the {@link QueueWorker}. The worker serves one batch at a time under {@code workLock};
 * reset takes that lock too, so it never tears a request in half and waits for at most one batch.
 */
public final class VirtioPciDevice implements PciDevice, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VirtioPciDevice.class.getName());
    private static final int LOGGED_GUEST_ERRORS = 20;

    // BAR0 layout: one page per region keeps them independently mappable.
    static final long COMMON_OFFSET = 0x0000, ISR_OFFSET = 0x1000, DEVICE_OFFSET = 0x2000,
            NOTIFY_OFFSET = 0x3000, MSIX_TABLE_OFFSET = 0x4000, MSIX_PBA_OFFSET = 0x5000, BAR_SIZE = 0x8000;
    static final int COMMON_LENGTH = 0x38;
    static final int NOTIFY_MULTIPLIER = 4;
    static final int CAP_VENDOR = 0x09;
    static final int CFG_COMMON = 1, CFG_NOTIFY = 2, CFG_ISR = 3, CFG_DEVICE = 4;
    private static final int ISR_QUEUE = 1, ISR_CONFIG = 2;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final PciConfigSpace config;
    private final MsixCapability msix;
    private final Virtqueue[] queues;
    private final long offeredFeatures;
    private final QueueWorker worker;
    /** Fair, so a reset waiting for it gets in after the chain in progress, not after the whole ring. */
    private final ReentrantLock workLock = new ReentrantLock(true);
    private final AtomicLong guestErrors = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong notifiedByBus = new AtomicLong();
    /** Set by {@link #useFastPaths} when the engine can divert notify writes; null otherwise. */
    private volatile NotifyDiversion notifyDiversion;

    // Driver-visible state, guarded by this.
    private int deviceFeatureSelect, driverFeatureSelect, queueSelect, configVector = VirtioSpec.NO_VECTOR;
    private int configGeneration, isr;
    private volatile long driverFeatures;
    private volatile int status;

    public VirtioPciDevice(VirtioDevice device, GuestMemory memory, InterruptController irq) {
        if (device.queueCount() < 1 || device.queueCount() > 63) throw new IllegalArgumentException("1..63 queues");
        this.device = device;
        this.memory = memory;
        this.offeredFeatures = device.features() | VirtioSpec.F_VERSION_1 | VirtioSpec.F_INDIRECT_DESC
                | (device.offersEventIdx() ? VirtioSpec.F_EVENT_IDX : 0);
        this.queues = new Virtqueue[device.queueCount()];
        for (int q = 0; q < queues.length; q++) queues[q] = new Virtqueue(device.maxQueueSize());

        config = new PciConfigSpace(VirtioSpec.PCI_VENDOR, VirtioSpec.PCI_DEVICE_BASE + device.type(),
                device.pciClass(), VirtioSpec.PCI_REVISION, VirtioSpec.PCI_SUBSYSTEM_VENDOR, VirtioSpec.PCI_SUBSYSTEM_ID);
        config.setInterruptPin(1);
        addVendorCapability(CFG_COMMON, COMMON_OFFSET, COMMON_LENGTH, -1);
        addVendorCapability(CFG_NOTIFY, NOTIFY_OFFSET, (long) queues.length * NOTIFY_MULTIPLIER, NOTIFY_MULTIPLIER);
        addVendorCapability(CFG_ISR, ISR_OFFSET, 1, -1);
        if (device.configSize() > 0) addVendorCapability(CFG_DEVICE, DEVICE_OFFSET, device.configSize(), -1);
        msix = new MsixCapability(config, irq, queues.length + 1, 0, MSIX_TABLE_OFFSET, 0, MSIX_PBA_OFFSET);

        BarRegions bar = new BarRegions(device.name() + " BAR0")
                .add(COMMON_OFFSET, COMMON_LENGTH, new CommonConfig(), "common config")
                .add(ISR_OFFSET, 1, new IsrStatus(), "ISR status")
                .add(NOTIFY_OFFSET, (long) queues.length * NOTIFY_MULTIPLIER, new Notify(), "notify")
                .add(MSIX_TABLE_OFFSET, msix.tableSize(), msix.table(), "MSI-X table")
                .add(MSIX_PBA_OFFSET, msix.pbaSize(), msix.pba(), "MSI-X PBA");
        if (device.configSize() > 0) bar.add(DEVICE_OFFSET, device.configSize(), new DeviceConfig(), "device config");
        config.setBar(0, new PciBar(BAR_SIZE, PciBar.Kind.MEMORY64, false, bar));
        usedSinks = new VirtioDevice.Used[queues.length];
        for (int q = 0; q < queues.length; q++) usedSinks[q] = usedSink(q);
        worker = new QueueWorker(device.name(), queues.length, this::serve, device.hostSource());
    }

    /** virtio_pci_cap: length, type, BAR, id, padding, offset, length [, notify_off_multiplier]. */
    private void addVendorCapability(int type, long offset, long length, int notifyMultiplier) {
        int capLength = notifyMultiplier >= 0 ? 20 : 16;
        byte[] body = new byte[capLength - 2];
        body[0] = (byte) capLength;
        body[1] = (byte) type;
        body[2] = 0; // BAR0
        putInt(body, 6, (int) offset);
        putInt(body, 10, (int) length);
        if (notifyMultiplier >= 0) putInt(body, 14, notifyMultiplier);
        config.addCapability(CAP_VENDOR, body, new byte[0], null);
    }

    @Override public String name() { return device.name(); }

    /**
     * The device model this function carries: the machine builder reaches a model's own controls through
     * it, and a snapshot asks a virtio-net for its MAC.
     */
    public VirtioDevice model() { return device; }

    /** See {@link VirtioDevice#metricsGroup()}. */
    public String metricsGroup() { return device.metricsGroup(); }

    /** The device model's request counters plus the transport's: completed chains and guest errors. */
    public Map<String, Long> counters() {
        var all = new TreeMap<>(device.counters());
        all.put("completed_chains", completedChains());
        all.put("guest_errors", guestErrors());
        // Which path notifications and interrupts took (kvm's fast paths, or through Flint).
        all.put("notify_mmio", notifiedByBus.get());
        all.put("notify_eventfd", worker.kicksByEventFd());
        all.put("msi_routed", msix.routedMessages());
        all.put("msi_sent", msix.sentMessages());
        return all;
    }

    /**
     * Lets the engine's shortcuts carry this device's I/O (kvm: ioeventfd and irqfd): queue notify
     * registers signal the I/O thread's kick eventfds wherever the guest maps BAR0, and MSI-X vectors
     * fire engine routes. Either may be absent; the bus and {@link InterruptController} paths stay in
     * place regardless. Call once, before the guest runs.
     */
    public void useFastPaths(IoFastPaths paths) {
        paths.interrupts().ifPresent(msix::useRoutes);
        paths.notifications().ifPresent(path -> {
            long[] offsets = new long[queues.length];
            for (int q = 0; q < offsets.length; q++) offsets[q] = notifyOffset(q);
            NotifyDiversion diversion = new NotifyDiversion(device.name(), path, 0, offsets, worker::kick);
            notifyDiversion = diversion;
            config.addBarListener(diversion);
        });
    }
    @Override public PciConfigSpace configSpace() { return config; }

    /** The seam for notifications that bypass the notify register (e.g. KVM ioeventfd). */
    public QueueNotifier queueNotifier() { return worker; }

    /**
     * Has the I/O thread look at every queue again (any thread): after a rate limiter changed, requests it
     * held back may go now rather than when the old limit would have let them.
     */
    public void requeueAll() {
        for (int q = 0; q < queues.length; q++) worker.queueNotified(q);
    }

    /** Passes the I/O thread has finished (each serves every queue notified before it began). */
    public long ioPasses() { return worker.passes(); }

    /** Offset in BAR0 of queue {@code queue}'s notify register (an engine registers ioeventfd there). */
    public long notifyOffset(int queue) { return NOTIFY_OFFSET + (long) queue * NOTIFY_MULTIPLIER; }

    /** Requests and chains the guest got wrong (buffers outside RAM, malformed chains); for tests and stats. */
    public long guestErrors() { return guestErrors.get(); }

    /** Chains returned to the driver. */
    public long completedChains() { return completed.get(); }

    public int status() { return status; }

    /**
     * Quiesces the device for a VM pause: returns once the I/O thread has finished the pass it was in
     * and holds; nothing of this device touches guest memory until {@link #resume}.
     */
    public void pause() { worker.pause(); }

    public void resume() { worker.resume(); }

    /**
     * Snapshot of a paused device: configuration space, MSI-X, the transport's registers and every
     * queue's programming and ring positions. In-flight requests need nothing more: a pause lets the I/O
     * thread finish its pass, so each chain taken off a ring is already on the used ring; what the driver
     * published since is served after restore from the avail index in guest RAM.
     */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        config.save(out);
        msix.save(out);
        synchronized (this) {
            out.putLong(offeredFeatures).putInt(deviceFeatureSelect).putInt(driverFeatureSelect).putInt(queueSelect)
                    .putInt(configVector).putInt(configGeneration).putInt(isr).putLong(driverFeatures).putInt(status);
            out.putInt(queues.length);
            for (Virtqueue q : queues) q.save(out);
        }
    }

    /** Takes back what {@link #save} wrote, on a device built from the same configuration, before any vCPU runs. */
    public void restore(dev.flint.machine.state.StateReader.Section in) {
        config.restore(in);
        msix.restore(in);
        synchronized (this) {
            long offered = in.getLong();
            if (offered != offeredFeatures) {
                throw new dev.flint.machine.state.SnapshotException(device.name() + ": the snapshot's device offered features 0x"
                        + Long.toHexString(offered) + ", this one 0x" + Long.toHexString(offeredFeatures));
            }
            deviceFeatureSelect = in.getInt();
            driverFeatureSelect = in.getInt();
            queueSelect = in.getInt();
            configVector = in.getInt();
            configGeneration = in.getInt();
            isr = in.getInt();
            driverFeatures = in.getLong();
            status = in.getInt();
            if (in.getInt() != queues.length) throw new dev.flint.machine.state.SnapshotException(device.name() + ": queue count differs");
            for (Virtqueue q : queues) {
                q.restore(in);
                q.useEventIdx((driverFeatures & VirtioSpec.F_EVENT_IDX) != 0);
            }
            if ((status & VirtioSpec.STATUS_DRIVER_OK) != 0) device.activate(driverFeatures);
        }
        in.end();
        // Buffers the driver published while the snapshot was taken (receive buffers, say) are looked at now.
        if ((status & VirtioSpec.STATUS_DRIVER_OK) != 0) for (int q = 0; q < queues.length; q++) worker.queueNotified(q);
    }

    @Override
    public void close() {
        NotifyDiversion diversion = notifyDiversion;
        if (diversion != null) diversion.close(); // before the worker closes the eventfds it names
        worker.close();
        msix.releaseRoutes();
        device.close();
    }

    // ---- the I/O thread ----

    /**
     * Serves every chain the driver published on {@code q} as one batch; runs on the worker, never throws.
     * The device may defer a chain's I/O to the batch's end ({@link VirtioDevice#finishBatch}), so the
     * whole batch runs under {@code workLock}: a reset waits for at most one batch (a queue's worth). The
     * used index moves once per batch and the driver gets at most one interrupt for it.
     */
    private void serve(int q) {
        if (q >= queues.length) return;
        Virtqueue vq = queues[q];
        int limit = Math.max(1, device.batchLimit(q));
        // Batches of at most `limit` chains, each finished (its completions published, the interrupt decided)
        // before the next begins, up to a queue's worth in all: then the other queues get their turn.
        for (int total = 0; total < vq.size(); ) {
            int want = Math.min(limit, vq.size() - total), took = serveBatch(q, vq, want);
            if (took < want) return; // the ring is empty, the device stopped, or the device waits for something
            total += took;
        }
        worker.queueNotified(q); // a driver that keeps refilling the ring: let the other queues in, then resume
    }

    /** One batch of at most {@code limit} chains; returns how many it took off the ring ({@code limit}: maybe more wait). */
    private int serveBatch(int q, Virtqueue vq, int limit) {
        boolean returned = false;
        int took = 0;
        try {
            workLock.lock();
            try {
                took = takeBatch(q, vq, limit);
            } finally {
                try {
                    device.finishBatch(q, usedSinks[q]);
                    returned = vq.publishUsedIfAny(memory); // what takeBatch returned at once and what finishBatch did
                } finally {
                    workLock.unlock();
                }
            }
            if (returned && vq.interruptWanted(memory)) signal(vq.msixVector(), ISR_QUEUE);
            return took;
        } catch (VirtqueueException e) {
            guestError("queue " + q + ": " + e.getMessage());
            needsReset();
        } catch (RuntimeException e) {
            LOG.log(java.util.logging.Level.SEVERE, device.name() + ": queue " + q + " failed; device needs reset", e);
            needsReset();
        }
        return 0;
    }

    /**
     * The device changed its configuration (a balloon's target, say): the generation moves on and, once
     * the driver is running, it gets a configuration-change interrupt. Callable from any thread.
     */
    public void configChanged() {
        int vector;
        synchronized (this) {
            configGeneration++;
            if ((status & VirtioSpec.STATUS_DRIVER_OK) == 0 || (status & VirtioSpec.STATUS_NEEDS_RESET) != 0) return;
            vector = configVector;
        }
        signal(vector, ISR_CONFIG);
    }

    /**
     * Hands the device the chains on the ring, at most {@code limit}, and returns how many it took off the ring. The
     * ones answered at once are on the used ring, not yet published. Each chain is walked into the queue's reused
     * {@link ChainView}; the device serves it from there if it can ({@link VirtioDevice#serveInPlace}: virtio-blk's
     * reads and writes, nothing allocated per request), otherwise it gets a {@link DescriptorChain} as before.
     */
    private int takeBatch(int q, Virtqueue vq, int limit) {
        ChainView view = vq.view();
        for (int served = 0; ; served++) {
            if (served == limit) return served;
            if ((status & (VirtioSpec.STATUS_DRIVER_OK | VirtioSpec.STATUS_NEEDS_RESET)) != VirtioSpec.STATUS_DRIVER_OK
                    || !vq.ready()) {
                return served;
            }
            int kept = device.releasedChain(q);
            if (kept >= 0) { // a chain the device held (a statistics request) goes back now
                vq.addUsed(memory, kept, 0);
                completed.incrementAndGet();
                continue;
            }
            if (!device.readyFor(q)) return served; // the driver's buffers stay on the ring until there is data
            if (!vq.popInto(memory, (driverFeatures & VirtioSpec.F_INDIRECT_DESC) != 0, view)) return served;
            int written;
            try {
                written = device.serveInPlace(q, view);
                if (written == VirtioDevice.DECLINED) {
                    DescriptorChain chain = view.toChain();
                    long wait = device.throttle(q, chain);
                    if (wait > 0) { // rate limited: the chain waits on the ring, the thread comes back for it
                        vq.undoPop();
                        worker.serveAgainIn(q, wait);
                        return served;
                    }
                    written = device.handle(q, chain);
                }
            } catch (GuestMemoryException | MalformedRequestException e) {
                guestError("queue " + q + ": " + e.getMessage());
                written = 0;
            }
            if (written == VirtioDevice.DEFERRED || written == VirtioDevice.KEEP) continue;
            vq.addUsed(memory, view.head(), written);
            completed.incrementAndGet();
        }
    }

    /** One sink per queue, made once: finishing a batch allocates nothing. */
    private final VirtioDevice.Used[] usedSinks;

    private VirtioDevice.Used usedSink(int q) {
        return (head, written) -> {
            queues[q].addUsed(memory, head, written);
            completed.incrementAndGet();
        };
    }

    private void guestError(String what) {
        long n = guestErrors.incrementAndGet();
        if (n <= LOGGED_GUEST_ERRORS) {
            LOG.warning(device.name() + ": guest error: " + what + (n == LOGGED_GUEST_ERRORS ? " (further ones not logged)" : ""));
        }
    }

    /** The device stops serving until the driver resets it, and tells the driver so. */
    private void needsReset() {
        int vector;
        synchronized (this) {
            if ((status & VirtioSpec.STATUS_DRIVER_OK) == 0 || (status & VirtioSpec.STATUS_NEEDS_RESET) != 0) return;
            status |= VirtioSpec.STATUS_NEEDS_RESET;
            vector = configVector;
        }
        signal(vector, ISR_CONFIG);
    }

    private void signal(int vector, int isrBit) {
        if (msix.enabled()) {
            if (vector != VirtioSpec.NO_VECTOR) msix.notify(vector);
            return;
        }
        synchronized (this) {
            isr |= isrBit;
        }
        config.setIntx(true);
    }

    // ---- driver-visible registers ----

    private synchronized void writeStatus(int value) {
        value &= 0xFF;
        int old = status;
        if ((value & VirtioSpec.STATUS_FEATURES_OK) != 0 && (old & VirtioSpec.STATUS_FEATURES_OK) == 0
                && !featuresAcceptable()) {
            value &= ~VirtioSpec.STATUS_FEATURES_OK; // the driver reads it back and gives up
        }
        boolean activate = (value & VirtioSpec.STATUS_DRIVER_OK) != 0 && (old & VirtioSpec.STATUS_DRIVER_OK) == 0;
        if (activate && (value & VirtioSpec.STATUS_FEATURES_OK) == 0) {
            value &= ~VirtioSpec.STATUS_DRIVER_OK;
            activate = false;
        }
        // Before DRIVER_OK is published (status is volatile): the I/O thread serves nothing until it sees it.
        if (activate) for (Virtqueue q : queues) q.useEventIdx((driverFeatures & VirtioSpec.F_EVENT_IDX) != 0);
        status = value | (old & VirtioSpec.STATUS_NEEDS_RESET);
        if (activate) {
            for (int q = 0; q < queues.length; q++) {
                String problem = queues[q].ready() ? queues[q].layoutProblem(memory) : null;
                if (problem != null) {
                    guestError("queue " + q + ": " + problem);
                    status |= VirtioSpec.STATUS_NEEDS_RESET; // afterStatusWrite raises the config interrupt
                }
            }
            device.activate(driverFeatures);
        }
    }

    private boolean featuresAcceptable() {
        long f = driverFeatures;
        return (f & ~offeredFeatures) == 0 && (f & VirtioSpec.F_VERSION_1) != 0;
    }

    /** Writing 0 to the status register: everything back to power-on state, after any request in flight. */
    private void reset() {
        workLock.lock();
        try {
            synchronized (this) {
                for (Virtqueue q : queues) q.reset();
                status = 0;
                driverFeatures = 0;
                deviceFeatureSelect = driverFeatureSelect = queueSelect = 0;
                configVector = VirtioSpec.NO_VECTOR;
                isr = 0;
                device.reset();
            }
        } finally {
            workLock.unlock();
        }
        config.setIntx(false);
    }

    private void afterStatusWrite(int before) {
        int now = status;
        if ((now & VirtioSpec.STATUS_NEEDS_RESET) != 0 && (before & VirtioSpec.STATUS_NEEDS_RESET) == 0) {
            int vector;
            synchronized (this) {
                vector = configVector;
            }
            signal(vector, ISR_CONFIG);
        } else if ((now & VirtioSpec.STATUS_DRIVER_OK) != 0 && (before & VirtioSpec.STATUS_DRIVER_OK) == 0) {
            for (int q = 0; q < queues.length; q++) worker.queueNotified(q); // anything queued before DRIVER_OK
        }
    }

    private int vectorOrNone(int value) {
        return value >= 0 && value < msix.vectors() ? value : VirtioSpec.NO_VECTOR;
    }

    /** virtio_pci_common_cfg. Linux uses exact field widths (64-bit fields as two 32-bit halves). */
    private final class CommonConfig implements BusDevice {
        @Override
        public long read(long offset, int size) {
            synchronized (VirtioPciDevice.this) {
                Virtqueue q = queueSelect < queues.length ? queues[queueSelect] : null;
                return switch ((int) offset) {
                    case 0x00 -> deviceFeatureSelect;
                    case 0x04 -> deviceFeatureSelect < 2 ? (offeredFeatures >>> (32 * deviceFeatureSelect)) & 0xFFFF_FFFFL : 0;
                    case 0x08 -> driverFeatureSelect;
                    case 0x0C -> driverFeatureSelect < 2 ? (driverFeatures >>> (32 * driverFeatureSelect)) & 0xFFFF_FFFFL : 0;
                    case 0x10 -> configVector;
                    case 0x12 -> queues.length;
                    case 0x14 -> status;
                    case 0x15 -> configGeneration & 0xFF;
                    case 0x16 -> queueSelect;
                    case 0x18 -> q == null ? 0 : q.size();
                    case 0x1A -> q == null ? VirtioSpec.NO_VECTOR : q.msixVector();
                    case 0x1C -> q != null && q.ready() ? 1 : 0;
                    case 0x1E -> q == null ? 0 : queueSelect; // notify offset in multiplier units
                    case 0x20 -> q == null ? 0 : q.descTable() & 0xFFFF_FFFFL;
                    case 0x24 -> q == null ? 0 : q.descTable() >>> 32;
                    case 0x28 -> q == null ? 0 : q.availRing() & 0xFFFF_FFFFL;
                    case 0x2C -> q == null ? 0 : q.availRing() >>> 32;
                    case 0x30 -> q == null ? 0 : q.usedRing() & 0xFFFF_FFFFL;
                    case 0x34 -> q == null ? 0 : q.usedRing() >>> 32;
                    default -> 0;
                } & (size >= 8 ? -1L : (1L << (8 * size)) - 1);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset == 0x14) {
                int before = status;
                if ((value & 0xFF) == 0) reset();
                else writeStatus((int) value);
                afterStatusWrite(before);
                return;
            }
            synchronized (VirtioPciDevice.this) {
                Virtqueue q = queueSelect < queues.length ? queues[queueSelect] : null;
                long v32 = value & 0xFFFF_FFFFL;
                int v16 = (int) value & 0xFFFF;
                switch ((int) offset) {
                    case 0x00 -> deviceFeatureSelect = (int) v32;
                    case 0x08 -> driverFeatureSelect = (int) v32;
                    case 0x0C -> {
                        if ((status & VirtioSpec.STATUS_FEATURES_OK) == 0 && driverFeatureSelect < 2) {
                            int shift = 32 * driverFeatureSelect;
                            driverFeatures = (driverFeatures & ~(0xFFFF_FFFFL << shift)) | (v32 << shift);
                        }
                    }
                    case 0x10 -> configVector = vectorOrNone(v16);
                    case 0x16 -> queueSelect = v16;
                    case 0x18 -> { if (q != null) q.setSize(v16); }
                    case 0x1A -> { if (q != null) q.setMsixVector(vectorOrNone(v16)); }
                    case 0x1C -> { if (q != null && v16 == 1) q.enable(); } // 0 is not the driver's to write
                    case 0x20 -> { if (q != null) q.setDescTable(low(q.descTable(), value, size)); }
                    case 0x24 -> { if (q != null) q.setDescTable(high(q.descTable(), v32)); }
                    case 0x28 -> { if (q != null) q.setAvailRing(low(q.availRing(), value, size)); }
                    case 0x2C -> { if (q != null) q.setAvailRing(high(q.availRing(), v32)); }
                    case 0x30 -> { if (q != null) q.setUsedRing(low(q.usedRing(), value, size)); }
                    case 0x34 -> { if (q != null) q.setUsedRing(high(q.usedRing(), v32)); }
                    default -> { } // read-only or reserved
                }
            }
        }

        private static long low(long old, long value, int size) {
            return size >= 8 ? value : (old & ~0xFFFF_FFFFL) | (value & 0xFFFF_FFFFL);
        }

        private static long high(long old, long v32) {
            return (old & 0xFFFF_FFFFL) | v32 << 32;
        }
    }

    /** Reading the ISR acknowledges it: the bits clear and INTA# drops. */
    private final class IsrStatus implements BusDevice {
        @Override
        public long read(long offset, int size) {
            int v;
            synchronized (VirtioPciDevice.this) {
                v = isr;
                isr = 0;
            }
            config.setIntx(false);
            return v;
        }

        @Override public void write(long offset, int size, long value) { }
    }

    private final class DeviceConfig implements BusDevice {
        @Override
        public long read(long offset, int size) {
            if (offset + size > device.configSize()) return 0;
            synchronized (VirtioPciDevice.this) {
                return device.readConfig((int) offset, size);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset + size > device.configSize()) return;
            synchronized (VirtioPciDevice.this) {
                device.writeConfig((int) offset, size, value);
            }
        }
    }

    /** A write at queue N's slot (whatever the value) means "queue N has new buffers". */
    private final class Notify implements BusDevice {
        @Override public long read(long offset, int size) { return 0; }

        @Override
        public void write(long offset, int size, long value) {
            notifiedByBus.incrementAndGet();
            worker.queueNotified((int) (offset / NOTIFY_MULTIPLIER));
        }
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) b[at + i] = (byte) (v >>> (8 * i));
    }
}
