package dev.flint.engine.emu;

import dev.flint.engine.Engine;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.engine.emu.cpu.FpuUnit;

import java.util.function.IntFunction;

/**
 * Flint's own x86-64 CPU: runs anywhere a JVM does, no hardware virtualization needed.
 *
 * <p>Two seams plug in the parts other packages provide: the interrupt controllers
 * ({@link InterruptHardware.Factory}, from {@code engine.emu.irq}) and the x87/SSE units (one
 * {@link FpuUnit} per vCPU, from {@code engine.emu.fpu}).
 */
public final class EmuEngine implements Engine {
    private final InterruptHardware.Factory interrupts;
    private final IntFunction<FpuUnit> fpus;

    /** An engine without interrupt controllers or FPU units (bare-code use only, see {@link InterruptHardware#NONE}). */
    public EmuEngine() { this(InterruptHardware.NONE, cpu -> FpuUnit.none()); }

    public EmuEngine(InterruptHardware.Factory interrupts) { this(interrupts, cpu -> FpuUnit.none()); }

    public EmuEngine(InterruptHardware.Factory interrupts, IntFunction<FpuUnit> fpus) {
        this.interrupts = interrupts;
        this.fpus = fpus;
    }

    @Override
    public String name() { return "emu"; }

    /** The engine with its real parts: local APICs, I/O APIC, PIC and PIT, and the x87/SSE units. */
    public static EmuEngine standard() {
        return new EmuEngine(StandardInterruptHardware::create, cpu -> new dev.flint.engine.emu.fpu.SimdFpuUnit());
    }

    @Override
    public Availability availability() { return Availability.yes(); }

    /** Interpreting the kernel's own xz decompressor would cost billions of guest instructions. */
    @Override
    public boolean unpacksKernelOnHost() { return true; }

    @Override
    public VirtualMachine create(VmSetup setup) {
        GuestClock clock = new GuestClock();
        InterruptHardware hw = interrupts.create(setup, clock);
        return new EmuVirtualMachine(setup, hw, clock, fpus);
    }
}
