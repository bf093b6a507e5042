package dev.flint.arch.x86;

import java.nio.file.Path;

/**
 * What to boot: a kernel (bzImage or ELF vmlinux), an optional initrd, the command line and the number
 * of vCPUs the firmware tables announce.
 *
 * @param initrd null for none
 */
public record BootSpec(Path kernel, Path initrd, String cmdline, int cpus) {
    /** The most vCPUs the tables can describe: APIC IDs 0..cpus-1 plus the I/O APIC's ID must fit a byte. */
    public static final int MAX_CPUS = 254;

    public BootSpec {
        if (kernel == null) throw new IllegalArgumentException("kernel path is required");
        if (cmdline == null) cmdline = "";
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new IllegalArgumentException("vCPU count must be 1.." + MAX_CPUS + ", got " + cpus);
        }
    }
}
