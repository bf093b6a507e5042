/**
 * Virtio 1.x devices on PCI, as Linux's virtio_pci (modern) driver finds them.
 *
 * <p>{@link dev.flint.devices.virtio.VirtioPciDevice} is the transport: a PCI function whose BAR0 holds
 * the common configuration, notify, ISR and device configuration regions plus the MSI-X table. It
 * negotiates features (VERSION_1 and INDIRECT_DESC from the transport, the rest from the device type),
 * runs the status state machine, and serves split {@link dev.flint.devices.virtio.Virtqueue}s on the
 * device's own I/O thread. Device types implement {@link dev.flint.devices.virtio.VirtioDevice}:
 * {@code block} (raw image), {@code net} (a host TAP device) and {@code rng} (host entropy). A device fed
 * from outside the guest (net's receive queue) says through {@code readyFor} when it has data and kicks
 * its queue through {@code queueNotifier()}; {@code activate} tells a device which features the driver
 * accepted.
 *
 * <p>Wiring (machine builder): {@code bridge.addDevice(VirtioBlock.pciDevice(DriveConfig.parse(arg), memory, irq))}
 * and {@code bridge.addDevice(VirtioRng.pciDevice(memory, irq))}, {@code VirtioNet.pciDevice(NetConfig.parse(arg), memory, irq)} on a {@code PciHostBridge} built with the
 * interrupt controller (INTx fallback needs it); {@code close()} each device at shutdown.
 *
 * <p>Guest mistakes never escape as exceptions: a malformed ring sets DEVICE_NEEDS_RESET and raises the
 * configuration interrupt; a request whose buffers leave RAM fails with an error status; both are
 * counted in {@link dev.flint.devices.virtio.VirtioPciDevice#guestErrors()}. Not implemented (so not
 * offered): EVENT_IDX, packed rings, notification data, ring reset, the PCI configuration access
 * capability (VIRTIO_PCI_CAP_PCI_CFG, which Linux does not use).
 */
package dev.flint.devices.virtio;
