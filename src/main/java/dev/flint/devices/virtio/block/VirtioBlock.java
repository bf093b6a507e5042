package dev.flint.devices.virtio.block;

import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import dev.flint.devices.ratelimit.RateLimiter;
import dev.flint.devices.virtio.ChainView;
import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.MalformedRequestException;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.GuestMemoryException;
import dev.flint.machine.InterruptController;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Logger;

/**
 * virtio-blk over a raw image: one request queue; reads, writes, flush and GET_ID. Data moves directly
 * between the image file and guest RAM (views of guest memory handed to the FileChannel), never through
 * a host copy. WRITE_ZEROES writes zeroes through the file (it never unmaps, and says so in its
 * configuration); DISCARD is not offered.
 *
 * <p>A request is: a 16-byte header the device reads (type, reserved, sector), data, and a status byte
 * the device writes last. Anything malformed completes with IOERR, never with an exception.
 */
public final class VirtioBlock implements VirtioDevice {
    private static final Logger LOG = Logger.getLogger(VirtioBlock.class.getName());

    public static final int TYPE = 2;
    public static final int QUEUE_SIZE = 256;
    static final long F_SEG_MAX = 1L << 2, F_RO = 1L << 5, F_BLK_SIZE = 1L << 6, F_FLUSH = 1L << 9,
            F_WRITE_ZEROES = 1L << 14;
    static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_WRITE_ZEROES = 13;
    /** One range of a WRITE_ZEROES request: sector, number of sectors, flags (bit 0: may unmap). */
    static final int ZEROES_RANGE = 16;
    /** Bounded so one request keeps the I/O thread (and a reset waiting for it) busy for a short while only. */
    static final int MAX_WRITE_ZEROES_SECTORS = 1 << 16;
    static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final int HEADER = 16, ID_BYTES = 20;
    /** Data descriptors per request: the queue size less the header and status descriptors. */
    static final int SEG_MAX = QUEUE_SIZE - 2;
    /** Up to write_zeroes_may_unmap and its padding; the topology, discard and queue fields read as 0. */
    private static final int CONFIG_SIZE = 60;
    private static final int MAX_TRANSFER_CHUNK = 1 << 30;

    private final DiskImage image;
    private final GuestMemory memory;
    private final byte[] serial;
    private final RateLimiter limiter;
    private boolean hostErrorLogged;

    public VirtioBlock(DiskImage image, GuestMemory memory, String serial) {
        this(image, memory, serial, new RateLimiter(RateLimit.NONE));
    }

    /** @param limiter every request costs one op, reads and writes their data bytes too (Firecracker's accounting) */
    public VirtioBlock(DiskImage image, GuestMemory memory, String serial, RateLimiter limiter) {
        this.image = image;
        this.memory = memory;
        this.limiter = limiter;
        byte[] s = serial.getBytes(StandardCharsets.UTF_8);
        this.serial = java.util.Arrays.copyOf(s, Math.min(s.length, ID_BYTES));
    }

    /**
     * The one call the machine builder needs: opens and locks {@code drive} (a one-line
     * {@link DiskImageException} if it cannot) and returns the PCI function to add to the host bridge.
     * Closing the returned device stops its I/O thread and closes the image.
     */
    public static VirtioPciDevice pciDevice(DriveConfig drive, GuestMemory memory, InterruptController irq) {
        DiskImage image = DiskImage.open(drive);
        String name = drive.path().getFileName() == null ? "disk" : drive.path().getFileName().toString();
        return new VirtioPciDevice(new VirtioBlock(image, memory, name, new RateLimiter(drive.rateLimit())), memory, irq);
    }

    @Override public int type() { return TYPE; }
    @Override public String name() { return "virtio-blk"; }
    @Override public String metricsGroup() { return "block"; }
    @Override public int pciClass() { return 0x018000; } // mass storage, other
    @Override public int queueCount() { return 1; }
    @Override public int maxQueueSize() { return QUEUE_SIZE; }
    @Override public int configSize() { return CONFIG_SIZE; }

    @Override public boolean offersEventIdx() { return true; }

    /**
     * Requests per batch: the first ones' completions reach the driver, which refills those slots, while the
     * I/O thread serves the next batch (Linux keeps its iodepth's requests on the ring). Small enough that a
     * driver at iodepth 32 overlaps with the device, large enough that the interrupt and the batch's
     * submission are shared by many requests.
     */
    static final int BATCH = Integer.getInteger("flint.blk.batch", 16);

    @Override public int batchLimit(int queue) { return BATCH; }

    @Override
    public long features() {
        return F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (image.readOnly() ? F_RO : F_WRITE_ZEROES);
    }

    @Override
    public long readConfig(int offset, int size) {
        byte[] cfg = new byte[CONFIG_SIZE];
        ByteBuffer b = ByteBuffer.wrap(cfg).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, image.sectors());
        b.putInt(12, SEG_MAX);
        b.putInt(20, DiskImage.SECTOR);
        b.putInt(48, MAX_WRITE_ZEROES_SECTORS);
        b.putInt(52, 1); // max_write_zeroes_seg; write_zeroes_may_unmap (56) stays 0
        return VirtioDevice.littleEndian(cfg, offset, size);
    }

    /** One op per request; reads and writes also cost their data bytes. Malformed requests cost an op only. */
    @Override
    public long throttle(int queue, DescriptorChain chain) {
        if (!limiter.limits()) return 0;
        return limiter.consume(1, dataBytes(chain));
    }

    /** The data a read or write request moves (0 for any other, or for one too malformed to tell). */
    private long dataBytes(DescriptorChain chain) {
        List<Buffer> in = chain.readable();
        long inLength = DescriptorChain.totalLength(in);
        if (inLength < HEADER) return 0;
        byte[] type = new byte[4];
        try {
            gather(DescriptorChain.range(in, 0, 4), type);
        } catch (GuestMemoryException e) {
            return 0; // handle() reports it
        }
        int t = ByteBuffer.wrap(type).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (t == T_IN) return Math.max(0, DescriptorChain.totalLength(chain.writable()) - 1);
        if (t == T_OUT) return inLength - HEADER;
        return 0;
    }

    /** Snapshot: the rate limiter (its buckets as last set, and their tokens). */
    @Override
    public void saveState(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(1);
        limiter.save(out);
    }

    @Override
    public void restoreState(dev.flint.machine.state.StateReader.Section in) {
        VirtioDevice.checkStateVersion(name(), in.getInt(), 1);
        limiter.restore(in);
        in.end();
    }

    /**
     * {@code PATCH /drives}: replaces or removes the buckets named (null keeps one), as Firecracker does. Any
     * thread; the caller then has the queue looked at again ({@link VirtioPciDevice#requeueAll()}).
     */
    public void updateRateLimit(BucketConfig bandwidth, BucketConfig ops) {
        limiter.update(bandwidth, ops);
    }

    @Override
    public int handle(int queue, DescriptorChain chain) {
        scratch.set(chain.head(), chain.buffers());
        if (deferCommonLayout(scratch) == DEFERRED) return DEFERRED;
        List<Buffer> in = chain.readable(), out = chain.writable();
        long outLength = DescriptorChain.totalLength(out);
        if (outLength == 0) throw new MalformedRequestException("block request without a status byte");
        // The usual layout (Linux's): the status byte is a descriptor of its own, the header another. Those
        // cases take views and direct reads; anything else is cut up by DescriptorChain.range.
        Buffer last = out.getLast();
        boolean ownStatus = last.length() == 1;
        Buffer status = ownStatus ? last : DescriptorChain.range(out, outLength - 1, 1).getFirst();
        List<Buffer> dataOut = ownStatus ? out.subList(0, out.size() - 1) : DescriptorChain.range(out, 0, outLength - 1);
        try {
            int written = 1;
            int result;
            if (DescriptorChain.totalLength(in) < HEADER) {
                result = S_IOERR;
            } else {
                Buffer first = in.getFirst();
                int type;
                long sector;
                if (first.length() >= HEADER) {
                    type = memory.readInt(first.address());
                    sector = memory.readLong(first.address() + 8);
                } else {
                    byte[] header = new byte[HEADER];
                    gather(DescriptorChain.range(in, 0, HEADER), header);
                    ByteBuffer h = ByteBuffer.wrap(header).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    type = h.getInt(0);
                    sector = h.getLong(8);
                }
                List<Buffer> dataIn = first.length() == HEADER ? in.subList(1, in.size())
                        : DescriptorChain.range(in, HEADER, DescriptorChain.totalLength(in) - HEADER);
                switch (type) {
                    case T_IN -> {
                        // Data the device would have to read in a read request means the directions are wrong.
                        if (dataIn.isEmpty() && defer(chain.head(), status.address(), dataOut, sector, false)) return DEFERRED;
                        result = dataIn.isEmpty() ? transfer(dataOut, sector, false) : S_IOERR;
                        if (result == S_OK) {
                            written += (int) Math.min(DescriptorChain.totalLength(dataOut), Integer.MAX_VALUE - 1);
                            readCount.increment();
                            readBytes.add(DescriptorChain.totalLength(dataOut));
                        }
                    }
                    case T_OUT -> {
                        if (!image.readOnly() && dataOut.isEmpty() && defer(chain.head(), status.address(), dataIn, sector, true)) {
                            return DEFERRED;
                        }
                        result = image.readOnly() || !dataOut.isEmpty() ? S_IOERR : transfer(dataIn, sector, true);
                        if (result == S_OK) {
                            writeCount.increment();
                            writeBytes.add(DescriptorChain.totalLength(dataIn));
                        }
                    }
                    case T_FLUSH -> {
                        submitBatch(); // the writes before it in this batch are done before the flush
                        result = flush();
                        if (result == S_OK) flushCount.increment();
                    }
                    case T_WRITE_ZEROES -> {
                        submitBatch();
                        result = image.readOnly() ? S_IOERR : writeZeroes(dataIn);
                    }
                    case T_GET_ID -> {
                        int n = (int) Math.min(DescriptorChain.totalLength(dataOut), ID_BYTES);
                        byte[] id = java.util.Arrays.copyOf(serial, n); // NUL-padded when shorter
                        scatter(id, DescriptorChain.range(dataOut, 0, n));
                        written += n;
                        result = S_OK;
                    }
                    default -> result = S_UNSUPP;
                }
            }
            if (result != S_OK) failures.increment();
            memory.writeByte(status.address(), (byte) result);
            return written;
        } catch (GuestMemoryException e) {
            tryWriteStatus(status, S_IOERR);
            throw e;
        }
    }

    /** Firecracker's block metric names, cumulative. */
    @Override
    public Map<String, Long> counters() {
        return Map.of("read_count", readCount.sum(), "read_bytes", readBytes.sum(), "write_count", writeCount.sum(),
                "write_bytes", writeBytes.sum(), "flush_count", flushCount.sum(), "invalid_reqs_count", failures.sum(),
                "rate_limiter_throttled_events", limiter.throttledEvents(), "rate_limiter_event_count", limiter.wakeEvents());
    }

    private final LongAdder readCount = new LongAdder(), readBytes = new LongAdder(), writeCount = new LongAdder(),
            writeBytes = new LongAdder(), flushCount = new LongAdder(), failures = new LongAdder();

    // ---- batched reads and writes: one slot per deferred request, arrays reused for every batch ----

    private final int[] slotHead = new int[QUEUE_SIZE];
    private final long[] slotStatus = new long[QUEUE_SIZE], slotBytes = new long[QUEUE_SIZE];
    private final boolean[] slotWrite = new boolean[QUEUE_SIZE], slotFailed = new boolean[QUEUE_SIZE];
    private int slots;
    private final IoBatch.Outcome outcome = (slot, ok) -> slotFailed[slot] |= !ok;

    /**
     * Queues a read or write into the image's batch and returns true, or returns false when the request
     * must be served synchronously instead (a bad range, which {@link #transfer} answers; buffers outside
     * RAM, which it reports; more pieces than a batch holds). Every buffer is checked before any is queued,
     * so a request is either wholly in the batch or not at all.
     */
    private boolean defer(int head, long statusAddress, List<Buffer> buffers, long sector, boolean write) {
        scratch.set(head, buffers);
        return defer(statusAddress, scratch, 0, buffers.size(), sector, write);
    }

    /** Where {@link #handle}'s requests and sub-lists are copied for {@link #defer} (I/O thread only). */
    private final ChainView scratch = new ChainView();

    /**
     * {@link #defer} of the buffers [{@code from}, {@code to}) of {@code chain}, walked by index (no iterator, no
     * sub-list, no record).
     */
    private boolean defer(long statusAddress, ChainView chain, int from, int to, long sector, boolean write) {
        long length = 0;
        for (int i = from; i < to; i++) length += chain.length(i);
        if (length % DiskImage.SECTOR != 0 || sector < 0 || sector > image.sectors()
                || length / DiskImage.SECTOR > image.sectors() - sector) {
            return false;
        }
        if (slots == QUEUE_SIZE || !memory.isRam(statusAddress, 1)) return false;
        for (int i = from; i < to; i++) {
            if (!memory.isRam(chain.address(i), chain.length(i)) || chain.length(i) > MAX_TRANSFER_CHUNK) return false;
        }
        int pieces = to - from;
        IoBatch batch = image.batch();
        if (!batch.fits(pieces)) submitBatch();
        if (!batch.fits(pieces)) return false;
        int slot = slots++;
        slotHead[slot] = chain.head();
        slotStatus[slot] = statusAddress;
        slotBytes[slot] = length;
        slotWrite[slot] = write;
        slotFailed[slot] = false;
        long position = sector * DiskImage.SECTOR;
        for (int i = from; i < to; i++) {
            long bytes = chain.length(i);
            if (bytes == 0) continue;
            batch.add(slot, memory.segment(), memory.deviceAccess(chain.address(i), bytes), bytes, position, write);
            position += bytes;
        }
        return true;
    }

    /**
     * The transport's allocation-free path: the common layout ({@link #deferCommonLayout}) served from the walk's
     * arrays. Everything else, and every request while a rate limit is set (the limiter must see each chain first),
     * goes to {@link #handle}.
     */
    @Override
    public int serveInPlace(int queue, ChainView chain) {
        if (limiter.limits()) return DECLINED;
        return deferCommonLayout(chain) == DEFERRED ? DEFERRED : DECLINED;
    }

    /**
     * Linux's layout, the common case: a 16-byte header descriptor, the data, a 1-byte status descriptor,
     * a read or a write the batch can take. Served by index, without the sub-lists {@link #handle}'s general
     * path builds; returns {@link #DEFERRED}, or 0 when the general path must look at the request (any other
     * layout or type, a read-only image, a range or buffer it refuses, a header outside RAM).
     */
    private int deferCommonLayout(ChainView chain) {
        int n = chain.count();
        if (n < 3) return 0;
        if (chain.writable(0) || chain.length(0) != HEADER || !chain.writable(n - 1) || chain.length(n - 1) != 1) return 0;
        long header = chain.address(0);
        int type;
        long sector;
        try {
            type = memory.readInt(header);
            sector = memory.readLong(header + 8);
        } catch (GuestMemoryException e) {
            return 0; // the general path reports it
        }
        // The walk keeps device-readable buffers before writable ones: the first data buffer decides a read's
        // direction (all writable after it), the last one a write's (all readable before it).
        if (type == T_IN && chain.writable(1)) {
            return defer(chain.address(n - 1), chain, 1, n - 1, sector, false) ? DEFERRED : 0;
        }
        if (type == T_OUT && !image.readOnly() && !chain.writable(n - 2)) {
            return defer(chain.address(n - 1), chain, 1, n - 1, sector, true) ? DEFERRED : 0;
        }
        return 0;
    }

    /** Performs the queued I/O (the outcomes land in the slots, which {@link #finishBatch} reports). */
    private void submitBatch() {
        if (slots > 0) image.batch().submit(outcome);
    }

    @Override
    public void finishBatch(int queue, Used used) {
        if (slots == 0) return;
        submitBatch();
        int n = slots;
        slots = 0;
        for (int slot = 0; slot < n; slot++) {
            boolean ok = !slotFailed[slot];
            if (ok && slotWrite[slot]) {
                writeCount.increment();
                writeBytes.add(slotBytes[slot]);
            } else if (ok) {
                readCount.increment();
                readBytes.add(slotBytes[slot]);
            } else {
                failures.increment();
            }
            int written = 1 + (ok && !slotWrite[slot] ? (int) Math.min(slotBytes[slot], Integer.MAX_VALUE - 1) : 0);
            try {
                memory.writeByte(slotStatus[slot], (byte) (ok ? S_OK : S_IOERR));
            } catch (GuestMemoryException e) {
                written = 0; // the status byte is outside RAM: the driver gets the used entry only
            }
            used.used(slotHead[slot], written);
        }
    }

    /** Moves whole sectors between the image and guest buffers; the range must lie inside the disk. */
    private int transfer(List<Buffer> buffers, long sector, boolean toImage) {
        long length = DescriptorChain.totalLength(buffers);
        if (length % DiskImage.SECTOR != 0 || sector < 0 || sector > image.sectors()
                || length / DiskImage.SECTOR > image.sectors() - sector) {
            return S_IOERR;
        }
        long position = sector * DiskImage.SECTOR;
        try {
            for (Buffer b : buffers) {
                for (long done = 0; done < b.length(); ) {
                    int chunk = (int) Math.min(b.length() - done, MAX_TRANSFER_CHUNK);
                    ByteBuffer view = memory.slice(b.address() + done, chunk).asByteBuffer();
                    if (toImage) image.write(view, position);
                    else image.read(view, position);
                    position += chunk;
                    done += chunk;
                }
            }
            return S_OK;
        } catch (IOException e) {
            logHostError(e);
            return S_IOERR;
        }
    }

    /** One range (max_write_zeroes_seg is 1); reserved flag bits are UNSUPP as the specification asks. */
    private int writeZeroes(List<Buffer> data) {
        if (DescriptorChain.totalLength(data) != ZEROES_RANGE) return S_IOERR;
        byte[] range = new byte[ZEROES_RANGE];
        gather(data, range);
        ByteBuffer r = ByteBuffer.wrap(range).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long sector = r.getLong(0), count = r.getInt(8) & 0xFFFF_FFFFL;
        int flags = r.getInt(12);
        if ((flags & ~1) != 0) return S_UNSUPP;
        if (count > MAX_WRITE_ZEROES_SECTORS || sector < 0 || sector > image.sectors() || count > image.sectors() - sector) {
            return S_IOERR;
        }
        try {
            image.writeZeroes(sector * DiskImage.SECTOR, count * DiskImage.SECTOR);
            return S_OK;
        } catch (IOException e) {
            logHostError(e);
            return S_IOERR;
        }
    }

    private int flush() {
        try {
            image.flush();
            return S_OK;
        } catch (IOException e) {
            logHostError(e);
            return S_IOERR;
        }
    }

    private void logHostError(IOException e) {
        if (!hostErrorLogged) LOG.warning("virtio-blk: image I/O failed: " + e.getMessage() + " (reported to the guest as IOERR)");
        hostErrorLogged = true;
    }

    private void gather(List<Buffer> buffers, byte[] dst) {
        int at = 0;
        for (Buffer b : buffers) {
            memory.read(b.address(), dst, at, (int) b.length());
            at += (int) b.length();
        }
    }

    private void scatter(byte[] src, List<Buffer> buffers) {
        int at = 0;
        for (Buffer b : buffers) {
            memory.write(b.address(), src, at, (int) b.length());
            at += (int) b.length();
        }
    }

    private void tryWriteStatus(Buffer status, int value) {
        try {
            memory.writeByte(status.address(), (byte) value);
        } catch (GuestMemoryException ignored) {
            // the status byte itself is outside RAM: the driver gets nothing back but the used entry
        }
    }

    @Override
    public void close() {
        image.close();
    }
}
