package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /boot-source}: the kernel, an optional initrd and the kernel command line. */
public record BootSource(
        @JsonProperty("kernel_image_path") String kernelImagePath,
        @JsonProperty("initrd_path") String initrdPath,
        @JsonProperty("boot_args") String bootArgs) {}
