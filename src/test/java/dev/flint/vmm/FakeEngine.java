package dev.flint.vmm;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.engine.Engine;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.machine.InterruptController;
import dev.flint.machine.StopReason;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * An engine without a CPU: its "guest" is a Java callback run on start, which talks to the machine the
 * way guest code would (port I/O on the buses) and then asks the machine to stop.
 */
public final class FakeEngine implements Engine {
    private final String name;
    private final Availability availability;
    private final Consumer<FakeVm> guest;
    /** Every VM this engine created, for tests to inspect. */
    public final List<FakeVm> created = new ArrayList<>();

    public FakeEngine(String name, Availability availability, Consumer<FakeVm> guest) {
        this.name = name;
        this.availability = availability;
        this.guest = guest;
    }

    /** A usable engine whose guest writes {@code text} to COM1's transmit register and powers off. */
    public static FakeEngine printingThenPoweringOff(String name, String text) {
        return new FakeEngine(name, Availability.yes(), vm -> {
            vm.writeSerial(text);
            vm.setup().control().requestStop(new StopReason.PowerOff());
        });
    }

    @Override public String name() { return name; }

    @Override public Availability availability() { return availability; }

    @Override
    public VirtualMachine create(VmSetup setup) {
        FakeVm vm = new FakeVm(setup, guest);
        created.add(vm);
        return vm;
    }

    /** The fake VM: records what the VMM did to it. */
    public static final class FakeVm implements VirtualMachine {
        private final VmSetup setup;
        private final Consumer<FakeVm> guest;
        public final List<String> events = new ArrayList<>();
        public volatile CpuBootState bsp;

        FakeVm(VmSetup setup, Consumer<FakeVm> guest) {
            this.setup = setup;
            this.guest = guest;
        }

        public VmSetup setup() { return setup; }

        /** What guest code does to print on COM1: one OUT to port 0x3F8 per byte. */
        public void writeSerial(String text) {
            for (byte b : text.getBytes(StandardCharsets.UTF_8)) setup.portIo().write(0x3F8, 1, b & 0xFF);
        }

        @Override
        public InterruptController interrupts() {
            return new InterruptController() {
                @Override public void setLevel(int gsi, boolean high) {}
                @Override public void sendMsi(long address, int data) {}
            };
        }

        @Override
        public synchronized void start(CpuBootState bsp) {
            this.bsp = bsp;
            events.add("start");
            Thread.ofPlatform().name("fake-vcpu0").start(() -> guest.accept(this));
        }

        @Override public synchronized void pause() { events.add("pause"); }
        @Override public synchronized void resume() { events.add("resume"); }
        @Override public synchronized void stop() { events.add("stop"); }
        @Override public synchronized void close() { events.add("close"); }
    }
}
