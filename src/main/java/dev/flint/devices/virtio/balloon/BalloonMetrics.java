package dev.flint.devices.virtio.balloon;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** The balloon's counters, under Firecracker's balloon metric names where it has one. */
final class BalloonMetrics {
    final LongAdder inflateCount = new LongAdder(), deflateCount = new LongAdder(), statsUpdates = new LongAdder(),
            statsUpdateFails = new LongAdder(), inflatedPages = new LongAdder(), discardedBytes = new LongAdder(),
            deflatedPages = new LongAdder(), badPfns = new LongAdder(), madviseFails = new LongAdder(),
            unknownStatTags = new LongAdder(), missedStatsRequests = new LongAdder();

    Map<String, Long> snapshot() {
        return Map.ofEntries(
                Map.entry("inflate_count", inflateCount.sum()), Map.entry("deflate_count", deflateCount.sum()),
                Map.entry("stats_updates_count", statsUpdates.sum()), Map.entry("stats_update_fails", statsUpdateFails.sum()),
                Map.entry("inflated_pages", inflatedPages.sum()), Map.entry("discarded_bytes", discardedBytes.sum()),
                Map.entry("deflated_pages", deflatedPages.sum()), Map.entry("bad_pfns", badPfns.sum()),
                Map.entry("event_fails", madviseFails.sum()), Map.entry("unknown_stat_tags", unknownStatTags.sum()),
                Map.entry("missed_stats_requests", missedStatsRequests.sum()));
    }
}
