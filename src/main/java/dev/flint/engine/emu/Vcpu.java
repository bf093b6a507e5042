package dev.flint.engine.emu;

import dev.flint.engine.emu.cpu.Cpu;
import dev.flint.engine.emu.cpu.TripleFault;
import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.machine.StopReason;
import dev.flint.machine.SystemControl;

import java.util.concurrent.locks.LockSupport;

/**
 * One vCPU's platform thread: runs the interpreter in slices, checks the local APIC between slices
 * (interrupts, NMI, INIT, SIPI), sleeps while halted, and honours pause and stop requests at slice
 * boundaries (which are instruction boundaries).
 */
final class Vcpu implements Runnable {
    /** Instructions per slice: bounds interrupt latency and the reaction time to pause/stop. */
    private static final int SLICE = 4096;
    /** Longest halt sleep without an event, so stop requests are seen even if no wakeup comes. */
    private static final long MAX_HALT_NANOS = 50_000_000L;

    private final int index;
    private final Cpu cpu;
    private final CpuInterruptPort port;
    private final SystemControl control;
    private final VcpuGate gate;
    /** The guest clock's now, the scale of the APIC's timer deadlines. */
    private final java.util.function.LongSupplier now;
    private volatile Thread thread;
    /** True while the thread sleeps in HLT (set before it parks, so a wake-up right after is not lost). */
    private volatile boolean sleepingInHalt;
    /** True between INIT (or creation, for application processors) and the STARTUP IPI. */
    private boolean waitingForSipi;

    Vcpu(int index, Cpu cpu, CpuInterruptPort port, SystemControl control, VcpuGate gate, boolean startsHalted,
         java.util.function.LongSupplier now) {
        this.now = now;
        this.index = index;
        this.cpu = cpu;
        this.port = port;
        this.control = control;
        this.gate = gate;
        this.waitingForSipi = startsHalted;
        if (port != null) {
            port.setWakeup(this::wake);
            port.keepTimerOnCpu(); // checked between slices and bounding the HLT sleep below
        }
    }

    Cpu cpu() { return cpu; }

    /** Snapshot (the thread is parked): the vCPU's registers and whether it waits for a STARTUP IPI. */
    void save(dev.flint.machine.state.StateWriter.Section out) {
        cpu.save(out);
        out.putBoolean(waitingForSipi);
    }

    /** Before {@link #start}. */
    void restore(dev.flint.machine.state.StateReader.Section in) {
        cpu.restore(in);
        waitingForSipi = in.getBoolean();
        in.end();
    }

    /** Whether this vCPU sleeps in HLT, waiting for an interrupt (what tests wait for before sending one). */
    boolean sleepingInHalt() { return sleepingInHalt; }

    void start() {
        thread = Thread.ofPlatform().name("flint-emu-vcpu-" + index).daemon(true).start(this);
    }

    void wake() {
        Thread t = thread;
        if (t != null) LockSupport.unpark(t);
    }

    void join() throws InterruptedException {
        Thread t = thread;
        if (t != null) t.join();
    }

    @Override
    public void run() {
        try {
            while (gate.awaitRunnable()) {
                if (port != null && port.takeInit()) {
                    cpu.init();
                    waitingForSipi = true;
                }
                if (waitingForSipi) {
                    int page = port == null ? -1 : port.takeSipi();
                    if (page < 0) {
                        LockSupport.parkNanos(MAX_HALT_NANOS);
                        continue;
                    }
                    cpu.startup(page);
                    waitingForSipi = false;
                }
                if (port != null && port.nextEventNanos() != Long.MAX_VALUE) port.expireTimer(now.getAsLong());
                cpu.checkInterrupts();
                if (cpu.halted()) {
                    sleepingInHalt = true;
                    sleepWhileHalted();
                    continue;
                }
                sleepingInHalt = false;
                cpu.execute(SLICE);
            }
        } catch (TripleFault tf) {
            control.requestStop(new StopReason.TripleFault("vCPU " + index + " triple fault\n" + tf.getMessage()));
        } catch (Throwable t) {
            control.requestStop(new StopReason.Error("emu vCPU " + index + " failed: " + t
                    + " at rip=0x" + Long.toHexString(cpu.s.rip), t));
        } finally {
            gate.exited();
        }
    }

    private void sleepWhileHalted() {
        long wait = MAX_HALT_NANOS;
        if (port != null) {
            long next = port.nextEventNanos();
            if (next != Long.MAX_VALUE) wait = Math.max(0, Math.min(wait, next - now.getAsLong()));
        }
        if (wait > 0) LockSupport.parkNanos(wait);
    }
}
