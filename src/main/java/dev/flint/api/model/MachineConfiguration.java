package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code PUT/PATCH/GET /machine-config}. On PATCH any subset of the fields may be present. Flint's
 * extension: {@code nvme_controllers}, how many NVMe controllers without a namespace the machine gets
 * (default 0), so that volumes can be attached to it while it runs ({@code PUT /drives/{id}} after boot).
 */
public record MachineConfiguration(
        @JsonProperty("vcpu_count") Integer vcpuCount,
        @JsonProperty("mem_size_mib") Long memSizeMib,
        @JsonProperty("smt") Boolean smt,
        @JsonProperty("track_dirty_pages") Boolean trackDirtyPages,
        @JsonProperty("cpu_template") String cpuTemplate,
        @JsonProperty("huge_pages") String hugePages,
        @JsonProperty("nvme_controllers") Integer nvmeControllers) {

    /** Firecracker's fields only. */
    public MachineConfiguration(Integer vcpuCount, Long memSizeMib, Boolean smt, Boolean trackDirtyPages,
                                String cpuTemplate, String hugePages) {
        this(vcpuCount, memSizeMib, smt, trackDirtyPages, cpuTemplate, hugePages, null);
    }

    /** Firecracker's defaults: one vCPU, 128 MiB, no SMT, no dirty tracking, regular pages. */
    public static MachineConfiguration defaults() {
        return new MachineConfiguration(1, 128L, false, false, null, "None");
    }

    /** This configuration with every field {@code patch} carries replaced. */
    public MachineConfiguration patchedWith(MachineConfiguration patch) {
        return new MachineConfiguration(
                patch.vcpuCount != null ? patch.vcpuCount : vcpuCount,
                patch.memSizeMib != null ? patch.memSizeMib : memSizeMib,
                patch.smt != null ? patch.smt : smt,
                patch.trackDirtyPages != null ? patch.trackDirtyPages : trackDirtyPages,
                patch.cpuTemplate != null ? patch.cpuTemplate : cpuTemplate,
                patch.hugePages != null ? patch.hugePages : hugePages,
                patch.nvmeControllers != null ? patch.nvmeControllers : nvmeControllers);
    }
}
