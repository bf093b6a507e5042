/**
 * The PC platform devices every Flint machine has, all on the port-I/O bus: COM1 (16550A), the i8042
 * keyboard controller (CPU reset line, Ctrl+Alt+Del), the CMOS RTC, the hardware-reduced ACPI power
 * registers and the POST port. {@link dev.flint.devices.legacy.LegacyDevices#create} makes them; the
 * device manager (in vmm) puts them on the bus where the ACPI tables say they are.
 */
package dev.flint.devices.legacy;
