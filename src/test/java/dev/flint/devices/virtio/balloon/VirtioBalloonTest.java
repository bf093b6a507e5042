package dev.flint.devices.virtio.balloon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import dev.flint.testing.Await;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The balloon driven on its rings from the host, the way Linux's virtio_balloon drives it: inflate and
 * deflate page lists, the statistics buffer the device holds between polls, the target and the driver's
 * {@code actual} in the configuration, and what a hostile driver sends instead.
 */
class VirtioBalloonTest {
    private static final long MEMORY = 16L << 20;
    private static final long LIST = 0x10000, STATS_BUF = 0x18000, DATA = 0x200000;
    private static final Duration WAIT = Duration.ofSeconds(60);

    private final RecordingInterrupts irq = new RecordingInterrupts();
    private GuestMemory memory;
    private VirtioBalloon balloon;
    private VirtioPciDevice pci;
    private VirtioTestDriver driver;
    private VirtioTestDriver.Queue inflate, deflate, stats;
    private Bus mmio;

    private void start(BalloonConfig config) {
        Bus io = new Bus("io");
        mmio = new Bus("mmio");
        memory = GuestMemory.allocate(MEMORY);
        balloon = VirtioBalloon.create(config, memory, irq);
        pci = balloon.pciDevice();
        int slot = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq).addDevice(pci);
        driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
        driver.enableMsix(4);
        driver.negotiate(-1L);
        driver.common(0x10, 2, 0); // configuration changes on vector 0
        inflate = driver.setupQueue(VirtioBalloon.INFLATE, 64, 0x1000, 1);
        deflate = driver.setupQueue(VirtioBalloon.DEFLATE, 64, 0x4000, 2);
        if (config.statsEnabled()) stats = driver.setupQueue(VirtioBalloon.STATS, 64, 0x7000, 3);
        driver.driverOk();
    }

    @AfterEach
    void stop() {
        if (pci != null) pci.close();
        if (memory != null) memory.close();
    }

    /** Writes the frame numbers at LIST and submits them as one chain on {@code q}; waits for it to be used. */
    private void pages(VirtioTestDriver.Queue q, long... pfns) {
        for (int i = 0; i < pfns.length; i++) memory.writeInt(LIST + 4L * i, (int) pfns[i]);
        q.submit(List.of(Segment.in(LIST, 4L * pfns.length)));
    }

    private void fill(long gpa, long bytes) {
        byte[] ones = new byte[(int) bytes];
        java.util.Arrays.fill(ones, (byte) 0x5A);
        memory.write(gpa, ones);
    }

    private boolean zero(long gpa, long bytes) {
        for (long a = gpa; a < gpa + bytes; a += 8) if (memory.readLong(a) != 0) return false;
        return true;
    }

    @Test
    void offersOnlyWhatIsConfigured() {
        start(new BalloonConfig(0, false, 0));
        assertEquals(0x1040 + 5, driver.cfgRead(0x02, 2), "virtio-balloon's PCI device id");
        assertEquals(0, driver.offeredFeatures() & 0xFFFF_FFFFL & ~(1L << 28), "no balloon features without deflate_on_oom and stats");
        assertEquals(2, driver.common(0x12, 2), "no statistics queue when statistics are off");
        pci.close();
        memory.close();
        start(new BalloonConfig(0, true, 5));
        long offered = driver.offeredFeatures();
        assertEquals(VirtioBalloon.F_STATS_VQ | VirtioBalloon.F_DEFLATE_ON_OOM, offered & 0xFF);
        assertEquals(3, driver.common(0x12, 2));
    }

    @Test
    void inflatedPagesGoBackToTheHostAndDeflateIsCounted() {
        start(new BalloonConfig(4, false, 0));
        assertEquals(4 * 256, driver.deviceConfig(0, 4), "num_pages: the configured target in 4 KiB pages");
        fill(DATA, 64 * 4096);
        long first = DATA >> 12;
        // Unordered, with a duplicate, in two runs: 0..31 and 40..47 (32..39 are left alone).
        long[] pfns = new long[41];
        for (int i = 0; i < 32; i++) pfns[i] = first + 31 - i;
        for (int i = 0; i < 8; i++) pfns[32 + i] = first + 40 + i;
        pfns[40] = first + 3;
        pages(inflate, pfns);
        assertTrue(zero(DATA, 32 * 4096) && zero(DATA + 40 * 4096, 8 * 4096), "inflated pages read as zero: their host memory was freed");
        assertTrue(!zero(DATA + 32 * 4096, 8 * 4096) && !zero(DATA + 48 * 4096, 16 * 4096), "other pages keep their contents");
        assertEquals(40, balloon.counters().get("inflated_pages"));
        assertEquals(40L * 4096, balloon.counters().get("discarded_bytes"));

        mmioWriteActual(40);
        assertEquals(40, balloon.actualPages(), "the driver's actual");
        assertEquals(40, driver.deviceConfig(4, 4));
        assertEquals(4 * 256, driver.deviceConfig(0, 4), "the driver cannot move the target");

        pages(deflate, first, first + 1);
        assertEquals(2, balloon.counters().get("deflated_pages"));
        fill(DATA, 4096); // the guest uses a deflated page again
        assertTrue(!zero(DATA, 4096));
    }

    @Test
    void aNewTargetRaisesTheConfigurationInterrupt() {
        start(new BalloonConfig(0, false, 0));
        int before = configMsis();
        balloon.setTarget(8);
        Await.until("a configuration-change MSI", WAIT, () -> configMsis() == before + 1);
        assertEquals(8 * 256, driver.deviceConfig(0, 4));
        assertEquals(8, balloon.targetMib());
        assertThrows(BalloonException.class, () -> balloon.setTarget(-1));
        driver.common(0x14, 1, 0); // the driver resets the device: it is inactive until set up again
        assertThrows(BalloonException.class, () -> balloon.setTarget(1));
    }

    private int configMsis() {
        synchronized (irq) {
            return (int) irq.msis.stream().filter(m -> m.data() == 0x40).count();
        }
    }

    /** As Linux writes {@code actual}: one 32-bit write at offset 4 of the device configuration. */
    private void mmioWriteActual(long pages) {
        mmio.write(driver.region(4) + 4, 4, pages);
    }

    @Test
    void hostileFrameNumbersAreCountedAndSkippedAndTheRestIsDone() {
        start(new BalloonConfig(0, false, 0));
        fill(DATA, 2 * 4096);
        long ok = DATA >> 12;
        long beyondRam = MEMORY >> 12, hole = 0xC0000, last = 0xFFFF_FFFFL;
        pages(inflate, beyondRam, ok, hole, last, ok + 1);
        assertTrue(zero(DATA, 2 * 4096), "the frames inside RAM were returned");
        assertEquals(3, balloon.counters().get("bad_pfns"), "the three outside RAM were counted");
        assertEquals(2, balloon.counters().get("inflated_pages"));
        assertEquals(0, pci.guestErrors(), "bad frame numbers are not a broken chain");

        fill(DATA, 4096);
        memory.writeInt(LIST, (int) ok);
        long errors = pci.guestErrors();
        // A device-writable buffer, a length that is not whole frame numbers, a list outside RAM, an oversized list.
        inflate.submit(List.of(Segment.out(LIST, 4)));
        inflate.submit(List.of(Segment.in(LIST, 6)));
        inflate.submit(List.of(Segment.in(MEMORY - 2, 4)));
        inflate.submit(List.of(Segment.in(LIST, 4L * (VirtioBalloon.MAX_PFNS_PER_CHAIN + 1))));
        inflate.submit(List.of(Segment.in(LIST, 0xFFFF_FFF0L)));
        assertEquals(errors + 5, pci.guestErrors(), "each is one guest error");
        assertTrue(!zero(DATA, 4096), "and none of them returned a page");
        assertEquals(0, driver.status() & 0x40, "the device keeps serving");
        // A number straddling two buffers is still one number.
        inflate.submit(List.of(Segment.in(LIST, 1), Segment.in(LIST + 1, 3)));
        assertTrue(zero(DATA, 4096));
    }

    @Test
    void theStatisticsBufferIsHeldUntilThePollAndReadWhenItComesBack() throws Exception {
        start(new BalloonConfig(0, false, 1));
        // Linux's first buffer: total and free memory, and a tag from a newer kernel than Flint knows.
        writeStat(0, 5, 256L << 20);
        writeStat(1, 4, 200L << 20);
        writeStat(2, 99, 7);
        stats.publish(stats.addChain(List.of(Segment.in(STATS_BUF, 30))));
        long passes = pci.ioPasses();
        stats.kick();
        Await.until("the I/O thread served the kick", WAIT, () -> pci.ioPasses() > passes + 1);
        BalloonStatistics s = balloon.statistics();
        assertEquals(256L << 20, s.guest().get("total_memory"));
        assertEquals(200L << 20, s.guest().get("free_memory"));
        assertEquals(2, s.guest().size(), "an unknown tag is ignored");
        assertEquals(1, balloon.counters().get("unknown_stat_tags"));
        // The poll (1 s) gives the buffer back; the driver refills it with fresh figures.
        assertTrue(stats.awaitUsed(1, 60_000), "the buffer came back at the poll");
        writeStat(1, 4, 100L << 20);
        stats.publish(stats.addChain(List.of(Segment.in(STATS_BUF, 20))));
        stats.kick();
        Await.until("fresh figures", WAIT, () -> balloon.statistics().guest().get("free_memory") == 100L << 20);

        assertThrows(BalloonException.class, () -> balloon.setStatsPollingInterval(0), "statistics cannot be switched off");
        // A new interval asks for figures at once.
        int used = stats.usedIndex();
        balloon.setStatsPollingInterval(3600);
        Await.until("an immediate request", WAIT, () -> stats.usedIndex() == ((used + 1) & 0xFFFF));
        assertEquals(3600, balloon.statsPollingIntervalS());

        // Hostile: a writable statistics buffer and a ragged one are returned as guest errors, not held.
        long errors = pci.guestErrors();
        stats.publish(stats.addChain(List.of(Segment.out(STATS_BUF, 10))));
        stats.publish(stats.addChain(List.of(Segment.in(STATS_BUF, 11))));
        stats.kick();
        Await.until("both returned", WAIT, () -> stats.usedIndex() == ((used + 3) & 0xFFFF));
        assertEquals(errors + 2, pci.guestErrors());
        assertEquals(2, balloon.counters().get("stats_update_fails"));
        // A driver that sends two good buffers gets the first back at once and the device holds the second.
        long updates = balloon.counters().get("stats_updates_count");
        stats.publish(stats.addChain(List.of(Segment.in(STATS_BUF, 10))));
        stats.publish(stats.addChain(List.of(Segment.in(STATS_BUF, 10))));
        stats.kick();
        Await.until("both read", WAIT, () -> balloon.counters().get("stats_updates_count") == updates + 2);
        Await.until("the first of two returned", WAIT, () -> stats.usedIndex() == ((used + 4) & 0xFFFF));
        memory.writeInt(LIST, 0);
        deflate.submit(List.of(Segment.in(LIST, 4))); // a later pass of the I/O thread
        assertEquals((used + 4) & 0xFFFF, stats.usedIndex(), "the second stays with the device");
    }

    /**
     * Random and mutated chains on all three queues, seeded (the seed is printed; {@code -Dflint.balloon.fuzz.seed}
     * repeats a run). Frame numbers point into a victim area, outside RAM, or anywhere in 32 bits; a canary
     * area no valid frame number names must keep its bytes, and the device must never fail or ask for a reset.
     */
    @Test
    void fuzzedChainsNeverStopTheDeviceOrTouchOtherPages() {
        long seed = Long.getLong("flint.balloon.fuzz.seed", System.nanoTime());
        int chains = Integer.getInteger("flint.virtio.fuzz.chains", 2000);
        System.out.println("balloon fuzz: seed " + seed + " (-Dflint.balloon.fuzz.seed=" + seed + " repeats it)");
        java.util.Random random = new java.util.Random(seed);
        start(new BalloonConfig(0, true, 3600));
        long victim = 4L << 20, canary = 12L << 20, canaryBytes = 4L << 20;
        fill(canary, canaryBytes);
        try (var severe = new dev.flint.devices.virtio.SevereLogCounter()) {
            for (int i = 0; i < chains; i++) {
                int queue = random.nextInt(3);
                int n = random.nextInt(8) == 0 ? random.nextInt(5000) : random.nextInt(300);
                for (int k = 0; k < Math.min(n, 4096); k++) {
                    long pfn = switch (random.nextInt(4)) {
                        case 0 -> (victim >> 12) + random.nextInt((int) ((canary - victim) >> 12));
                        case 1 -> (MEMORY >> 12) + random.nextInt(1 << 20);
                        case 2 -> 0xC0000 + random.nextInt(0x40000);
                        default -> random.nextInt() & 0xFFFF_FFFFL;
                    };
                    if (pfn << 12 < canary + canaryBytes && pfn << 12 >= canary) pfn = victim >> 12; // spare the canary
                    if (pfn << 12 < victim) pfn = MEMORY >> 12; // and the rings
                    memory.writeInt(LIST + 4L * k, (int) pfn);
                }
                long bytes = random.nextInt(10) == 0 ? random.nextInt(40000) : 4L * n + (random.nextInt(8) == 0 ? random.nextInt(4) : 0);
                long address = random.nextInt(25) == 0 ? MEMORY - random.nextInt(64) : LIST;
                boolean writable = random.nextInt(15) == 0;
                List<Segment> chain = random.nextBoolean() || bytes < 2
                        ? List.of(new Segment(address, bytes, writable))
                        : List.of(new Segment(address, bytes / 2, false), new Segment(address + bytes / 2, bytes - bytes / 2, writable));
                if (queue == VirtioBalloon.STATS) {
                    long handled = balloon.counters().get("stats_updates_count") + balloon.counters().get("stats_update_fails");
                    stats.publish(stats.addChain(chain));
                    stats.kick();
                    Await.until("statistics chain " + i + " handled", WAIT, () ->
                            balloon.counters().get("stats_updates_count") + balloon.counters().get("stats_update_fails") == handled + 1);
                } else {
                    (queue == VirtioBalloon.INFLATE ? inflate : deflate).submit(chain);
                }
            }
            assertEquals(0, severe.count(), "no chain made the device fail");
        }
        assertEquals(0, driver.status() & 0x40, "the device never asked for a reset");
        byte[] kept = new byte[(int) canaryBytes];
        memory.read(canary, kept, 0, kept.length);
        for (byte b : kept) if (b != 0x5A) throw new AssertionError("a page no valid frame number named was discarded");
        System.out.printf("balloon fuzz: %d chains, %d guest errors, %d bad frame numbers, %d pages returned%n", chains,
                pci.guestErrors(), balloon.counters().get("bad_pfns"), balloon.counters().get("inflated_pages"));
        // Still serving: a clean inflate works afterwards.
        fill(victim, 4096);
        pages(inflate, victim >> 12);
        assertTrue(zero(victim, 4096));
    }

    @Test
    void statisticsAreOffWithoutAnInterval() {
        start(new BalloonConfig(0, false, 0));
        assertNull(balloon.statistics());
        assertThrows(BalloonException.class, () -> balloon.setStatsPollingInterval(1));
    }

    private void writeStat(int index, int tag, long value) {
        memory.writeShort(STATS_BUF + 10L * index, (short) tag);
        memory.writeLong(STATS_BUF + 10L * index + 2, value);
    }
}
