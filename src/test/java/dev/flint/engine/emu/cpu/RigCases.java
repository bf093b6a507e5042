package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Shared helpers for the instruction-group tests: each case runs one snippet in {@link EmuTestRig} at
 * CPL 3 and compares every GPR, the defined flags and the first 32 bytes of the data page with what
 * the same snippet produced on real hardware. RSP starts at 0x2FF000 (a free page in the rig).
 */
final class RigCases {
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
            R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
    /** The data page contents every case starts with. */
    static final String D = "00112233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708";
    private static final long INITIAL_RSP = 0x2F_F000L;
    private static final String[] NAMES = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

    private RigCases() {}

    /** Register/value pairs. */
    static long[] regs(long... pairs) { return pairs; }

    static void check(String asm, String code, long[] in, long flags, String data,
                      long[] changed, long expectFlags, long flagMask, String expectData) {
        long[] gpr = new long[16];
        gpr[RSP] = INITIAL_RSP;
        for (int i = 0; i < in.length; i += 2) gpr[(int) in[i]] = in[i + 1];
        long[] expect = gpr.clone();
        for (int i = 0; i < changed.length; i += 2) expect[(int) changed[i]] = changed[i + 1];
        byte[] bytes = HexFormat.of().parseHex(data);
        EmuTestRig.Result r = new EmuTestRig().run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, flags), bytes, 3);
        assertEquals(EmuTestRig.Stop.END, r.stop(), () -> asm + ": stopped with vector " + r.faultVector());
        for (int i = 0; i < 16; i++) {
            int n = i;
            assertEquals(expect[i], r.state().gpr()[i], () -> asm + ": " + NAMES[n]);
        }
        assertEquals(Long.toHexString(expectFlags & flagMask), Long.toHexString(r.state().rflags() & flagMask),
                () -> asm + ": rflags");
        byte[] after = java.util.Arrays.copyOf(r.data(), expectData.length() / 2);
        assertEquals(expectData, HexFormat.of().formatHex(after), () -> asm + ": data page");
    }

    /** Runs a snippet that must fault; returns the result for the caller's checks. */
    static EmuTestRig.Result runFaulting(String code, long[] in, int cpl) {
        long[] gpr = new long[16];
        gpr[RSP] = INITIAL_RSP;
        for (int i = 0; i < in.length; i += 2) gpr[(int) in[i]] = in[i + 1];
        return new EmuTestRig().run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 0x202), new byte[0], cpl);
    }
}
