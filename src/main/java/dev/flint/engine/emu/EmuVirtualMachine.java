package dev.flint.engine.emu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.engine.EngineException;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.engine.emu.cpu.Cpu;
import dev.flint.engine.emu.cpu.CpuOptions;
import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.engine.emu.cpu.FpuUnit;
import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A VM run by the emu engine: one {@link Vcpu} platform thread per vCPU, all sharing guest memory and the
 * buses. vCPU 0 starts at the boot state; the others wait for INIT/SIPI from their local APIC.
 */
final class EmuVirtualMachine implements VirtualMachine {
    private final VmSetup setup;
    private final InterruptHardware irq;
    private final VcpuGate gate = new VcpuGate();
    private final GuestClock clock;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private boolean started;
    private boolean closed;
    private GuestProfiler profiler;
    /** The dirty page log the vCPUs' stores mark (set when tracking was on at creation), or null. */
    private final dev.flint.machine.DirtyPages dirtyLog;

    EmuVirtualMachine(VmSetup setup, InterruptHardware irq, GuestClock clock, IntFunction<FpuUnit> fpus) {
        this.setup = setup;
        this.dirtyLog = setup.memory().dirtyPages();
        this.irq = irq;
        this.clock = clock;
        CpuOptions options = CpuOptions.fromSystemProperties();
        for (int i = 0; i < setup.cpus(); i++) {
            CpuInterruptPort port = irq.cpuPort(i);
            if (i > 0 && port == null) {
                throw new EngineException("emu: " + setup.cpus() + " vCPUs need a local APIC to start the others");
            }
            CpuState state = new CpuState();
            Mmu mmu = new Mmu(state, new PhysicalMemory(setup.memory(), setup.mmio(), port));
            Cpu cpu = new Cpu(state, mmu, setup.portIo(), port, clock, fpus.apply(i), i, setup.cpus(),
                    options);
            vcpus.add(new Vcpu(i, cpu, port, setup.control(), gate, i > 0, clock::nanos));
        }
    }

    @Override
    public InterruptController interrupts() { return irq.controller(); }

    @Override
    public synchronized void start(CpuBootState bsp) {
        if (started) throw new IllegalStateException("already started");
        started = true;
        vcpus.getFirst().cpu().boot(bsp);
        profiler = GuestProfiler.fromSystemProperty(vcpus.stream().map(Vcpu::cpu).toList());
        VcpuIdleStats.startWriter(vcpus);
        for (Vcpu v : vcpus) {
            gate.register();
            v.start();
        }
    }

    @Override
    public String engineName() { return "emu"; }

    /** Needs every vCPU parked by {@link #pause}: the registers are then at an instruction boundary. */
    @Override
    public synchronized void save(StateWriter state) {
        if (!started || !gate.allParked()) throw new SnapshotException("the microVM must be paused to take a snapshot");
        try (var s = state.section("emu.clock")) { clock.save(s); }
        try (var s = state.section("emu.vcpus")) { s.putInt(vcpus.size()); }
        for (int i = 0; i < vcpus.size(); i++) {
            try (var s = state.section("emu.vcpu." + i)) { vcpus.get(i).save(s); }
        }
        irq.save(state);
    }

    /**
     * Nothing to add: every vCPU store marks the machine's log itself ({@code PhysicalMemory}), as long as
     * tracking was on when this VM was created (the vCPUs' memory views take the log then).
     */
    @Override
    public synchronized void collectDirtyPages(dev.flint.machine.DirtyPages pages) {
        if (!started || !gate.allParked()) throw new SnapshotException("the microVM must be paused to take a snapshot");
        if (pages == null || pages != dirtyLog) {
            throw new SnapshotException("dirty page tracking was not on when this microVM was built (track_dirty_pages)");
        }
    }

    @Override
    public synchronized void restore(StateReader state, boolean paused) {
        if (started) throw new IllegalStateException("already started");
        var count = state.section("emu.vcpus");
        int n = count.getInt();
        if (n != vcpus.size()) throw new SnapshotException("the snapshot has " + n + " vCPUs, this machine " + vcpus.size());
        clock.restore(state.section("emu.clock")); // first: the timers re-arm on the restored clock
        irq.restore(state);
        for (int i = 0; i < vcpus.size(); i++) vcpus.get(i).restore(state.section("emu.vcpu." + i));
        started = true;
        if (paused) gate.holdAtStart();
        profiler = GuestProfiler.fromSystemProperty(vcpus.stream().map(Vcpu::cpu).toList());
        VcpuIdleStats.startWriter(vcpus);
        for (Vcpu v : vcpus) {
            gate.register();
            v.start();
        }
    }

    @Override
    public void pause() {
        try {
            gate.pause(() -> vcpus.forEach(Vcpu::kick)); // a native run past the slice ends at once
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void resume() { gate.resume(); }

    @Override
    public void stop() {
        gate.stop();
        for (Vcpu v : vcpus) v.wake();
        for (Vcpu v : vcpus) {
            try {
                v.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Whether vCPU {@code index} sleeps in HLT waiting for an interrupt. */
    boolean sleepingInHalt(int index) { return vcpus.get(index).sleepingInHalt(); }

    /** Times a vCPU yielded its thread in a guest spin loop (read after {@link #stop}, which joins the threads). */
    long pauseLoopExits(int index) { return vcpus.get(index).cpu().pauseLoopExits(); }

    /** vCPUs a pause holds at an instruction boundary right now. */
    int pausedVcpus() { return gate.parked(); }

    /** Instructions executed by all vCPUs so far (approximate while running). */
    long instructions() {
        long n = 0;
        for (Vcpu v : vcpus) n += v.cpu().statistics().instructions();
        return n;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        stop();
        if (profiler != null) profiler.close();
        irq.close();
    }
}
