/**
 * The x86 PC that Flint presents to a Linux guest, independent of the engine running it.
 *
 * <p>{@link dev.flint.arch.x86.Layout} is the single map of guest-physical and port addresses.
 * {@link dev.flint.arch.x86.BootLoader} implements the Linux 64-bit boot protocol for bzImage and ELF
 * kernels (boot_params, e820, command line, initrd, identity map, GDT) and writes the firmware tables
 * ({@link dev.flint.arch.x86.acpi.AcpiTables}, the MP table for {@code acpi=off}); it returns the
 * {@link dev.flint.arch.x86.CpuBootState} every engine applies to vCPU 0.
 */
package dev.flint.arch.x86;
