package dev.flint.engine.emu.diff;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The architectural state a differential case starts from and ends in: 16 GPRs, RFLAGS, MXCSR,
 * XMM0-15 and the data page. Mutable on purpose: generators fill it field by field.
 */
public final class CpuState {
    public static final String[] GPR_NAMES = {
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    public static final int RSP = 4;

    public final long[] gpr = new long[16];
    public long rflags;
    public int mxcsr = 0x1F80;
    /** XMM registers as (low quadword, high quadword) pairs: xmm[2*i], xmm[2*i+1]. */
    public final long[] xmm = new long[32];
    public final byte[] data = new byte[Layout.DATA_SIZE];

    public CpuState copy() {
        CpuState c = new CpuState();
        System.arraycopy(gpr, 0, c.gpr, 0, 16);
        c.rflags = rflags;
        c.mxcsr = mxcsr;
        System.arraycopy(xmm, 0, c.xmm, 0, 32);
        System.arraycopy(data, 0, c.data, 0, data.length);
        return c;
    }

    public void write(DataOutputStream out) throws IOException {
        for (long v : gpr) {
            out.writeLong(v);
        }
        out.writeLong(rflags);
        out.writeInt(mxcsr);
        for (long v : xmm) {
            out.writeLong(v);
        }
        out.write(data);
    }

    public static CpuState read(DataInputStream in) throws IOException {
        CpuState s = new CpuState();
        for (int i = 0; i < 16; i++) {
            s.gpr[i] = in.readLong();
        }
        s.rflags = in.readLong();
        s.mxcsr = in.readInt();
        for (int i = 0; i < 32; i++) {
            s.xmm[i] = in.readLong();
        }
        in.readFully(s.data);
        return s;
    }

    /**
     * Differences between this (expected, from the host CPU) and {@code actual}, comparing RFLAGS only
     * under {@code flagMask}. Empty when they agree on everything compared.
     */
    public List<String> diff(CpuState actual, long flagMask, boolean compareMxcsr) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            if (gpr[i] != actual.gpr[i]) {
                out.add(String.format("%s: expected %016x got %016x", GPR_NAMES[i], gpr[i], actual.gpr[i]));
            }
        }
        if (((rflags ^ actual.rflags) & flagMask) != 0) {
            out.add(String.format("rflags (mask %03x): expected %s got %s", flagMask,
                    Flags.describe(rflags & flagMask), Flags.describe(actual.rflags & flagMask)));
        }
        if (compareMxcsr && mxcsr != actual.mxcsr) {
            out.add(String.format("mxcsr: expected %04x got %04x", mxcsr, actual.mxcsr));
        }
        for (int i = 0; i < 16; i++) {
            if (xmm[2 * i] != actual.xmm[2 * i] || xmm[2 * i + 1] != actual.xmm[2 * i + 1]) {
                out.add(String.format("xmm%d: expected %016x_%016x got %016x_%016x", i,
                        xmm[2 * i + 1], xmm[2 * i], actual.xmm[2 * i + 1], actual.xmm[2 * i]));
            }
        }
        diffBytes("data", data, actual.data, out);
        return out;
    }

    private static void diffBytes(String what, byte[] expected, byte[] actual, List<String> out) {
        if (Arrays.equals(expected, actual)) {
            return;
        }
        int first = Arrays.mismatch(expected, actual);
        int from = first & ~7;
        int to = Math.min(expected.length, from + 16);
        HexFormat hex = HexFormat.of();
        out.add(String.format("%s+0x%x: expected %s got %s", what, from,
                hex.formatHex(expected, from, to), hex.formatHex(actual, from, to)));
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            sb.append(String.format("%s=%016x%s", GPR_NAMES[i], gpr[i], i % 4 == 3 ? "\n" : " "));
        }
        sb.append(String.format("rflags=%08x (%s) mxcsr=%04x", rflags, Flags.describe(rflags), mxcsr));
        for (int i = 0; i < 16; i++) {
            sb.append(String.format("%sxmm%d=%016x_%016x", i % 2 == 0 ? "\n" : " ", i, xmm[2 * i + 1], xmm[2 * i]));
        }
        return sb.toString();
    }
}
