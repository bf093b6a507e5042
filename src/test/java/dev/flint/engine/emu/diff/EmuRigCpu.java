package dev.flint.engine.emu.diff;

import dev.flint.engine.emu.EmuTestRig;

/**
 * Adapts {@link EmuTestRig} (Flint's software CPU in a minimal 64-bit machine) to {@link SoftwareCpu}.
 * The rig's addresses are the {@link Layout#RIG} the native side maps, so the same bytes see the same
 * pointers. Runs at CPL 3 like the native side (a user process), so POPF treats IF/IOPL the same way.
 */
final class EmuRigCpu implements SoftwareCpu {
    /** Enough for the longest REP string op in a sequence; a runaway loop ends as a divergence. */
    private static final long MAX_INSTRUCTIONS = 100_000;

    private final TestFpuUnit fpu = new TestFpuUnit();
    /** Replaying: each sequence runs twice, so decoded-block replay and its fast forms are compared too. */
    private final EmuTestRig rig = new EmuTestRig(fpu).replays(true);

    @Override
    public CpuState run(Layout layout, TestCase c) {
        if (!layout.equals(Layout.RIG)) {
            throw new IllegalArgumentException("the rig has fixed addresses: " + Layout.RIG);
        }
        CpuState in = c.initial();
        fpu.mxcsrAtReset(in.mxcsr);
        EmuTestRig.State start = new EmuTestRig.State(in.gpr, in.rflags, layout.sequenceStart(), in.xmm);
        // The tiers may differ in the flags the sequence leaves undefined, as the host does (the mask it is compared under).
        EmuTestRig.Result r = rig.tierFlagMask(c.flagMask()).run(c.code(), start, in.data, 3, MAX_INSTRUCTIONS);
        if (r.stop() != EmuTestRig.Stop.END) {
            throw new IllegalStateException(String.format("software CPU stopped with %s (vector %d, error %d) at rip %x",
                    r.stop(), r.faultVector(), r.errorCode(), r.state().rip()));
        }
        CpuState out = new CpuState();
        System.arraycopy(r.state().gpr(), 0, out.gpr, 0, 16);
        out.rflags = r.state().rflags();
        System.arraycopy(r.state().xmm(), 0, out.xmm, 0, 32);
        System.arraycopy(r.data(), 0, out.data, 0, Layout.DATA_SIZE);
        out.mxcsr = fpu.mxcsr();
        return out;
    }
}
