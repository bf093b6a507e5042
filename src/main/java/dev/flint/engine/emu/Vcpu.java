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
    /**
     * The most instructions of a slice that may run natively (flint.emu.nativeSlice; a kick ends a native
     * run sooner). Measured in docs/emu-native.md, "emuexit2".
     */
    private final long nativeSlice = Math.max(SLICE, Long.getLong("flint.emu.nativeSlice", 1 << 20));
    /**
     * Nanoseconds an instruction is assumed to take in native code when the timer's deadline bounds a
     * slice (slow on purpose: the bench guest's native code runs 0.5-2 instructions a ns), so the slice ends
     * before the deadline unless native code is slower than that.
     */
    private static final long NANOS_PER_NATIVE = 4;
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
    private final VcpuIdleStats stats = new VcpuIdleStats();
    /** Wake-ups so far ({@link #wake}); a halt ends when it changes. */
    private final java.util.concurrent.atomic.AtomicLong kicks = new java.util.concurrent.atomic.AtomicLong();

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

    VcpuIdleStats idleStats() { return stats; }

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

    /**
     * An interrupt, NMI, INIT, SIPI or stop request may be waiting: counted first (a halt about to park sees the
     * count change), then the thread is unparked (a permit left for a thread that is not parked only makes its
     * next park return at once, and the loop checks again).
     */
    void wake() {
        Thread t = thread;
        if (t == null) return;
        kicks.incrementAndGet();
        cpu.kick(); // ends a native run past the slice (the interrupt check then sees the cause)
        if (sleepingInHalt && stats.wokenAt == 0) stats.wokenAt = System.nanoTime();
        LockSupport.unpark(t);
    }

    void join() throws InterruptedException {
        Thread t = thread;
        if (t != null) t.join();
    }

    @Override
    public void run() {
        try {
            // The kick is cleared before every look at what may stop the slice (pause/stop, INIT/SIPI,
            // the timer, interrupts): a kick after the clear ends the next native run, one before it is seen here.
            for (cpu.clearKick(); gate.awaitRunnable(); cpu.clearKick()) {
                long seen = kicks.get(); // before the interrupt check: a wake-up after it ends the halt below at once
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
                long clock = Long.MIN_VALUE;
                if (port != null && port.nextEventNanos() != Long.MAX_VALUE) port.expireTimer(clock = now.getAsLong());
                cpu.checkInterrupts();
                if (cpu.halted()) {
                    sleepingInHalt = true;
                    sleepWhileHalted(seen);
                    continue;
                }
                sleepingInHalt = false;
                stats.slices++;
                cpu.execute(SLICE, nativeSlice(clock));
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

    /**
     * How many instructions this slice may run in native code (the JVM tiers stop at {@link #SLICE}).
     * {@link #SLICE} while an interrupt waits that the CPU could not take (what makes it deliverable kicks nobody);
     * else up to {@link #nativeSlice}, and no further than the timer's deadline at {@link #NANOS_PER_NATIVE} ns an
     * instruction. Every other reason to stop (an interrupt raised, INIT/SIPI, pause, stop) kicks the CPU.
     */
    private long nativeSlice(long clock) {
        if (cpu.interruptWaiting()) return SLICE;
        long next = port == null ? Long.MAX_VALUE : port.nextEventNanos();
        if (next == Long.MAX_VALUE) return nativeSlice;
        long ahead = (next - (clock == Long.MIN_VALUE ? now.getAsLong() : clock)) / NANOS_PER_NATIVE;
        return Math.max(SLICE, Math.min(nativeSlice, ahead));
    }

    /** Asks the vCPU to come back to its loop soon (a pause request): ends a native run within one block. */
    void kick() { cpu.kick(); }

    /**
     * Sleeps in HLT until a wake-up after {@code seen} (the count read before the interrupt check), the APIC
     * timer's deadline, or {@link #MAX_HALT_NANOS}. No halt polling: spinning before the park (KVM's
     * {@code halt_poll_ns}) was measured in session 17 and did not pay (docs/emu-speed.md, "emusmp2").
     */
    private void sleepWhileHalted(long seen) {
        long wait = MAX_HALT_NANOS;
        if (port != null) {
            long next = port.nextEventNanos();
            if (next != Long.MAX_VALUE) wait = Math.max(0, Math.min(wait, next - now.getAsLong()));
        }
        if (wait <= 0 || kicks.get() != seen) return; // woken since the check: take it now
        long parkStart = System.nanoTime();
        LockSupport.parkNanos(wait);
        long end = System.nanoTime();
        stats.halts++;
        stats.haltNanos += end - parkStart;
        long woken = stats.wokenAt;
        if (woken != 0) {
            stats.wokenAt = 0;
            stats.wakes++;
            long late = Math.max(0, end - woken);
            stats.wakeLatencyNanos += late;
            if (late > stats.wakeLatencyMax) stats.wakeLatencyMax = late;
        }
    }
}
