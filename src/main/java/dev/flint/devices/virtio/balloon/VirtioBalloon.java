package dev.flint.devices.virtio.balloon;

import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.MalformedRequestException;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.sys.ErrnoException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * virtio-balloon (device type 5): the host sets a target ({@code num_pages}) and the guest's driver gives
 * that many 4 KiB pages to the balloon, listing their frame numbers on the inflate queue; Flint returns
 * those pages' host memory with madvise, so the VMM's RSS drops. Pages listed on the deflate queue are the
 * guest's again: it simply uses them (they read as zeroes), so Flint does not offer MUST_TELL_HOST and
 * has nothing to do but count them. The driver reports how many pages it holds in {@code actual}.
 *
 * <p>Offered only as configured: STATS_VQ when a polling interval is set (a third queue, on which the
 * driver leaves one buffer of statistics that Flint returns every interval to get a fresh one), and
 * DEFLATE_ON_OOM when {@code deflate_on_oom} is. No free page hinting or reporting, no page poisoning.
 *
 * <p>Every frame number comes from the guest and is checked: one outside RAM is counted ({@code bad_pfns}),
 * logged (a line per chain, the first few chains), and skipped; a chain that is not a whole number of frame
 * numbers or statistics, has device-writable buffers, or is oversized is a guest error and nothing of it
 * is done.
 */
public final class VirtioBalloon implements VirtioDevice {
    private static final Logger LOG = Logger.getLogger(VirtioBalloon.class.getName());

    public static final int TYPE = 5;
    public static final int INFLATE = 0, DEFLATE = 1, STATS = 2;
    public static final long F_STATS_VQ = 1L << 1, F_DEFLATE_ON_OOM = 1L << 2;
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    public static final long PAGES_PER_MIB = (1L << 20) / PAGE_SIZE;
    static final int QUEUE_SIZE = 256;
    /** Linux sends at most 256 frame numbers a chain; a bound keeps a hostile chain's cost small. */
    static final int MAX_PFNS_PER_CHAIN = 4096;
    /** One statistic: le16 tag, le64 value, packed. */
    static final int STAT_BYTES = 10;
    /** Linux knows 16 tags; this leaves room for many more without letting a chain cost much. */
    static final int MAX_STATS_BYTES = 4096;
    private static final int LOGGED_BAD_CHAINS = 10;

    /** Firecracker's statistic names by virtio tag (0-9 in the virtio spec, 10-15 Linux's additions). */
    static final List<String> STAT_NAMES = List.of("swap_in", "swap_out", "major_faults", "minor_faults",
            "free_memory", "total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
            "hugetlb_failures", "oom_kill", "alloc_stall", "async_scan", "direct_scan", "async_reclaim", "direct_reclaim");

    private final GuestMemory memory;
    private final boolean deflateOnOom;
    private final BalloonMetrics metrics = new BalloonMetrics();
    private final AtomicLong badChainsLogged = new AtomicLong();
    private volatile VirtioPciDevice pci;
    private volatile long targetPages;
    /** What the driver wrote to {@code actual}: the pages it says the balloon holds. */
    private volatile long actualPages;
    private volatile boolean active;

    // Statistics: guarded by this.
    private int statsIntervalS;
    private final long[] stats = new long[STAT_NAMES.size()];
    private final boolean[] statsSeen = new boolean[STAT_NAMES.size()];
    /** The driver's statistics buffer while Flint holds it, or -1. */
    private int heldStats = -1;
    /** Buffers to give back at the next pass of the stats queue. */
    private final ArrayDeque<Integer> statsToReturn = new ArrayDeque<>();
    private final ScheduledExecutorService timer;
    private ScheduledFuture<?> poll;

    VirtioBalloon(BalloonConfig config, GuestMemory memory) {
        this.memory = memory;
        this.deflateOnOom = config.deflateOnOom();
        this.targetPages = config.amountMib() * PAGES_PER_MIB;
        this.statsIntervalS = config.statsPollingIntervalS();
        if (config.statsEnabled()) {
            ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1,
                    r -> Thread.ofPlatform().name("virtio-balloon-stats").daemon().unstarted(r));
            t.setRemoveOnCancelPolicy(true);
            timer = t;
        } else {
            timer = null;
        }
    }

    /** The one call the machine builder needs: the balloon, plugged into its PCI function. */
    public static VirtioBalloon create(BalloonConfig config, GuestMemory memory, InterruptController irq) {
        VirtioBalloon balloon = new VirtioBalloon(config, memory);
        VirtioPciDevice device;
        try {
            device = new VirtioPciDevice(balloon, memory, irq);
        } catch (RuntimeException e) {
            balloon.close();
            throw e;
        }
        balloon.pci = device;
        return balloon;
    }

    /** The PCI function to add to the host bridge. */
    public VirtioPciDevice pciDevice() { return pci; }

    @Override public int type() { return TYPE; }
    @Override public String name() { return "virtio-balloon"; }
    @Override public String metricsGroup() { return "balloon"; }
    @Override public int pciClass() { return 0x058000; } // memory controller, other
    @Override public long features() { return (timer != null ? F_STATS_VQ : 0) | (deflateOnOom ? F_DEFLATE_ON_OOM : 0); }
    /** The spec's layout: no statistics queue at all when statistics are off. */
    @Override public int queueCount() { return timer != null ? 3 : 2; }
    @Override public int maxQueueSize() { return QUEUE_SIZE; }
    @Override public int configSize() { return 8; }

    /** virtio_balloon_config: le32 num_pages (the target), le32 actual (the driver's). */
    @Override
    public long readConfig(int offset, int size) {
        long target = targetPages, actual = actualPages;
        byte[] cfg = new byte[8];
        for (int i = 0; i < 4; i++) {
            cfg[i] = (byte) (target >>> (8 * i));
            cfg[4 + i] = (byte) (actual >>> (8 * i));
        }
        return VirtioDevice.littleEndian(cfg, offset, size);
    }

    /** Only {@code actual} is the driver's to write; bytes of it may come one at a time. */
    @Override
    public void writeConfig(int offset, int size, long value) {
        long actual = actualPages;
        for (int i = 0; i < size; i++) {
            int at = offset + i - 4;
            if (at < 0 || at > 3) continue;
            actual = (actual & ~(0xFFL << (8 * at))) | ((value >>> (8 * i)) & 0xFF) << (8 * at);
        }
        actualPages = actual;
    }

    @Override
    public void activate(long features) {
        active = true;
        synchronized (this) {
            if (timer != null && poll == null) schedule();
        }
    }

    @Override
    public int handle(int queue, DescriptorChain chain) {
        return switch (queue) {
            case INFLATE -> { inflate(chain); yield 0; }
            case DEFLATE -> { deflate(chain); yield 0; }
            case STATS -> statistics(chain);
            default -> 0;
        };
    }

    /** The guest gives these pages to the balloon: their host memory goes back to the host. */
    private void inflate(DescriptorChain chain) {
        metrics.inflateCount.increment();
        int[] pfns = frameNumbers(chain, "inflate");
        long[] sorted = new long[pfns.length];
        for (int i = 0; i < pfns.length; i++) sorted[i] = pfns[i] & 0xFFFF_FFFFL;
        Arrays.sort(sorted);
        long bad = 0, firstBad = -1, runStart = -1, runEnd = -1;
        for (long pfn : sorted) {
            long gpa = pfn << PAGE_SHIFT;
            if (!memory.isRam(gpa, PAGE_SIZE)) {
                if (bad++ == 0) firstBad = pfn;
                continue;
            }
            if (gpa == runEnd - PAGE_SIZE) continue; // the same frame twice
            if (gpa != runEnd) { // not contiguous: return the run so far
                discard(runStart, runEnd);
                runStart = gpa;
            }
            runEnd = gpa + PAGE_SIZE;
        }
        discard(runStart, runEnd);
        if (bad > 0) {
            metrics.badPfns.add(bad);
            long n = badChainsLogged.incrementAndGet();
            if (n <= LOGGED_BAD_CHAINS) {
                LOG.warning(String.format("virtio-balloon: guest error: %d page frame number(s) outside RAM in an inflate "
                        + "request (first 0x%x); ignored%s", bad, firstBad, n == LOGGED_BAD_CHAINS ? " (further ones not logged)" : ""));
            }
        }
    }

    /** Returns [start, end) of guest RAM (one region: a run of frames never crosses the MMIO hole) to the host. */
    private void discard(long start, long end) {
        if (start < 0 || end <= start) return;
        try {
            memory.discard(start, end - start);
            metrics.inflatedPages.add((end - start) >>> PAGE_SHIFT);
            if (memory.canDiscard()) metrics.discardedBytes.add(end - start);
        } catch (ErrnoException e) {
            metrics.madviseFails.increment();
            LOG.warning("virtio-balloon: cannot return guest memory to the host: " + e.getMessage());
        }
    }

    /** The guest takes pages back; they are zero pages to the host until it touches them. */
    private void deflate(DescriptorChain chain) {
        metrics.deflateCount.increment();
        metrics.deflatedPages.add(frameNumbers(chain, "deflate").length);
    }

    /** A chain of le32 frame numbers, read as one stream (a number may straddle two buffers). */
    private int[] frameNumbers(DescriptorChain chain, String what) {
        if (!chain.writable().isEmpty()) throw new MalformedRequestException("balloon " + what + " chain with device-writable buffers");
        byte[] bytes = readAll(chain.readable(), (long) MAX_PFNS_PER_CHAIN * 4, 4, what + " page list");
        int[] pfns = new int[bytes.length / 4];
        for (int i = 0; i < pfns.length; i++) pfns[i] = (int) VirtioDevice.littleEndian(bytes, 4 * i, 4);
        return pfns;
    }

    /** The driver's statistics buffer: its figures are the latest, and Flint keeps it until the next poll. */
    private int statistics(DescriptorChain chain) {
        byte[] bytes;
        try {
            if (!chain.writable().isEmpty()) throw new MalformedRequestException("balloon statistics chain with device-writable buffers");
            bytes = readAll(chain.readable(), MAX_STATS_BYTES, STAT_BYTES, "statistics");
        } catch (MalformedRequestException | dev.flint.machine.GuestMemoryException e) {
            metrics.statsUpdateFails.increment();
            throw e;
        }
        synchronized (this) {
            for (int at = 0; at < bytes.length; at += STAT_BYTES) {
                int tag = (int) VirtioDevice.littleEndian(bytes, at, 2);
                long value = VirtioDevice.littleEndian(bytes, at + 2, 8);
                if (tag >= stats.length) { // a tag newer than Flint: the spec says to ignore it
                    metrics.unknownStatTags.increment();
                    continue;
                }
                stats[tag] = value;
                statsSeen[tag] = true;
            }
            if (heldStats >= 0) statsToReturn.add(heldStats); // a driver that sent a second buffer gets the first back
            heldStats = chain.head();
        }
        metrics.statsUpdates.increment();
        return KEEP;
    }

    private byte[] readAll(List<Buffer> buffers, long max, int unit, String what) {
        long total = DescriptorChain.totalLength(buffers);
        if (total % unit != 0 || total > max) {
            throw new MalformedRequestException("balloon " + what + " of " + total + " bytes");
        }
        byte[] bytes = new byte[(int) total];
        int at = 0;
        for (Buffer b : buffers) {
            memory.read(b.address(), bytes, at, (int) b.length());
            at += (int) b.length();
        }
        return bytes;
    }

    @Override
    public synchronized int releasedChain(int queue) {
        if (queue != STATS || statsToReturn.isEmpty()) return -1;
        return statsToReturn.poll();
    }

    /** Asks the driver for fresh statistics: its buffer goes back, and it sends a new one. */
    private void requestStatistics() {
        synchronized (this) {
            if (heldStats < 0) {
                metrics.missedStatsRequests.increment(); // the driver has not sent (or has not refilled) its buffer yet
                return;
            }
            statsToReturn.add(heldStats);
            heldStats = -1;
        }
        pci.queueNotifier().queueNotified(STATS);
    }

    private void schedule() {
        long period = statsIntervalS;
        poll = timer.scheduleAtFixedRate(this::requestStatistics, period, period, TimeUnit.SECONDS);
    }

    // ---- the host's side (API threads) ----

    /**
     * Sets the target to {@code amountMib} and tells the driver with a configuration-change interrupt. As
     * in Firecracker, only once the guest's driver has started the device.
     */
    public void setTarget(long amountMib) {
        BalloonConfig.checkAmount(amountMib);
        if (!active) throw new BalloonException("the balloon device is not active: the guest has no virtio_balloon driver running");
        targetPages = amountMib * PAGES_PER_MIB;
        pci.configChanged();
    }

    public long targetMib() { return targetPages / PAGES_PER_MIB; }

    public boolean deflateOnOom() { return deflateOnOom; }

    public synchronized int statsPollingIntervalS() { return statsIntervalS; }

    /**
     * A new polling interval, with a request for statistics right away. Statistics cannot be switched on
     * or off once the machine is built (the queue exists or it does not).
     */
    public void setStatsPollingInterval(int seconds) {
        synchronized (this) {
            if (seconds == statsIntervalS) return;
            if (seconds <= 0 || statsIntervalS == 0 || seconds > BalloonConfig.MAX_INTERVAL_S) {
                throw new BalloonException("statistics cannot be enabled or disabled after boot (the interval must stay "
                        + (statsIntervalS == 0 ? "0" : "between 1 and " + BalloonConfig.MAX_INTERVAL_S) + ")");
            }
            statsIntervalS = seconds;
            if (poll != null) {
                poll.cancel(false);
                schedule();
            }
        }
        if (active) requestStatistics();
    }

    /** The target, what the driver holds, and the latest statistics; null when statistics are off. */
    public BalloonStatistics statistics() {
        Map<String, Long> guest = new TreeMap<>();
        synchronized (this) {
            if (statsIntervalS == 0) return null;
            for (int tag = 0; tag < stats.length; tag++) if (statsSeen[tag]) guest.put(STAT_NAMES.get(tag), stats[tag]);
        }
        return new BalloonStatistics(targetPages, actualPages, guest);
    }

    /** The pages the driver says the balloon holds ({@code actual}). */
    public long actualPages() { return actualPages; }

    public boolean active() { return active; }

    @Override
    public Map<String, Long> counters() { return metrics.snapshot(); }

    /**
     * Snapshot: the target, what the driver said it holds, the polling interval, the latest statistics and
     * the statistics buffer the device holds (its head; it stays on the restored rings, owned by the device).
     * The pages the guest gave back need nothing: they read as zeros from the memory file.
     */
    @Override
    public void saveState(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(1);
        synchronized (this) {
            out.putLong(targetPages).putLong(actualPages).putInt(statsIntervalS).putLongs(stats).putInt(heldStats);
            int seen = 0;
            for (int tag = 0; tag < statsSeen.length; tag++) if (statsSeen[tag]) seen |= 1 << tag;
            out.putInt(seen);
            out.putInt(statsToReturn.size());
            for (int head : statsToReturn) out.putInt(head);
        }
    }

    @Override
    public void restoreState(dev.flint.machine.state.StateReader.Section in) {
        VirtioDevice.checkStateVersion(name(), in.getInt(), 1);
        synchronized (this) {
            long target = in.getLong(), actual = in.getLong();
            int interval = in.getInt();
            if ((interval == 0) != (timer == null) || interval < 0 || interval > BalloonConfig.MAX_INTERVAL_S
                    || target < 0 || target > 0xFFFF_FFFFL || actual < 0 || actual > 0xFFFF_FFFFL) {
                throw new dev.flint.machine.state.SnapshotException(name() + ": the snapshot's balloon state does not fit this device");
            }
            targetPages = target;
            actualPages = actual;
            statsIntervalS = interval;
            in.readLongs(stats);
            heldStats = in.getInt();
            int seen = in.getInt();
            for (int tag = 0; tag < statsSeen.length; tag++) statsSeen[tag] = (seen & 1 << tag) != 0;
            statsToReturn.clear();
            int returning = in.getInt();
            if (returning < 0 || returning > QUEUE_SIZE) {
                throw new dev.flint.machine.state.SnapshotException(name() + ": the snapshot returns " + returning + " statistics buffers");
            }
            for (int i = 0; i < returning; i++) {
                int head = in.getInt();
                if (head < 0 || head >= QUEUE_SIZE) throw new dev.flint.machine.state.SnapshotException(name() + ": statistics buffer out of range");
                statsToReturn.add(head);
            }
            if (heldStats < -1 || heldStats >= QUEUE_SIZE) {
                throw new dev.flint.machine.state.SnapshotException(name() + ": the snapshot's statistics buffer is out of range");
            }
        }
        in.end();
    }

    /** The driver went away: the balloon's pages are the guest's again, and a held statistics buffer is forgotten. */
    @Override
    public void reset() {
        active = false;
        actualPages = 0;
        synchronized (this) {
            heldStats = -1;
            statsToReturn.clear();
        }
    }

    @Override
    public void close() {
        if (timer != null) timer.shutdownNow();
    }
}
