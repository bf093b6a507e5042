/**
 * PCI bus 0: {@link dev.flint.devices.pci.PciHostBridge} (configuration mechanism #1), and the pieces a
 * PCI device is built from: {@link dev.flint.devices.pci.PciConfigSpace} (type 0 header, BARs mapped onto
 * the buses, capabilities, INTx) and {@link dev.flint.devices.pci.MsixCapability} (MSI-X table and PBA).
 */
package dev.flint.devices.pci;
