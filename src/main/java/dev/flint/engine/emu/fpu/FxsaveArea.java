package dev.flint.engine.emu.fpu;

/**
 * The memory images of the FPU state: the 512-byte FXSAVE area, and the 28-byte protected-mode x87
 * environment and 108-byte FSAVE image. All offsets are from Intel SDM vol. 1 §10.5.1 and §8.1.10.
 * x87 registers are stored in stack order (ST0 first); the tag byte of FXSAVE is in physical order.
 * Code and data segment selectors are not tracked and are stored as zero.
 */
final class FxsaveArea {
    static final int SIZE = 512;
    static final int ENV_SIZE = 28;
    static final int FSAVE_SIZE = 108;

    private FxsaveArea() {
    }

    private static void requireAligned16(FpuHost h, long addr) {
        if ((addr & 15) != 0) {
            throw h.fault(13, 0);
        }
    }

    /** FXSAVE; {@code ip64} selects the 64-bit FIP/FDP form (FXSAVE64, i.e. REX.W in 64-bit mode). */
    static void save(FpuState s, FpuHost h, long addr, boolean ip64) {
        requireAligned16(h, addr);
        h.writeMem(addr, 2, s.controlWord);
        h.writeMem(addr + 2, 2, s.statusWord());
        h.writeMem(addr + 4, 2, s.tagValid);
        h.writeMem(addr + 6, 2, s.lastOpcode);
        if (ip64) {
            h.writeMem(addr + 8, 8, s.lastIp);
            h.writeMem(addr + 16, 8, s.lastDp);
        } else {
            h.writeMem(addr + 8, 8, s.lastIp & 0xFFFFFFFFL);
            h.writeMem(addr + 16, 8, s.lastDp & 0xFFFFFFFFL);
        }
        h.writeMem(addr + 24, 4, s.mxcsr);
        h.writeMem(addr + 28, 4, FpuState.MXCSR_MASK);
        for (int i = 0; i < 8; i++) {
            int phys = (s.top + i) & 7;
            long slot = addr + 32 + 16L * i;
            h.writeMem(slot, 8, s.significand[phys]);
            h.writeMem(slot + 8, 8, s.signExponent[phys] & 0xFFFFL);
        }
        for (int i = 0, n = h.longMode() ? 16 : 8; i < n; i++) {
            h.writeMem(addr + 160 + 16L * i, 8, s.xmm[2 * i]);
            h.writeMem(addr + 168 + 16L * i, 8, s.xmm[2 * i + 1]);
        }
    }

    /** FXRSTOR: #GP(0) if the image sets reserved MXCSR bits; nothing is changed in that case. */
    static void restore(FpuState s, FpuHost h, long addr, boolean ip64) {
        requireAligned16(h, addr);
        int mxcsr = (int) h.readMem(addr + 24, 4);
        if ((mxcsr & ~FpuState.MXCSR_MASK) != 0) {
            throw h.fault(13, 0);
        }
        long[] xmm = new long[32];
        int n = h.longMode() ? 16 : 8;
        for (int i = 0; i < n; i++) {
            xmm[2 * i] = h.readMem(addr + 160 + 16L * i, 8);
            xmm[2 * i + 1] = h.readMem(addr + 168 + 16L * i, 8);
        }
        int fcw = (int) h.readMem(addr, 2);
        int fsw = (int) h.readMem(addr + 2, 2);
        int tags = (int) h.readMem(addr + 4, 1);
        int fop = (int) h.readMem(addr + 6, 2) & 0x7FF;
        long fip = h.readMem(addr + 8, 8);
        long fdp = h.readMem(addr + 16, 8);
        int top = (fsw >>> 11) & 7;
        long[] sig = new long[8];
        int[] se = new int[8];
        for (int i = 0; i < 8; i++) {
            int phys = (top + i) & 7;
            sig[phys] = h.readMem(addr + 32 + 16L * i, 8);
            se[phys] = (int) h.readMem(addr + 40 + 16L * i, 2);
        }
        // every read succeeded: commit
        s.controlWord = fcw;
        s.statusWord = fsw & ~0x3800;
        s.top = top;
        s.tagValid = tags;
        s.lastOpcode = fop;
        s.lastIp = ip64 ? fip : fip & 0xFFFFFFFFL;
        s.lastDp = ip64 ? fdp : fdp & 0xFFFFFFFFL;
        s.mxcsr = mxcsr;
        System.arraycopy(sig, 0, s.significand, 0, 8);
        System.arraycopy(se, 0, s.signExponent, 0, 8);
        System.arraycopy(xmm, 0, s.xmm, 0, 2 * n);
    }

    /** FNSTENV, 32-bit protected-mode layout; afterwards every x87 exception is masked (as hardware does). */
    static void storeEnvironment(FpuState s, FpuHost h, long addr) {
        h.writeMem(addr, 4, 0xFFFF0000L | s.controlWord);
        h.writeMem(addr + 4, 4, 0xFFFF0000L | s.statusWord());
        h.writeMem(addr + 8, 4, 0xFFFF0000L | s.fullTagWord());
        h.writeMem(addr + 12, 4, s.lastIp & 0xFFFFFFFFL);
        h.writeMem(addr + 16, 4, (long) s.lastOpcode << 16);
        h.writeMem(addr + 20, 4, s.lastDp & 0xFFFFFFFFL);
        h.writeMem(addr + 24, 4, 0xFFFF0000L);
        s.controlWord |= 0x3F;
    }

    static void loadEnvironment(FpuState s, FpuHost h, long addr) {
        int fcw = (int) h.readMem(addr, 2);
        int fsw = (int) h.readMem(addr + 4, 2);
        int ftw = (int) h.readMem(addr + 8, 2);
        long fip = h.readMem(addr + 12, 4);
        int fop = (int) (h.readMem(addr + 16, 4) >>> 16) & 0x7FF;
        long fdp = h.readMem(addr + 20, 4);
        s.controlWord = fcw;
        s.statusWord = fsw & ~0x3800;
        s.top = (fsw >>> 11) & 7;
        s.setFullTagWord(ftw);
        s.lastIp = fip;
        s.lastOpcode = fop;
        s.lastDp = fdp;
        X87Unit.updateSummary(s);
    }

    /** FNSAVE: environment plus ST0..ST7 as 10-byte values, then FNINIT. */
    static void save87(FpuState s, FpuHost h, long addr) {
        int fcw = s.controlWord;
        storeEnvironment(s, h, addr);
        s.controlWord = fcw;
        for (int i = 0; i < 8; i++) {
            int phys = (s.top + i) & 7;
            h.writeMem(addr + ENV_SIZE + 10L * i, 8, s.significand[phys]);
            h.writeMem(addr + ENV_SIZE + 10L * i + 8, 2, s.signExponent[phys]);
        }
        s.initX87();
    }

    static void restore87(FpuState s, FpuHost h, long addr) {
        long[] sig = new long[8];
        int[] se = new int[8];
        for (int i = 0; i < 8; i++) {
            sig[i] = h.readMem(addr + ENV_SIZE + 10L * i, 8);
            se[i] = (int) h.readMem(addr + ENV_SIZE + 10L * i + 8, 2);
        }
        loadEnvironment(s, h, addr);
        for (int i = 0; i < 8; i++) {
            int phys = (s.top + i) & 7;
            s.significand[phys] = sig[i];
            s.signExponent[phys] = se[i];
        }
    }
}
