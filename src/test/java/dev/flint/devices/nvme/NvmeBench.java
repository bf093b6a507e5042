package dev.flint.devices.nvme;

import dev.flint.devices.virtio.block.DriveConfig;

import java.nio.file.Path;
import java.util.List;

/**
 * The NVMe half of bench/virtio-blk.sh (called by {@code VirtioBlockBench}): the controller driven from
 * the host on an I/O queue pair with {@code depth} commands in flight ({@link PipelinedNvmeDriver}), each
 * slot with its own buffer and PRP list, written once up front as a driver's would be.
 */
public final class NvmeBench {
    private static final long MIB = 1 << 20, LISTS = 0x200000, BUFFERS = 0x400000, SHADOW = 0x1E0000;

    /** {@code -Dflint.bench.driver=lockstep}: a batch per doorbell, the next after all of it completed (rounds 1 and 2). */
    private static final boolean LOCKSTEP = "lockstep".equals(System.getProperty("flint.bench.driver"));

    /** Process CPU time of the last {@link #run}'s timed section. */
    public static long lastCpuNanos;
    /** Interrupts and SQ tail doorbells in the last {@link #run}'s timed section. */
    public static long lastInterrupts, lastDoorbells;
    /** The driver's halts in the last pipelined run, and those that lasted past their polling window. */
    public static long lastHalts, lastSlept;
    /** CPU time of the controller's I/O thread in the last {@link #run}'s timed section. */
    public static long lastIoThreadNanos;
    /** The I/O thread's sleeps and its io_uring workers' CPU in the last pipelined run's timed section. */
    public static dev.flint.devices.virtio.block.IoThreadCounts lastCounts = new dev.flint.devices.virtio.block.IoThreadCounts(0, 0);

    private NvmeBench() {}

    /** Seconds to serve every operation (byte offsets and lengths, multiples of 4 KiB) on {@code image}. */
    public static double run(Path image, long[] offsets, int[] lengths, boolean[] writes, int depth) {
        int max = 0;
        for (int l : lengths) max = Math.max(max, l);
        long ram = (BUFFERS + (long) depth * max + MIB + 0xFFFFF) & ~0xFFFFFL;
        try (NvmeRig rig = new NvmeRig(List.of(new DriveConfig(image, false, DriveConfig.Interface.NVME, null)), 1, ram).start()) {
            rig.driver.sleepOn = rig.irq; // the driver sleeps until the controller interrupts, as a halted vCPU does
            for (int j = 0; j < depth; j++) { // slot j: buffer BUFFERS + j * max, list at LISTS + j * 4 KiB
                long buffer = BUFFERS + (long) j * max;
                for (int p = 1; p < max / 4096; p++) rig.memory.writeLong(LISTS + 4096L * j + 8L * (p - 1), buffer + 4096L * p);
            }
            NvmeTestDriver.Queue q = rig.queue;
            rig.memory.slice(BUFFERS, (long) depth * max).fill((byte) 0); // the guest's buffers exist before it reads into them
            if (!LOCKSTEP) {
                // Doorbell Buffer Config, as Linux sets it up when the controller offers it (OACS bit 8)
                rig.memory.slice(SHADOW, 2 * 4096).fill((byte) 0);
                NvmeTestDriver.expectSuccess(rig.driver.admin.run(NvmeTestDriver.Command.of(NvmeSpec.ADMIN_DOORBELL_BUFFER_CONFIG)
                        .prp1(SHADOW).prp2(SHADOW + 4096)));
                PipelinedNvmeDriver driver = new PipelinedNvmeDriver(rig, q, depth, BUFFERS, max, LISTS, SHADOW, SHADOW + 4096);
                long ioThread = dev.flint.devices.virtio.block.VirtioBlockBench.threadId("nvme-io");
                long ioCpu = dev.flint.devices.virtio.block.VirtioBlockBench.threadCpuNanos(ioThread);
                var counts = dev.flint.devices.virtio.block.IoThreadCounts.of("nvme-io");
                long cpu = dev.flint.devices.virtio.block.VirtioBlockBench.processCpuNanos(), signals = rig.irq.signals(), start = System.nanoTime();
                driver.run(offsets, lengths, writes, 30_000_000_000L);
                double seconds = (System.nanoTime() - start) / 1e9;
                lastCpuNanos = dev.flint.devices.virtio.block.VirtioBlockBench.processCpuNanos() - cpu;
                lastInterrupts = rig.irq.signals() - signals;
                lastDoorbells = driver.registerWrites;
                lastHalts = driver.halting().halts();
                lastSlept = driver.halting().slept();
                lastIoThreadNanos = dev.flint.devices.virtio.block.VirtioBlockBench.threadCpuNanos(ioThread) - ioCpu;
                lastCounts = dev.flint.devices.virtio.block.IoThreadCounts.of("nvme-io").since(counts);
                return seconds;
            }
            long cpu = dev.flint.devices.virtio.block.VirtioBlockBench.processCpuNanos(), start = System.nanoTime();
            for (int i = 0; i < offsets.length; i += depth) {
                int n = Math.min(depth, offsets.length - i);
                for (int j = 0; j < n; j++) {
                    int length = lengths[i + j];
                    long buffer = BUFFERS + (long) j * max;
                    long prp2 = length <= 4096 ? 0 : length <= 8192 ? buffer + 4096 : LISTS + 4096L * j;
                    q.put(NvmeTestDriver.Command.of(writes[i + j] ? NvmeSpec.IO_WRITE : NvmeSpec.IO_READ).nsid(1)
                            .prp1(buffer).prp2(prp2).lba(offsets[i + j] / 512, length / 512));
                }
                q.ring();
                for (int j = 0; j < n; j++) {
                    NvmeTestDriver.Completion c = q.take(30_000);
                    if (c == null || c.status() != 0) throw new IllegalStateException("NVMe command failed: " + c);
                }
                q.ringHead(); // once per batch, as Linux does once per interrupt's completions
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            lastCpuNanos = dev.flint.devices.virtio.block.VirtioBlockBench.processCpuNanos() - cpu;
            lastInterrupts = 0;
            lastIoThreadNanos = 0;
            lastCounts = new dev.flint.devices.virtio.block.IoThreadCounts(0, 0);
            lastDoorbells = 0;
            lastHalts = 0;
            lastSlept = 0;
            return seconds;
        }
    }
}
