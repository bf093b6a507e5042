package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * {@code PUT /snapshot/load}: the state file, the guest memory ({@code mem_backend}, or the deprecated
 * {@code mem_file_path}), whether to resume at once, and TAP devices to use instead of the snapshot's.
 */
public record SnapshotLoadParams(@JsonProperty("snapshot_path") String snapshotPath,
                                 @JsonProperty("mem_file_path") String memFilePath,
                                 @JsonProperty("mem_backend") MemoryBackend memBackend,
                                 @JsonProperty("enable_diff_snapshots") Boolean enableDiffSnapshots,
                                 @JsonProperty("track_dirty_pages") Boolean trackDirtyPages,
                                 @JsonProperty("resume_vm") Boolean resumeVm,
                                 @JsonProperty("network_overrides") List<NetworkOverride> networkOverrides,
                                 @JsonProperty("vsock_override") VsockOverride vsockOverride,
                                 @JsonProperty("clock_realtime") Boolean clockRealtime,
                                 @JsonProperty("huge_pages") String hugePages) {

    /** {@code backend_type} File (a memory file) or Uffd (a page-fault handler's socket). */
    public record MemoryBackend(@JsonProperty("backend_type") String backendType,
                                @JsonProperty("backend_path") String backendPath) {}

    public record NetworkOverride(@JsonProperty("iface_id") String ifaceId,
                                  @JsonProperty("host_dev_name") String hostDevName) {}

    public record VsockOverride(@JsonProperty("uds_path") String udsPath) {}
}
