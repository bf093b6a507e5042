package dev.flint.engine.emu.irq;

import dev.flint.machine.bus.Bus;
import java.util.concurrent.atomic.AtomicInteger;

/** A small machine's interrupt hardware on hand-driven time, with helpers that talk like a guest. */
final class IrqTestMachine {
    final ManualTime time = new ManualTime();
    final Bus io = new Bus("io");
    final Bus mmio = new Bus("mmio");
    final EmuInterrupts irq;
    final AtomicInteger[] wakeups;

    IrqTestMachine(int cpus) {
        irq = EmuInterrupts.create(cpus, time.clock, time, io, mmio);
        wakeups = new AtomicInteger[cpus];
        for (int i = 0; i < cpus; i++) {
            AtomicInteger counter = wakeups[i] = new AtomicInteger();
            irq.apic(i).setWakeup(counter::incrementAndGet);
        }
    }

    LocalApic apic(int cpu) { return irq.apic(cpu); }

    int read(int cpu, int reg) { return (int) apic(cpu).mmioRead(reg, 4); }

    void write(int cpu, int reg, int value) { apic(cpu).mmioWrite(reg, 4, Integer.toUnsignedLong(value)); }

    /** Software-enables every APIC with spurious vector 0xFF, as an OS does first. */
    IrqTestMachine enableApics() {
        for (int i = 0; i < irq.cpuCount(); i++) write(i, 0xF0, 0x1FF);
        return this;
    }

    /** Takes the pending interrupt like the CPU would and returns its vector. */
    int take(int cpu) {
        int v = apic(cpu).pendingVector();
        return v < 0 ? -1 : apic(cpu).acknowledge();
    }

    void eoi(int cpu) { write(cpu, 0xB0, 0); }

    void ioApicWrite(int index, int value) {
        mmio.write(IoApic.BASE, 4, index);
        mmio.write(IoApic.BASE + 0x10, 4, Integer.toUnsignedLong(value));
    }

    int ioApicRead(int index) {
        mmio.write(IoApic.BASE, 4, index);
        return (int) mmio.read(IoApic.BASE + 0x10, 4);
    }

    /** Programs redirection entry {@code pin} (low half) to physical APIC {@code apicId}. */
    void route(int pin, int low, int apicId) {
        ioApicWrite(0x11 + 2 * pin, apicId << 24);
        ioApicWrite(0x10 + 2 * pin, low);
    }

    /** ISR bit of {@code vector} as the guest reads it from the ISR registers. */
    boolean inService(int cpu, int vector) {
        return (read(cpu, 0x100 + (vector >>> 5) * 0x10) & (1 << (vector & 31))) != 0;
    }
}
