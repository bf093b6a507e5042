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
            discards = new LongAdder(), failed = new LongAdder(), events = new LongAdder(), admin = new LongAdder(),
            shadowDoorbells = new LongAdder();

    Map<String, Long> snapshot() {
        return Map.ofEntries(Map.entry("read_count", reads.sum()), Map.entry("read_bytes", readBytes.sum()),
                Map.entry("write_count", writes.sum()), Map.entry("write_bytes", writeBytes.sum()),
                Map.entry("flush_count", flushes.sum()), Map.entry("write_zeroes_count", writeZeroes.sum()),
                Map.entry("discard_count", discards.sum()), Map.entry("invalid_reqs_count", failed.sum()),
                Map.entry("async_events", events.sum()), Map.entry("admin_commands", admin.sum()),
                Map.entry("shadow_doorbell_configs", shadowDoorbells.sum()));
    }
}
