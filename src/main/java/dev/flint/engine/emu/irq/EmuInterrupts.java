package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;
import dev.flint.machine.InterruptController;
import dev.flint.machine.bus.Bus;

/**
 * Everything that interrupts an emulated machine, built and wired in one place: one local APIC per
 * vCPU, the APIC bus, the I/O APIC, the 8259 pair, the 8254 PIT and the controller devices use.
 * Closing it stops the timer thread.
 */
public final class EmuInterrupts implements AutoCloseable {
    private final TimerScheduler scheduler;
    private final ApicBus apicBus = new ApicBus();
    private final LocalApic[] apics;
    private final IoApic ioApic;
    private final DualPic pic = new DualPic();
    private final Pit8254 pit;
    private final EmuInterruptController controller;

    private EmuInterrupts(int cpus, GuestClock clock, TimerScheduler scheduler) {
        if (cpus < 1 || cpus > 0xFE) throw new IllegalArgumentException("xAPIC supports 1-254 vCPUs: " + cpus);
        this.scheduler = scheduler;
        apics = new LocalApic[cpus];
        for (int i = 0; i < cpus; i++) {
            apics[i] = new LocalApic(i, i == 0, apicBus, clock, scheduler);
            apicBus.attach(apics[i]);
        }
        ioApic = new IoApic(apicBus, ioApicId(cpus));
        apicBus.setEoiListener(ioApic::endOfInterrupt);
        pic.connectTo(apics[0]);
        controller = new EmuInterruptController(pic, ioApic, apicBus);
        pit = new Pit8254(clock, scheduler, () -> controller.pulse(0));
    }

    /** Builds the interrupt hardware of a {@code cpus}-vCPU machine and registers it on the buses. */
    public static EmuInterrupts create(int cpus, GuestClock clock, Bus portIo, Bus mmio) {
        return create(cpus, clock, new HostTimerScheduler(clock), portIo, mmio);
    }

    /** As {@link #create(int, GuestClock, Bus, Bus)} with a given timer scheduler (tests drive time). */
    public static EmuInterrupts create(int cpus, GuestClock clock, TimerScheduler scheduler, Bus portIo, Bus mmio) {
        var irq = new EmuInterrupts(cpus, clock, scheduler);
        portIo.register(DualPic.MASTER_PORT, 2, irq.pic.masterPorts(), "pic-master");
        portIo.register(DualPic.SLAVE_PORT, 2, irq.pic.slavePorts(), "pic-slave");
        portIo.register(DualPic.ELCR_PORT, 2, irq.pic.elcrPorts(), "pic-elcr");
        portIo.register(Pit8254.PORT, 4, irq.pit.ports(), "pit");
        portIo.register(Pit8254.SYSTEM_CONTROL_PORT, 1, irq.pit.systemControlPort(), "system-control-b");
        mmio.register(IoApic.BASE, IoApic.SIZE, irq.ioApic, "ioapic");
        return irq;
    }

    /** The I/O APIC's id in a {@code cpus}-vCPU machine: the first after the local APIC ids 0..cpus-1. */
    public static int ioApicId(int cpus) { return cpus; }

    /** The local APIC of vCPU {@code cpu}; its APIC id is {@code cpu}. */
    public LocalApic apic(int cpu) { return apics[cpu]; }

    public int cpuCount() { return apics.length; }

    /** What devices raise interrupts through. */
    public InterruptController controller() { return controller; }

    public IoApic ioApic() { return ioApic; }

    public DualPic pic() { return pic; }

    public Pit8254 pit() { return pit; }

    /** Snapshot: each local APIC, the I/O APIC, the 8259 pair and the PIT, one section each. */
    public void save(dev.flint.machine.state.StateWriter state) {
        for (int i = 0; i < apics.length; i++) {
            try (var s = state.section("lapic." + i)) { apics[i].save(s); }
        }
        try (var s = state.section("ioapic")) { ioApic.save(s); }
        try (var s = state.section("pic")) { pic.save(s); }
        try (var s = state.section("pit")) { pit.save(s); }
    }

    /** Restores onto a machine of the same vCPU count, after its clock was restored. */
    public void restore(dev.flint.machine.state.StateReader state) {
        for (int i = 0; i < apics.length; i++) apics[i].restore(state.section("lapic." + i));
        ioApic.restore(state.section("ioapic"));
        pic.restore(state.section("pic"));
        pit.restore(state.section("pit"));
    }

    @Override
    public void close() {
        if (scheduler instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                throw new IllegalStateException("stopping the interrupt timer thread", e);
            }
        }
    }
}
