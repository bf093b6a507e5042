/**
 * ACPI tables for a hardware-reduced machine: RSDP, XSDT, FADT (sleep control/status and reset registers
 * instead of PM1 blocks), DSDT written with a small AML builder ({@link dev.flint.arch.x86.acpi.Aml},
 * {@link dev.flint.arch.x86.acpi.Resources}), and MADT.
 */
package dev.flint.arch.x86.acpi;
