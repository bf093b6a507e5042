package dev.flint.arch.x86;

/**
 * The result of loading a kernel: the state vCPU 0 starts in, what kind of image it was and its entry.
 *
 * @param format "bzImage", "ELF" or "Multiboot"
 * @param entry  guest-physical entry point (also {@code bsp.rip()})
 */
public record BootImage(CpuBootState bsp, String format, long entry) {}
