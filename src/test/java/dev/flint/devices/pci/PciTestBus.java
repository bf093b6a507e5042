package dev.flint.devices.pci;

import dev.flint.arch.x86.Layout;
import dev.flint.machine.InterruptController;
import dev.flint.machine.bus.Bus;

/** A PCI host bridge wired as Flint's device manager wires it (config ports 0xCF8/0xCFC, INTx per Layout), for device tests. */
public final class PciTestBus {
    private PciTestBus() {}

    public static PciHostBridge on(Bus portIo, Bus mmio, InterruptController irq) {
        PciHostBridge bridge = new PciHostBridge(portIo, mmio, irq, Layout::pciIntxGsi);
        portIo.register(Layout.PCI_CONFIG_ADDRESS_PORT, 4, bridge.configAddressPort(), "PCI config address");
        portIo.register(Layout.PCI_CONFIG_DATA_PORT, 4, bridge.configDataPort(), "PCI config data");
        return bridge;
    }
}
