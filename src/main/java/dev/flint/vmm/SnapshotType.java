package dev.flint.vmm;

/** Firecracker's {@code snapshot_type}: what a snapshot's memory file holds. */
public enum SnapshotType {
    /** All of guest RAM. */
    FULL,
    /**
     * Only the pages written since the previous snapshot (or since boot or load), the rest holes; merged onto
     * the previous memory file it gives this snapshot's full memory. Needs dirty page tracking.
     */
    DIFF
}
