package dev.flint.engine.emu;

import dev.flint.engine.emu.irq.CpuInterruptPort;

import java.util.concurrent.atomic.AtomicInteger;

/** A scriptable stand-in for a local APIC: tests raise a vector, an INIT or a SIPI by hand. */
final class FakeInterruptPort implements CpuInterruptPort {
    private final AtomicInteger pending = new AtomicInteger(-1);
    private final AtomicInteger sipi = new AtomicInteger(-1);
    private volatile boolean init;
    private volatile Runnable wakeup = () -> { };
    final AtomicInteger acknowledged = new AtomicInteger();

    void raise(int vector) {
        pending.set(vector);
        wakeup.run();
    }

    void sendInitSipi(int page) {
        init = true;
        sipi.set(page);
        wakeup.run();
    }

    @Override public int pendingVector() { return pending.get(); }

    @Override
    public int acknowledge() {
        acknowledged.incrementAndGet();
        return pending.getAndSet(-1);
    }

    @Override public boolean takeNmi() { return false; }

    @Override
    public boolean takeInit() {
        boolean i = init;
        init = false;
        return i;
    }

    @Override public int takeSipi() { return sipi.getAndSet(-1); }
    @Override public void setCr8(long cr8) { }
    @Override public long cr8() { return 0; }
    @Override public long apicBase() { return 0xFEE0_0900L; }
    @Override public long mmioRead(long offset, int size) { return 0; }
    @Override public void mmioWrite(long offset, int size, long value) { }
    @Override public Long readMsr(int index) { return index == 0x1B ? apicBase() : null; }
    @Override public boolean writeMsr(int index, long value) { return index == 0x1B; }
    /** A one-shot timer (emuexit2's VcpuKickTest): vector {@code timerVector} becomes pending at {@code deadline}. */
    private volatile long deadline = Long.MAX_VALUE;
    private volatile int timerVector;

    void armTimer(long atNanos, int vector) {
        timerVector = vector;
        deadline = atNanos;
    }

    @Override public long nextEventNanos() { return deadline; }

    @Override
    public void expireTimer(long nowNanos) {
        if (nowNanos < deadline) return;
        deadline = Long.MAX_VALUE;
        pending.set(timerVector);
    }
    @Override public void setWakeup(Runnable wakeup) { this.wakeup = wakeup; }
}
