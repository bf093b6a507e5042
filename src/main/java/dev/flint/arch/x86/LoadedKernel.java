package dev.flint.arch.x86;

/**
 * A kernel image placed in guest memory.
 *
 * @param format        "bzImage" or "ELF"
 * @param entry         guest-physical 64-bit entry
 * @param end           first guest-physical byte the kernel does not claim (the initrd goes above it)
 * @param setupHeader   the setup header bytes to copy into boot_params at 0x1F1 (empty for ELF)
 * @param initrdAddrMax highest address the initrd may occupy
 * @param cmdlineMax    longest command line the kernel accepts, excluding the NUL
 */
record LoadedKernel(String format, long entry, long end, byte[] setupHeader, long initrdAddrMax, int cmdlineMax) {}
