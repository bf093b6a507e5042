package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One vCPU's local APIC in xAPIC mode (register page at 0xFEE00000; x2APIC is not offered).
 *
 * <p>Threads: the owning vCPU calls the {@link CpuInterruptPort} methods; other vCPUs (IPIs), the I/O
 * APIC, MSIs and the timer thread call {@link #accept}. Register state is guarded by this object's
 * monitor; the vector the CPU may take next is precomputed into a volatile field on every change so
 * that {@link #pendingVector()}, called at every block boundary, is a single read. The monitor is never
 * held while calling out to the bus, the I/O APIC or the PIC, so APICs that interrupt each other
 * cannot deadlock.
 *
 * <p>Timers: the APIC timer (one-shot, periodic, TSC-deadline) arms a task on the machine's
 * {@link TimerScheduler}; at expiry that task sets the timer vector in the IRR and runs the vCPU's
 * wakeup, so a halted vCPU wakes on time without anyone polling. {@link #nextEventNanos()} still
 * reports the deadline, so a vCPU that bounds its sleep with it is woken twice at worst. The emu engine's
 * vCPUs take the timer over instead ({@link #keepTimerOnCpu}): they compare the deadline with the clock
 * between slices and bound their HLT sleep by it, and no task is armed.
 */
public final class LocalApic implements CpuInterruptPort {
    private static final GuestFaultLog LOG = new GuestFaultLog(LocalApic.class);

    /** Architectural default of IA32_APIC_BASE's address field. */
    public static final long DEFAULT_BASE = 0xFEE0_0000L;
    public static final int MSR_APIC_BASE = 0x1B;
    public static final int MSR_TSC_DEADLINE = 0x6E0;

    private static final long BASE_BSP = 1L << 8;
    private static final long BASE_X2APIC = 1L << 10;
    private static final long BASE_ENABLE = 1L << 11;
    private static final long BASE_ADDRESS = 0x000F_FFFF_FFFF_F000L;

    private static final int LVT_TIMER = 0, LVT_THERMAL = 1, LVT_PERF = 2, LVT_LINT0 = 3, LVT_LINT1 = 4,
            LVT_ERROR = 5, LVT_COUNT = 6;
    /** Offsets of the LVT registers, in LVT index order. */
    private static final int[] LVT_OFFSET = {0x320, 0x330, 0x340, 0x350, 0x360, 0x370};
    /** Guest-writable bits per LVT entry (delivery status and remote IRR are read-only). */
    private static final int[] LVT_WRITABLE = {0x0007_00FF, 0x0001_07FF, 0x0001_07FF, 0x0001_A7FF,
            0x0001_A7FF, 0x0001_00FF};
    private static final int LVT_MASKED = 1 << 16;

    /** Version 0x14 (integrated APIC) with the index of the last LVT entry in bits 23:16. */
    private static final int VERSION = 0x14 | ((LVT_COUNT - 1) << 16);

    private static final int SVR_ENABLE = 1 << 8;
    private static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
    private static final int ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
    private static final int ESR_ILLEGAL_REGISTER = 1 << 7;

    private final ApicBus bus;
    private final GuestClock clock;
    private final TimerScheduler scheduler;
    private volatile ExtIntSource extIntSource = ExtIntSource.NONE;
    private volatile Runnable wakeup = () -> { };

    // Read lock-free: by the bus when matching destinations, by the CPU's MMU on every non-RAM page.
    private volatile long apicBase;
    private volatile int id;
    private volatile int ldr;
    private volatile int dfr;

    // Guarded by this.
    private int tpr;
    private int svr;
    private int esrAccumulated;
    private int esr;
    private int icrLow;
    private int icrHigh;
    private final int[] lvt = new int[LVT_COUNT];
    private final VectorSet irr = new VectorSet();
    private final VectorSet isr = new VectorSet();
    private final VectorSet tmr = new VectorSet();
    private final ApicTimer timer = new ApicTimer();
    private TimerScheduler.Timer armedTimer;
    private long timerGeneration;
    private boolean lint0Level;
    private boolean lint1Level;

    /** Highest IRR vector that beats the processor priority, or -1; recomputed on every change. */
    private volatile int deliverable = -1;
    /** LINT0 carries the PIC's INTR to the CPU (ExtINT mode, or the APIC hardware-disabled). */
    private volatile boolean extIntActive;
    private volatile long nextTimerNanos = ApicTimer.NONE;
    /** The owning vCPU expires the timer itself ({@link #keepTimerOnCpu}): no task on the scheduler. */
    private volatile boolean timerOnCpu;

    private final AtomicInteger pendingNmis = new AtomicInteger();
    private final AtomicBoolean pendingInit = new AtomicBoolean();
    private final AtomicInteger pendingSipi = new AtomicInteger(-1);

    public LocalApic(int apicId, boolean bootstrap, ApicBus bus, GuestClock clock, TimerScheduler scheduler) {
        this.bus = bus;
        this.clock = clock;
        this.scheduler = scheduler;
        this.id = apicId & 0xFF;
        this.apicBase = DEFAULT_BASE | BASE_ENABLE | (bootstrap ? BASE_BSP : 0);
        synchronized (this) {
            resetRegisters();
        }
    }

    /** Snapshot: every register, the IRR/ISR/TMR, the timer, line levels and undelivered NMI/INIT/SIPI. */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putLong(apicBase).putInts(new int[] {id, ldr, dfr, tpr, svr, esrAccumulated, esr, icrLow, icrHigh})
                .putInts(lvt).putLongs(irr.words()).putLongs(isr.words()).putLongs(tmr.words());
        timer.save(out);
        out.putBoolean(lint0Level).putBoolean(lint1Level).putInt(pendingNmis.get()).putBoolean(pendingInit.get())
                .putInt(pendingSipi.get());
    }

    /** Takes back {@link #save}'s state (on the restored machine's clock) and re-arms the timer. */
    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        apicBase = in.getLong();
        int[] r = in.getInts(9);
        id = r[0] & 0xFF; ldr = r[1]; dfr = r[2]; tpr = r[3]; svr = r[4]; esrAccumulated = r[5]; esr = r[6];
        icrLow = r[7]; icrHigh = r[8];
        in.readInts(lvt);
        irr.load(in.getLongs(4));
        isr.load(in.getLongs(4));
        tmr.load(in.getLongs(4));
        timer.restore(in);
        lint0Level = in.getBoolean();
        lint1Level = in.getBoolean();
        pendingNmis.set(in.getInt());
        pendingInit.set(in.getBoolean());
        pendingSipi.set(in.getInt());
        in.end();
        updateDeliverable();
        updateExtInt();
        rearmTimer();
    }

    /** Connects the 8259 pair behind LINT0 (APIC 0 only, as on a PC). */
    void connectExtInt(ExtIntSource source) { extIntSource = source; }

    public int id() { return id; }

    // ---- CpuInterruptPort ------------------------------------------------------------------------

    @Override
    public int pendingVector() {
        int v = deliverable;
        if (v >= 0) return v;
        return extIntActive ? extIntSource.pendingVector() : -1;
    }

    @Override
    public int acknowledge() {
        synchronized (this) {
            int v = deliverable;
            if (v >= 0) {
                irr.clear(v);
                isr.set(v);
                updateDeliverable();
                return v;
            }
        }
        // ExtINT vectors come from the PIC's INTA cycle and never enter the ISR.
        return extIntActive ? extIntSource.acknowledge() : -1;
    }

    @Override
    public boolean takeNmi() {
        return pendingNmis.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0;
    }

    @Override
    public boolean takeInit() { return pendingInit.getAndSet(false); }

    @Override
    public int takeSipi() { return pendingSipi.getAndSet(-1); }

    @Override
    public synchronized void setCr8(long cr8) {
        tpr = (int) (cr8 & 0xF) << 4;
        updateDeliverable();
    }

    @Override
    public synchronized long cr8() { return tpr >>> 4; }

    @Override
    public long apicBase() { return apicBase; }

    @Override
    public long mmioRead(long offset, int size) {
        int reg = (int) offset & 0xFF0;
        int within = (int) offset & 0xF;
        long value;
        synchronized (this) {
            if (!hardwareEnabled() || within >= 4) return 0;
            value = Integer.toUnsignedLong(readRegister(reg));
        }
        value >>>= within * 8;
        return size >= 4 ? value : value & ((1L << (size * 8)) - 1);
    }

    @Override
    public void mmioWrite(long offset, int size, long value) {
        // The SDM defines only aligned 32-bit accesses; anything else is dropped like on hardware.
        if ((offset & 0xF) != 0 || size < 4) {
            LOG.warn("access size", () -> String.format("APIC %d: %d-byte write at 0x%x ignored", id, size, offset));
            return;
        }
        Runnable after;
        synchronized (this) {
            if (!hardwareEnabled()) return;
            after = writeRegister((int) offset & 0xFF0, (int) value);
        }
        if (after != null) after.run();
    }

    @Override
    public Long readMsr(int index) {
        return switch (index) {
            case MSR_APIC_BASE -> apicBase();
            case MSR_TSC_DEADLINE -> {
                synchronized (this) {
                    yield timer.tscDeadline();
                }
            }
            default -> null;
        };
    }

    @Override
    public boolean writeMsr(int index, long value) {
        switch (index) {
            case MSR_APIC_BASE -> {
                return writeApicBase(value);
            }
            case MSR_TSC_DEADLINE -> {
                synchronized (this) {
                    if (!hardwareEnabled()) return true;
                    timer.setTscDeadline(value, hostNanosAtTsc(value));
                    rearmTimer();
                }
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    @Override
    public long nextEventNanos() { return nextTimerNanos; }

    @Override
    public void setWakeup(Runnable wakeup) { this.wakeup = wakeup; }

    @Override
    public synchronized void keepTimerOnCpu() {
        timerOnCpu = true;
        rearmTimer(); // drops a task armed before
    }

    @Override
    public void expireTimer(long nowNanos) {
        if (nowNanos < nextTimerNanos) return; // NONE is Long.MAX_VALUE: never due
        synchronized (this) {
            rearmTimer(); // fires what is due and moves the deadline on
        }
    }

    // ---- Inputs from the rest of the machine ------------------------------------------------------

    /** True if this APIC is addressed by an xAPIC {@code destination} (flat or cluster logical model). */
    boolean matchesDestination(int destination, boolean logical) {
        if (destination == 0xFF) return true;
        if (!logical) return destination == id;
        int logicalId = ldr >>> 24;
        if ((dfr >>> 28) == 0xF) return (logicalId & destination) != 0;
        return (logicalId >>> 4) == (destination >>> 4) && (logicalId & destination & 0xF) != 0;
    }

    /** True if a fixed interrupt sent now would be accepted (the APIC is enabled in hardware and software). */
    synchronized boolean acceptsFixed() { return hardwareEnabled() && softwareEnabled(); }

    /** An interrupt message addressed to this APIC. */
    void accept(ApicMessage message) {
        synchronized (this) {
            if (!hardwareEnabled()) return;
            switch (message.mode()) {
                case FIXED, LOWEST_PRIORITY -> acceptFixed(message.vector(), message.levelTriggered());
                case NMI -> pendingNmis.incrementAndGet();
                case INIT -> {
                    resetRegisters();
                    pendingInit.set(true);
                }
                case STARTUP -> pendingSipi.set(message.vector());
                case SMI, EXTINT -> {
                    LOG.warn("message mode", () -> "APIC " + id + ": " + message.mode() + " message not supported, dropped");
                    return;
                }
            }
        }
        wakeup.run();
    }

    /**
     * Level of local interrupt pin LINT0 or LINT1. LINT0 is the PIC's INTR (virtual wire); the LVT
     * entry decides what an assertion means: ExtINT, NMI, or a fixed vector on the rising edge.
     */
    public void setLint(int pin, boolean level) {
        synchronized (this) {
            boolean previous = pin == 0 ? lint0Level : lint1Level;
            if (pin == 0) lint0Level = level;
            else lint1Level = level;
            updateExtInt();
            if (!level || previous) return;
            if (!hardwareEnabled()) {
                // Without the APIC, LINT1 is the CPU's NMI pin; LINT0 (INTR) is handled by updateExtInt.
                if (pin == 1) pendingNmis.incrementAndGet();
            } else {
                int entry = lvt[pin == 0 ? LVT_LINT0 : LVT_LINT1];
                if ((entry & LVT_MASKED) != 0) return;
                DeliveryMode mode = DeliveryMode.of(entry >>> 8);
                if (mode == DeliveryMode.NMI) pendingNmis.incrementAndGet();
                else if (mode == DeliveryMode.FIXED) acceptLocal(entry & 0xFF);
            }
        }
        wakeup.run();
    }

    // ---- Registers (all called with the monitor held) ---------------------------------------------

    private boolean hardwareEnabled() { return (apicBase & BASE_ENABLE) != 0; }

    private boolean softwareEnabled() { return (svr & SVR_ENABLE) != 0; }

    private void resetRegisters() {
        tpr = 0;
        svr = 0xFF;
        esr = esrAccumulated = 0;
        icrLow = icrHigh = 0;
        ldr = 0;
        dfr = 0xFFFF_FFFF;
        Arrays.fill(lvt, LVT_MASKED);
        irr.clearAll();
        isr.clearAll();
        tmr.clearAll();
        timer.reset();
        rearmTimer();
        updateDeliverable();
        updateExtInt();
    }

    private int readRegister(int reg) {
        return switch (reg) {
            case 0x20 -> id << 24;
            case 0x30 -> VERSION;
            case 0x80 -> tpr;
            case 0x90, 0xB0, 0xC0 -> 0; // arbitration priority (not modelled), EOI and remote read
            case 0xA0 -> processorPriority();
            case 0xD0 -> ldr;
            case 0xE0 -> dfr;
            case 0xF0 -> svr;
            case 0x280 -> esr;
            case 0x300 -> icrLow; // delivery status always idle: delivery is synchronous
            case 0x310 -> icrHigh;
            case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370 -> lvt[(reg - 0x320) >>> 4];
            case 0x380 -> timer.initialCount();
            case 0x390 -> timer.currentCount(clock.nanos());
            case 0x3E0 -> timer.divideConfig();
            default -> {
                if (reg >= 0x100 && reg < 0x180) yield isr.register((reg - 0x100) >>> 4);
                if (reg >= 0x180 && reg < 0x200) yield tmr.register((reg - 0x180) >>> 4);
                if (reg >= 0x200 && reg < 0x280) yield irr.register((reg - 0x200) >>> 4);
                raiseError(ESR_ILLEGAL_REGISTER);
                yield 0;
            }
        };
    }

    /** Applies a register write; returns work to do once the monitor is released, or null. */
    private Runnable writeRegister(int reg, int value) {
        switch (reg) {
            case 0x20 -> id = value >>> 24;
            case 0x80 -> {
                tpr = value & 0xFF;
                updateDeliverable();
            }
            case 0xB0 -> {
                return endOfInterrupt();
            }
            case 0xD0 -> ldr = value & 0xFF00_0000;
            case 0xE0 -> dfr = value | 0x0FFF_FFFF;
            case 0xF0 -> writeSpuriousVector(value);
            case 0x280 -> { // a write moves the errors seen since the last write into the readable ESR
                esr = esrAccumulated;
                esrAccumulated = 0;
            }
            case 0x300 -> {
                return sendIpi(value);
            }
            case 0x310 -> icrHigh = value & 0xFF00_0000;
            case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370 -> writeLvt((reg - 0x320) >>> 4, value);
            case 0x380 -> {
                timer.setInitialCount(value, clock.nanos());
                rearmTimer();
            }
            case 0x3E0 -> {
                timer.setDivideConfig(value, clock.nanos());
                rearmTimer();
            }
            default -> {
                // Read-only registers (version, PPR, ISR/TMR/IRR, current count) ignore writes.
                boolean readOnly = reg == 0x30 || reg == 0xA0 || reg == 0x390 || (reg >= 0x100 && reg < 0x280);
                if (!readOnly) raiseError(ESR_ILLEGAL_REGISTER);
            }
        }
        return null;
    }

    private void writeSpuriousVector(int value) {
        svr = value & 0x3FF;
        if (!softwareEnabled()) {
            for (int i = 0; i < LVT_COUNT; i++) lvt[i] |= LVT_MASKED;
            updateExtInt();
        }
    }

    private void writeLvt(int index, int value) {
        int entry = value & LVT_WRITABLE[index];
        if (!softwareEnabled()) entry |= LVT_MASKED; // a software-disabled APIC keeps every LVT masked
        lvt[index] = (lvt[index] & ~LVT_WRITABLE[index]) | entry;
        if (index == LVT_TIMER) {
            timer.setMode(ApicTimer.modeOf(entry));
            rearmTimer();
        } else if (index == LVT_LINT0) {
            updateExtInt();
        }
    }

    private Runnable endOfInterrupt() {
        int vector = isr.highest();
        if (vector < 0) return null;
        isr.clear(vector);
        updateDeliverable();
        // Level-triggered interrupts tell the I/O APIC to clear Remote IRR (EOI broadcast).
        return tmr.contains(vector) ? () -> bus.broadcastEoi(vector) : null;
    }

    private Runnable sendIpi(int value) {
        icrLow = value & ~(1 << 12);
        DeliveryMode mode = DeliveryMode.of(value >>> 8);
        int vector = value & 0xFF;
        boolean levelTriggered = (value & (1 << 15)) != 0;
        boolean assertLevel = (value & (1 << 14)) != 0;
        if (mode == null) {
            LOG.warn("icr mode", () -> String.format("APIC %d: ICR 0x%x has a reserved delivery mode, not sent", id, value));
            return null;
        }
        // "INIT level de-assert" only resynchronizes arbitration ids on old systems: nothing to deliver.
        if (mode == DeliveryMode.INIT && levelTriggered && !assertLevel) return null;
        if ((mode == DeliveryMode.FIXED || mode == DeliveryMode.LOWEST_PRIORITY) && vector < 16) {
            raiseError(ESR_SEND_ILLEGAL_VECTOR);
            return null;
        }
        var message = new ApicMessage(icrHigh >>> 24, (value & (1 << 11)) != 0, mode, vector, false,
                ApicMessage.Shorthand.values()[(value >>> 18) & 3]);
        return () -> bus.deliver(message, this);
    }

    private void acceptFixed(int vector, boolean levelTriggered) {
        if (!softwareEnabled()) return; // a software-disabled APIC discards fixed interrupts
        if (vector < 16) {
            raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
            return;
        }
        irr.set(vector);
        tmr.assign(vector, levelTriggered);
        updateDeliverable();
    }

    /** An edge-triggered interrupt from this APIC's own LVT (timer, LINT, error). */
    private void acceptLocal(int vector) { acceptFixed(vector, false); }

    private void raiseError(int bit) {
        boolean fresh = (esrAccumulated & bit) == 0;
        esrAccumulated |= bit;
        int entry = lvt[LVT_ERROR];
        // Checking freshness stops a bad error vector from re-raising itself endlessly.
        if (fresh && (entry & LVT_MASKED) == 0) acceptLocal(entry & 0xFF);
    }

    private int processorPriority() {
        int inService = isr.highest();
        int isrClass = inService < 0 ? 0 : inService & 0xF0;
        return (tpr & 0xF0) >= isrClass ? tpr : isrClass;
    }

    private void updateDeliverable() {
        int v = irr.highest();
        deliverable = v >= 0 && (v & 0xF0) > (processorPriority() & 0xF0) ? v : -1;
    }

    private void updateExtInt() {
        int entry = lvt[LVT_LINT0];
        boolean routed = !hardwareEnabled()
                || ((entry & LVT_MASKED) == 0 && DeliveryMode.of(entry >>> 8) == DeliveryMode.EXTINT);
        extIntActive = lint0Level && routed;
    }

    private boolean writeApicBase(long value) {
        long reserved = ~(BASE_ADDRESS | BASE_BSP | BASE_X2APIC | BASE_ENABLE);
        if ((value & reserved) != 0 || (value & BASE_X2APIC) != 0) return false;
        synchronized (this) {
            boolean disabling = hardwareEnabled() && (value & BASE_ENABLE) == 0;
            apicBase = (value & ~BASE_BSP) | (apicBase & BASE_BSP);
            // Disabling loses all state: re-enabling gives the power-up register values (SDM 10.4.3).
            if (disabling) resetRegisters();
            updateExtInt();
        }
        return true;
    }

    // ---- Timer ------------------------------------------------------------------------------------

    /** Host time at which the TSC reaches {@code tsc}; a TSC the host clock cannot reach counts as never. */
    private long hostNanosAtTsc(long tsc) {
        long nanos = clock.nanosAtTsc(tsc);
        boolean unreachable = tsc < 0 || nanos < clock.nanosAtTsc(0); // unsigned ≥ 2^63, or overflow
        return unreachable ? ApicTimer.NONE - 1 : nanos;
    }

    /** Replaces the scheduled expiry task with one for the timer's current deadline. */
    private void rearmTimer() {
        if (armedTimer != null) {
            armedTimer.cancel();
            armedTimer = null;
        }
        long now = clock.nanos();
        while (timer.deadline() <= now) fireTimer(now); // e.g. a TSC deadline already in the past
        long deadline = timer.deadline();
        nextTimerNanos = deadline;
        if (deadline == ApicTimer.NONE || timerOnCpu) return;
        long generation = ++timerGeneration;
        armedTimer = scheduler.schedule(deadline, () -> onTimerTask(generation));
    }

    private void onTimerTask(long generation) {
        synchronized (this) {
            if (generation != timerGeneration) return; // re-armed or stopped since
            armedTimer = null;
            rearmTimer();
        }
        wakeup.run();
    }

    private void fireTimer(long now) {
        if (timer.expire(now) && (lvt[LVT_TIMER] & LVT_MASKED) == 0) acceptLocal(lvt[LVT_TIMER] & 0xFF);
    }
}
