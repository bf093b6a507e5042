package dev.flint.engine;

import dev.flint.machine.GuestMemory;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;

/**
 * What an engine needs to build a VM. The engine registers the devices it provides itself (emu: I/O APIC,
 * PIC, PIT; kvm: nothing, its irqchip is in the kernel) on the buses during create; the VMM then
 * registers the machine's devices, which need {@link VirtualMachine#interrupts()}, before start.
 *
 * @param cpus    number of vCPUs; vCPU 0 starts at the boot state, the others wait for INIT/SIPI
 * @param control where the engine reports a triple fault or its own failure
 */
public record VmSetup(GuestMemory memory, Bus portIo, Bus mmio, int cpus, SystemControl control) {
    public VmSetup {
        if (cpus < 1) throw new IllegalArgumentException("at least one vCPU");
    }
}
