package dev.flint.devices.virtio.vsock;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** The vsock device's counters, under Firecracker's vsock metric names where it has one. */
final class VsockMetrics {
    final LongAdder rxPackets = new LongAdder(), rxBytes = new LongAdder(), txPackets = new LongAdder(),
            txBytes = new LongAdder(), connsAdded = new LongAdder(), connsKilled = new LongAdder(),
            connsRemoved = new LongAdder(), txBytesToHost = new LongAdder(), hostIoFails = new LongAdder(),
            badPackets = new LongAdder(), badConnectLines = new LongAdder(),
            droppedControl = new LongAdder(), transportResets = new LongAdder();

    Map<String, Long> snapshot() {
        return Map.ofEntries(
                Map.entry("rx_packets_count", rxPackets.sum()), Map.entry("rx_bytes_count", rxBytes.sum()),
                Map.entry("tx_packets_count", txPackets.sum()), Map.entry("tx_bytes_count", txBytes.sum()),
                Map.entry("conns_added", connsAdded.sum()), Map.entry("conns_killed", connsKilled.sum()),
                Map.entry("conns_removed", connsRemoved.sum()), Map.entry("tx_flushed_bytes", txBytesToHost.sum()),
                Map.entry("conn_event_fails", hostIoFails.sum()), Map.entry("tx_malformed_packets", badPackets.sum()),
                Map.entry("bad_connect_lines", badConnectLines.sum()), Map.entry("rx_dropped_control", droppedControl.sum()),
                Map.entry("transport_resets", transportResets.sum()));
    }
}
