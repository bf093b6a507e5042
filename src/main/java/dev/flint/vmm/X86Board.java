package dev.flint.vmm;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;

/**
 * The PC around the vCPUs, whichever engine runs them: the legacy devices (COM1, i8042, RTC, ACPI
 * power registers), the PCI host bridge, and the kernel placed in RAM by the x86 boot protocol.
 */
final class X86Board implements AutoCloseable {
    private X86Board() {}

    /** Puts the board's devices on the buses; they interrupt through {@code irq}, the engine's controller. */
    static X86Board install(Bus portIo, Bus mmio, InterruptController irq, SystemControl control, Console console) {
        // TODO(merge): needs dev.flint.devices (arch-devices branch):
        //   legacy = LegacyDevices.install(portIo, mmio, irq, control, console.in(), console.out());
        //   pci = new PciHostBridge(portIo, mmio);
        throw new UnsupportedOperationException("the legacy devices are not merged into this build yet");
    }

    /** Loads kernel, initrd and command line and writes the firmware tables; returns vCPU 0's state. */
    static CpuBootState loadKernel(GuestMemory memory, VmConfig config) {
        // TODO(merge): needs dev.flint.arch.x86.BootLoader (arch-devices branch):
        //   return BootLoader.load(memory, new BootSpec(config.kernel(), config.initrd(), config.cmdline(),
        //           config.cpus()), PlatformInfo.standard()).bsp();
        throw new UnsupportedOperationException("the boot loader is not merged into this build yet");
    }

    /** Presses Ctrl-Alt-Del on the guest's keyboard (the guest decides what to do with it). */
    void sendCtrlAltDel() {
        // TODO(merge): legacy.i8042().sendCtrlAltDel();
    }

    /** Stops the console input thread and releases device resources. */
    @Override
    public void close() {
        // TODO(merge): legacy.close();
    }
}
