package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.machine.GuestMemory;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Benchmark (not a test; run by bench/virtio-blk.sh): the virtio-blk model driven from the host side on
 * its rings, and the NVMe controller on an I/O queue pair ({@code NvmeBench}), against the same operations
 * done directly with a FileChannel on the same file. Both run
 * from the page cache (the image was just written), so the ratio is the device model's overhead:
 * ring walking, request parsing, the I/O-thread hand-off and the interrupt path.
 *
 * <p>The drivers ({@link PipelinedBlockDriver}, {@code PipelinedNvmeDriver}) keep the workload's queue depth in
 * flight and refill the slots each interrupt frees, as a guest kernel at that iodepth does; see docs/block-path.md.
 *
 * <p>Arguments: [image MiB (256)] [runs (7)] [workloads, comma-separated (all)]. Prints per workload: requests and
 * MiB per second (medians) and the median of the per-run ratios to the host; the process's CPU per request; the
 * device I/O thread's own CPU per request; how often that thread slept and the CPU of the io_uring kernel workers it
 * handed reads to ({@link IoThreadCounts}); interrupts and notifications per request, and the JIT's time; and a second
 * host reference beside the first: the same ops into the queue depth's worth of buffers in memory allocated as guest
 * RAM ({@code runHostLikeGuest}), with both devices' ratios to it and its own ratio to the one-buffer loop
 * (docs/block-path.md, Round 13).
 */
public final class VirtioBlockBench {
    private static final long MIB = 1 << 20;
    private static final long HEADERS = 0x20000, STATUSES = 0x28000, BUFFERS = 0x100000;

    private record Op(long offset, int length, boolean write) { }

    private record Workload(String name, List<Op> ops, int queueDepth) { }

    public static void main(String[] args) throws IOException {
        long imageMib = args.length > 0 ? Long.parseLong(args[0]) : 256;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        long size = imageMib * MIB;
        List<Workload> workloads = List.of(
                new Workload("4k-random-read", random(size, 4096, 50_000, false), 32),
                new Workload("4k-random-write", random(size, 4096, 50_000, true), 32),
                new Workload("1m-seq-read", sequential(size, (int) MIB, false), 8),
                new Workload("1m-seq-write", sequential(size, (int) MIB, true), 8));
        if (args.length > 2) { // a comma-separated subset by name (profiling one workload)
            List<String> only = List.of(args[2].split(","));
            workloads = workloads.stream().filter(w -> only.contains(w.name)).toList();
        }
        // One image per size of write that filled it (see FILL_PROPERTY): the page cache holds each in folios of that size.
        java.util.Map<Integer, Path> images = new java.util.TreeMap<>();
        try {
            for (Workload w : workloads) {
                int piece = fillPiece(w);
                if (!images.containsKey(piece)) {
                    Path image = Files.createTempFile("flint-virtio-bench", ".img");
                    images.put(piece, image);
                    fill(image, size, piece);
                }
            }
            System.out.printf("virtio-blk and NVMe vs host FileChannel, %d MiB image (page cache, written in pieces of %s), median of %d runs"
                            + " (a run of a sequential workload: %d passes over the image)%n",
                    imageMib, fillPerRequest() ? "each workload's request size" : fillPiece(workloads.getFirst()) + " bytes", runs, sequentialPasses(size));
            System.out.println("(the driver, standing for the guest, waits for each interrupt with " + dev.flint.devices.HaltPolling.fromProperty() + ")");
            // Discarded rounds first, until the JIT has settled (at least three, then until a round adds under 20 ms of
            // compilation, at most 8): the compiler threads' CPU is in the process's CPU time, and the device paths, being
            // more code than the raw loop, keep compiling for longer; one round left seconds of compilation inside the
            // timed runs. (The counter moves when a compilation finishes: a round can look quiet while C2 is busy.)
            for (int round = 0; round < 8; round++) {
                long jit = jitMillis();
                for (Workload w : workloads) {
                    Path image = images.get(fillPiece(w));
                    runDevice(image, w);
                    runNvme(image, w);
                    runHost(image, w);
                    runHostLikeGuest(image, w);
                }
                if (round >= 2 && jitMillis() - jit < 20) break;
            }
            for (Workload w : workloads) {
                Path image = images.get(fillPiece(w));
                double[] device = new double[runs], nvme = new double[runs], host = new double[runs], hostQd = new double[runs];
                double[] deviceRatio = new double[runs], nvmeRatio = new double[runs];
                double[] deviceCpu = new double[runs], nvmeCpu = new double[runs], hostCpu = new double[runs], hostQdCpu = new double[runs];
                double[] deviceQdRatio = new double[runs], nvmeQdRatio = new double[runs], qdOverHost = new double[runs];
                double[] deviceCpuRatio = new double[runs], nvmeCpuRatio = new double[runs];
                long[] interrupts = new long[2], notifications = new long[2], halts = new long[2], slept = new long[2];
                double[] deviceIo = new double[runs], nvmeIo = new double[runs];
                double[] deviceSleeps = new double[runs], nvmeSleeps = new double[runs], deviceWorkers = new double[runs], nvmeWorkers = new double[runs];
                long jit = jitMillis();
                for (int run = 0; run < runs; run++) { // rotate the order: writes leave dirty pages behind
                    for (int k = 0; k < 4; k++) {
                        switch ((run + k) % 4) {
                            case 0 -> device[run] = runDevice(image, w);
                            case 1 -> nvme[run] = runNvme(image, w);
                            case 2 -> host[run] = runHost(image, w);
                            default -> hostQd[run] = runHostLikeGuest(image, w);
                        }
                        double used = timedCpuNanos / 1e9;
                        if ((run + k) % 4 == 0) deviceIo[run] = timedIoThreadNanos / 1e9;
                        if ((run + k) % 4 == 1) nvmeIo[run] = timedIoThreadNanos / 1e9;
                        if ((run + k) % 4 == 0) {
                            deviceSleeps[run] = timedCounts.sleeps();
                            deviceWorkers[run] = timedCounts.workerNanos() / 1e9;
                        }
                        if ((run + k) % 4 == 1) {
                            nvmeSleeps[run] = timedCounts.sleeps();
                            nvmeWorkers[run] = timedCounts.workerNanos() / 1e9;
                        }
                        if ((run + k) % 4 < 2) {
                            interrupts[(run + k) % 4] += timedInterrupts;
                            notifications[(run + k) % 4] += timedNotifications;
                            halts[(run + k) % 4] += timedHalts;
                            slept[(run + k) % 4] += timedSlept;
                        }
                        switch ((run + k) % 4) {
                            case 0 -> deviceCpu[run] = used;
                            case 1 -> nvmeCpu[run] = used;
                            case 2 -> hostCpu[run] = used;
                            default -> hostQdCpu[run] = used;
                        }
                    }
                    // Each run's three measurements are seconds apart: their ratio shrugs off the load swings
                    // of a shared machine that make absolute figures jump between runs.
                    deviceRatio[run] = host[run] / device[run];
                    nvmeRatio[run] = host[run] / nvme[run];
                    deviceCpuRatio[run] = hostCpu[run] / deviceCpu[run];
                    nvmeCpuRatio[run] = hostCpu[run] / nvmeCpu[run];
                    deviceQdRatio[run] = hostQd[run] / device[run];
                    nvmeQdRatio[run] = hostQd[run] / nvme[run];
                    qdOverHost[run] = host[run] / hostQd[run];
                }
                long bytes = w.ops.stream().mapToLong(Op::length).sum();
                int ops = w.ops.size();
                System.out.printf("%-16s QD%-2d virtio-blk %s (%s) | nvme %s (%s) | host %s%n", w.name, w.queueDepth,
                        rate(ops, bytes, median(device)), spread(deviceRatio), rate(ops, bytes, median(nvme)), spread(nvmeRatio),
                        rate(ops, bytes, median(host)));
                System.out.printf("%-21s CPU per request: virtio-blk %6.2f µs (%.2f) | nvme %6.2f µs (%.2f) | host %6.2f µs%n", "",
                        median(deviceCpu) * 1e6 / ops, median(deviceCpuRatio), median(nvmeCpu) * 1e6 / ops, median(nvmeCpuRatio),
                        median(hostCpu) * 1e6 / ops);
                System.out.printf("%-21s I/O thread CPU per request: virtio-blk %6.2f µs | nvme %6.2f µs (the device's own thread: with the driver on another core, the pace it can keep)%n", "",
                        median(deviceIo) * 1e6 / ops, median(nvmeIo) * 1e6 / ops);
                System.out.printf("%-21s per request: virtio-blk %.3f I/O thread sleeps, %6.2f µs io_uring workers' CPU | nvme %.3f sleeps, %6.2f µs workers' CPU (medians; /proc/self/task)%n", "",
                        median(deviceSleeps) / ops, median(deviceWorkers) * 1e6 / ops, median(nvmeSleeps) / ops, median(nvmeWorkers) * 1e6 / ops);
                double perRun = (double) ops * runs;
                System.out.printf("%-21s per request: virtio-blk %.3f interrupts, %.3f kicks | nvme %.3f interrupts, %.3f doorbell register writes | JIT %d ms over all runs%n", "",
                        interrupts[0] / perRun, notifications[0] / perRun, interrupts[1] / perRun, notifications[1] / perRun, jitMillis() - jit);
                System.out.printf("%-21s raw like the guest (QD%d buffers of the request size in memory allocated as guest RAM) %s, CPU %6.2f µs per request:"
                                + " virtio-blk %s | nvme %s of it | it runs at %s of the one-buffer raw%n", "", w.queueDepth,
                        rate(ops, bytes, median(hostQd)), median(hostQdCpu) * 1e6 / ops, spread(deviceQdRatio), spread(nvmeQdRatio), spread(qdOverHost));
                System.out.printf("%-21s the driver's halts per request: virtio-blk %.3f (%.0f%% slept past the polling window) | nvme %.3f (%.0f%% slept)%n", "",
                        halts[0] / perRun, 100.0 * slept[0] / Math.max(1, halts[0]), halts[1] / perRun, 100.0 * slept[1] / Math.max(1, halts[1]));
            }
            System.out.println("(in parentheses: the median over runs of each run's ratio to the host's raw FileChannel, in brackets the"
                    + " quartiles of those ratios; block I/O: "
                    + System.getProperty(IoBatch.BACKEND_PROPERTY, "page cache first, io_uring for the rest") + ")");
            System.out.println("(CPU per request: the whole process's CPU time during the timed requests, every thread counted, median over runs; in parentheses the"
                    + " median of each run's host CPU over the device's: above 1, the device spends less CPU than the raw loop)");
        } finally {
            for (Path image : images.values()) Files.deleteIfExists(image);
        }
    }

    /**
     * The harness's driver: {@code pipelined} (the default) keeps {@code queueDepth} requests in flight and
     * refills the slots each interrupt frees, as a guest kernel at that iodepth does; {@code lockstep} (the
     * driver of rounds 1 and 2) publishes a batch, waits for all of it, then builds the next.
     */
    static final String DRIVER_PROPERTY = "flint.bench.driver";
    static final boolean LOCKSTEP = "lockstep".equals(System.getProperty(DRIVER_PROPERTY));

    /** Seconds for the device to serve all ops, {@code queueDepth} requests in flight. */
    private static double runDevice(Path image, Workload w) {
        if (LOCKSTEP) return runDeviceLockstep(image, w);
        int depth = w.queueDepth, length = w.ops.getFirst().length;
        boolean write = w.ops.getFirst().write;
        long[] sectors = new long[w.ops.size()];
        for (int i = 0; i < sectors.length; i++) {
            Op op = w.ops.get(i);
            if (op.length != length || op.write != write) throw new IllegalArgumentException("a workload is one kind of request");
            sectors[i] = op.offset / DiskImage.SECTOR;
        }
        long bufferBytes = (long) depth * length;
        try (BlockRig rig = new BlockRig(new DriveConfig(image, false), (BUFFERS + bufferBytes + MIB + 0xFFFFF) & ~0xFFFFFL)) {
            rig.start(true, Long.MAX_VALUE); // MSI-X and event-idx, as Linux negotiates them
            PipelinedBlockDriver driver = new PipelinedBlockDriver(rig, depth, HEADERS, STATUSES, BUFFERS, length);
            rig.memory.slice(BUFFERS, bufferBytes).fill((byte) 0); // the guest's buffers exist before it reads into them
            long ioThread = threadId("virtio-blk-io"), ioCpu = threadCpuNanos(ioThread);
            IoThreadCounts counts = IoThreadCounts.of("virtio-blk-io");
            long cpu = processCpuNanos(), signals = rig.irq.signals(), start = System.nanoTime();
            if (!driver.run(sectors, write, 30_000_000_000L)) throw new IllegalStateException("device asked for a reset");
            double seconds = (System.nanoTime() - start) / 1e9;
            timedCpuNanos = processCpuNanos() - cpu;
            timedIoThreadNanos = threadCpuNanos(ioThread) - ioCpu;
            timedCounts = IoThreadCounts.of("virtio-blk-io").since(counts);
            timedInterrupts = rig.irq.signals() - signals;
            timedNotifications = driver.notifications();
            timedHalts = driver.halting().halts();
            timedSlept = driver.halting().slept();
            return seconds;
        }
    }

    /** The lockstep driver: {@code queueDepth} requests per notification, the next batch after all of this one. */
    private static double runDeviceLockstep(Path image, Workload w) {
        int depth = w.queueDepth;
        long bufferBytes = (long) depth * w.ops.stream().mapToInt(Op::length).max().orElse(0);
        try (BlockRig rig = new BlockRig(new DriveConfig(image, false), (BUFFERS + bufferBytes + MIB + 0xFFFFF) & ~0xFFFFFL)) {
            rig.start(true); // MSI-X, as Linux uses; the driver sleeps until the device interrupts, as a halted vCPU does
            rig.driver.sleepOnInterrupts(rig.irq);
            VirtioTestDriver.Queue q = rig.queue;
            rig.memory.slice(BUFFERS, bufferBytes).fill((byte) 0); // the guest's buffers exist before it reads into them
            long cpu = processCpuNanos(), start = System.nanoTime();
            for (int i = 0; i < w.ops.size(); i += depth) {
                for (int j = 0; j < depth && i + j < w.ops.size(); j++) {
                    Op op = w.ops.get(i + j);
                    long header = HEADERS + 16L * j, status = STATUSES + j;
                    rig.memory.writeInt(header, op.write ? VirtioBlock.T_OUT : VirtioBlock.T_IN);
                    rig.memory.writeLong(header + 8, op.offset / DiskImage.SECTOR);
                    long buffer = BUFFERS + (long) j * op.length;
                    q.publish(q.addChain(List.of(Segment.in(header, 16), new Segment(buffer, op.length, !op.write),
                            Segment.out(status, 1))));
                }
                q.kick();
                if (!q.drain(30_000)) throw new IllegalStateException("device asked for a reset");
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            timedCpuNanos = processCpuNanos() - cpu;
            timedHalts = 0; // this driver sleeps on every wait, without polling
            timedSlept = 0;
            timedCounts = new IoThreadCounts(0, 0); // not measured for this driver
            return seconds;
        }
    }

    /** Seconds for the NVMe controller to serve all ops, {@code queueDepth} commands per doorbell. */
    private static double runNvme(Path image, Workload w) {
        int n = w.ops.size();
        long[] offsets = new long[n];
        int[] lengths = new int[n];
        boolean[] writes = new boolean[n];
        for (int i = 0; i < n; i++) {
            offsets[i] = w.ops.get(i).offset;
            lengths[i] = w.ops.get(i).length;
            writes[i] = w.ops.get(i).write;
        }
        double seconds = dev.flint.devices.nvme.NvmeBench.run(image, offsets, lengths, writes, w.queueDepth);
        timedCpuNanos = dev.flint.devices.nvme.NvmeBench.lastCpuNanos;
        timedIoThreadNanos = dev.flint.devices.nvme.NvmeBench.lastIoThreadNanos;
        timedCounts = dev.flint.devices.nvme.NvmeBench.lastCounts;
        timedInterrupts = dev.flint.devices.nvme.NvmeBench.lastInterrupts;
        timedNotifications = dev.flint.devices.nvme.NvmeBench.lastDoorbells;
        timedHalts = dev.flint.devices.nvme.NvmeBench.lastHalts;
        timedSlept = dev.flint.devices.nvme.NvmeBench.lastSlept;
        return seconds;
    }

    /** Seconds for the same ops straight on a FileChannel into a direct buffer. */
    private static double runHost(Path image, Workload w) throws IOException {
        int max = w.ops.stream().mapToInt(Op::length).max().orElse(0);
        return runHost(image, w, new ByteBuffer[] {ByteBuffer.allocateDirect(max)});
    }

    /**
     * Seconds for the same ops on a FileChannel into (or from) as many buffers as the device's driver keeps in flight,
     * each of the request's size, in turn, in memory allocated as guest RAM is ({@link GuestMemory#allocate}: page
     * aligned, advised onto huge pages unless {@code -Dflint.memory.hugepages=false}), fresh for each run and touched
     * before it, as the drivers' buffers are. The one-buffer loop above is the reference the bench has always printed;
     * this one does what the guest asks the device to do with the destination the device copies into: the same
     * footprint (8 MiB at 1 MiB QD8, 128 KiB at 4 KiB QD32) on the same kind of pages (docs/block-path.md, Round 13).
     */
    private static double runHostLikeGuest(Path image, Workload w) throws IOException {
        int length = w.ops.getFirst().length, depth = w.queueDepth;
        long bytes = (long) depth * length;
        try (GuestMemory memory = GuestMemory.allocate((bytes + 0x1FFFFF) & ~0x1FFFFFL)) {
            memory.slice(0, bytes).fill((byte) 0);
            ByteBuffer[] buffers = new ByteBuffer[depth];
            for (int j = 0; j < depth; j++) buffers[j] = memory.segment().asSlice((long) j * length, length).asByteBuffer();
            return runHost(image, w, buffers);
        }
    }

    /** Seconds for the ops on a FileChannel, request i into (or from) {@code buffers[i % buffers.length]}. */
    private static double runHost(Path image, Workload w, ByteBuffer[] buffers) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long cpu = processCpuNanos(), start = System.nanoTime();
            int i = 0;
            for (Op op : w.ops) {
                ByteBuffer buffer = buffers[i++ % buffers.length];
                buffer.clear().limit(op.length);
                long pos = op.offset;
                while (buffer.hasRemaining()) pos += op.write ? ch.write(buffer, pos) : ch.read(buffer, pos);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            timedCpuNanos = processCpuNanos() - cpu;
            return seconds;
        }
    }

    private static List<Op> random(long size, int length, int count, boolean write) {
        Random r = new Random(42);
        List<Op> ops = new ArrayList<>(count);
        for (int i = 0; i < count; i++) ops.add(new Op(r.nextLong(size / length) * length, length, write));
        return ops;
    }

    /**
     * Front to back over the image, as many passes as {@link #sequentialPasses} says: one pass of a 256 MiB image at
     * 1 MiB is 256 requests, about 12 ms at today's rates, so a run was mostly the fresh device's first batches (each
     * run builds its device, its I/O thread and the kernel workers that thread hands reads to) and any one-off stall of a few
     * hundred µs on a two-core host moved the run's ratio by several hundredths (docs/block-path.md, Round 14).
     */
    private static List<Op> sequential(long size, int length, boolean write) {
        List<Op> ops = new ArrayList<>();
        for (int pass = sequentialPasses(size); pass > 0; pass--) {
            for (long off = 0; off + length <= size; off += length) ops.add(new Op(off, length, write));
        }
        return ops;
    }

    /**
     * {@code -Dflint.bench.seq-passes=N}: passes over the image per run of a sequential workload. Default: enough to
     * move at least 2 GiB a run (8 passes of the default 256 MiB image; about 100 ms of 1 MiB reads, as long as a
     * 4 KiB workload's 50,000 requests take); 1 is how rounds 1-13 measured.
     */
    private static int sequentialPasses(long size) {
        long passes = Long.getLong("flint.bench.seq-passes", Math.max(1, (2048 * MIB + size - 1) / size));
        if (passes < 1 || passes > 1024) throw new IllegalArgumentException("flint.bench.seq-passes: 1 to 1024");
        return (int) passes;
    }

    /**
     * How the image is written before the workloads run. Unset or {@code request} (the default since Round 7): each
     * workload on an image of its own, written front to back in pieces of its own request size, as fio lays out a
     * job's file (fio 3.33 writes it with {@code write(2)} calls of the job's block size: 4,096 bytes for bs=4k,
     * 1 MiB for bs=1m; docs/block-path.md, Round 7). A number: every workload on one image written in pieces of that
     * many bytes ({@code -Dflint.bench.fill=1048576} is the one image of rounds 1 to 6, as {@code cp} leaves a copied
     * image). Why it matters: the kernel (ext4 with large folios, Linux 6.16 on) caches a file in folios as large as
     * the writes that filled it, and a 4 KiB write into a 1 MiB folio walks all 256 of the folio's buffer heads
     * ({@code ext4_block_write_begin}, {@code block_commit_write}): 8.5 µs of CPU on a quiet host instead of about
     * 1.8 µs into a 4 KiB folio, a walk bound by cache misses that hides what the device itself costs
     * (docs/block-path.md, Round 6). Reads and writes are still the same for the devices and the raw loop.
     */
    static final String FILL_PROPERTY = "flint.bench.fill";

    private static boolean fillPerRequest() {
        return "request".equals(System.getProperty(FILL_PROPERTY, "request"));
    }

    private static int fillPiece(Workload w) {
        return fillPerRequest() ? w.ops.getFirst().length : Integer.parseInt(System.getProperty(FILL_PROPERTY));
    }

    private static void fill(Path image, long bytes, int piece) throws IOException {
        if (piece <= 0 || bytes % piece != 0) throw new IllegalArgumentException(FILL_PROPERTY + " must divide the image size: " + piece);
        byte[] chunk = new byte[piece];
        Random r = new Random(1);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; done += chunk.length) {
                r.nextBytes(chunk);
                ch.write(ByteBuffer.wrap(chunk), done);
            }
        }
    }

    /**
     * CPU time of the whole process (every thread: the I/O threads, the kernel's io_uring workers, which
     * belong to the process, and the driving thread), from {@code clock_gettime(CLOCK_PROCESS_CPUTIME_ID)}
     * to the nanosecond: the management bean's figure comes from times(2) in 10 ms ticks, too coarse for
     * runs of a tenth of a second. Read around each run's timed section only, as its wall time is: setting
     * up and tearing down a rig (guest RAM, threads, the ring) is not a per-request cost.
     */
    /** The process CPU time the last run spent inside its timed section (set up and tear down excluded). */
    private static long timedCpuNanos;
    /** Interrupts the driver got and notifications (virtio kicks, SQ tail doorbells) it sent in the last device run's timed section. */
    private static long timedInterrupts, timedNotifications;
    /** The driver's halts in the last device run's timed section, and those that lasted past their polling window. */
    private static long timedHalts, timedSlept;
    /** CPU time of the device's own I/O thread in the last device run's timed section. */
    private static long timedIoThreadNanos;
    /** The I/O thread's sleeps and its io_uring kernel workers' CPU in the last device run's timed section. */
    private static IoThreadCounts timedCounts = new IoThreadCounts(0, 0);

    /** The id of the live thread called {@code name} (a device's I/O thread), or -1. */
    public static long threadId(String name) {
        for (Thread t : Thread.getAllStackTraces().keySet()) if (t.getName().equals(name) && t.isAlive()) return t.threadId();
        return -1;
    }

    /** That thread's CPU time so far, to the nanosecond (clock_gettime of the thread's clock), or 0. */
    public static long threadCpuNanos(long id) {
        return id < 0 ? 0 : Math.max(0, java.lang.management.ManagementFactory.getThreadMXBean().getThreadCpuTime(id));
    }

    /** Milliseconds the JIT compilers spent so far (their threads' CPU is in the process's CPU time). */
    private static long jitMillis() {
        var bean = java.lang.management.ManagementFactory.getCompilationMXBean();
        return bean != null && bean.isCompilationTimeMonitoringSupported() ? bean.getTotalCompilationTime() : -1;
    }

    public static long processCpuNanos() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment ts = arena.allocate(16, 8);
            int r = (int) CLOCK_GETTIME.invokeExact(CLOCK_PROCESS_CPUTIME_ID, ts);
            if (r != 0) throw new IllegalStateException("clock_gettime failed");
            return ts.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + ts.get(java.lang.foreign.ValueLayout.JAVA_LONG, 8);
        } catch (Throwable t) {
            throw t instanceof RuntimeException e ? e : new IllegalStateException(t);
        }
    }

    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    private static final java.lang.invoke.MethodHandle CLOCK_GETTIME = java.lang.foreign.Linker.nativeLinker().downcallHandle(
            java.lang.foreign.Linker.nativeLinker().defaultLookup().find("clock_gettime").orElseThrow(),
            java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.ADDRESS));

    /** Requests and bytes per second. */
    private static String rate(int ops, long bytes, double seconds) {
        return String.format("%8.0f req/s %9.1f MiB/s", ops / seconds, bytes / (double) MIB / seconds);
    }

    /** The median of {@code v} and, in brackets, its lower and upper quartiles: how far one run's ratio strays. */
    private static String spread(double[] v) {
        return String.format("%.2f [%.2f-%.2f]", median(v), quantile(v, 0.25), quantile(v, 0.75));
    }

    /** The {@code q} quantile of {@code v}, interpolated between the two nearest ranks. */
    private static double quantile(double[] v, double q) {
        double[] s = v.clone();
        Arrays.sort(s);
        double at = q * (s.length - 1);
        int lo = (int) Math.floor(at), hi = (int) Math.ceil(at);
        return s[lo] + (s[hi] - s[lo]) * (at - lo);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
