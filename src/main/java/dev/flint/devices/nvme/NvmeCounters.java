package dev.flint.devices.nvme;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a controller did, cumulative, in Firecracker's block metric names where they exist (the VMM
 * reports them under the group "nvme"). Written by the I/O thread, read by any.
 */
final class NvmeCounters {
    final LongAdder reads = new LongAdder(), readBytes = new LongAdder(), writes = new LongAdder(),
            writeBytes = new LongAdder(), flushes = new LongAdder(), writeZeroes = new LongAdder(),
            discards = new LongAdder(), failed = new LongAdder(), events = new LongAdder(), admin = new LongAdder();

    Map<String, Long> snapshot() {
        return Map.of("read_count", reads.sum(), "read_bytes", readBytes.sum(), "write_count", writes.sum(),
                "write_bytes", writeBytes.sum(), "flush_count", flushes.sum(), "write_zeroes_count", writeZeroes.sum(),
                "discard_count", discards.sum(), "invalid_reqs_count", failed.sum(), "async_events", events.sum(),
                "admin_commands", admin.sum());
    }
}
