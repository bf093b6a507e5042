package dev.flint.vmm;

import dev.flint.arch.x86.BootLoader;
import dev.flint.arch.x86.BootSpec;
import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.PlatformInfo;
import dev.flint.devices.legacy.LegacyDevices;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;

/**
 * The PC around the vCPUs, whichever engine runs them: the legacy devices (COM1, i8042, RTC, ACPI
 * power registers), the PCI host bridge, and the kernel placed in RAM by the x86 boot protocol.
 */
final class X86Board implements AutoCloseable {
    private final LegacyDevices legacy;
    private final PciHostBridge pci;

    private X86Board(LegacyDevices legacy, PciHostBridge pci) {
        this.legacy = legacy;
        this.pci = pci;
    }

    /** Puts the board's devices on the buses; they interrupt through {@code irq}, the engine's controller. */
    static X86Board install(Bus portIo, Bus mmio, InterruptController irq, SystemControl control, Console console) {
        LegacyDevices legacy = LegacyDevices.install(portIo, mmio, irq, control, console.in(), console.out());
        return new X86Board(legacy, new PciHostBridge(portIo, mmio, irq));
    }

    PciHostBridge pci() { return pci; }

    /** Loads kernel, initrd and command line and writes the firmware tables; returns vCPU 0's state. */
    static CpuBootState loadKernel(GuestMemory memory, VmConfig config, BootLoader.BzImageEntry entry) {
        return BootLoader.load(memory, new BootSpec(config.kernel(), config.initrd(), config.cmdline(), config.cpus()),
                PlatformInfo.standard(), entry).bsp();
    }

    /** Presses Ctrl-Alt-Del on the guest's keyboard (the guest decides what to do with it). */
    void sendCtrlAltDel() { legacy.i8042().sendCtrlAltDel(); }

    /** Stops the console input thread and releases device resources. */
    @Override
    public void close() { legacy.close(); }
}
