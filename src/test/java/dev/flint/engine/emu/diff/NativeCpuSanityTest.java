package dev.flint.engine.emu.diff;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The native side must compute known answers before it can judge the software CPU: these cases have
 * results worked out by hand.
 */
class NativeCpuSanityTest extends HostCpuTest {
    private static CpuState state(Layout layout) {
        CpuState s = new CpuState();
        for (int i = 0; i < 16; i++) {
            s.gpr[i] = 0x1111_0000_0000_0000L * (i + 1) + i;
        }
        s.gpr[CpuState.RSP] = layout.dataStackRsp();
        s.rflags = Flags.FIXED;
        return s;
    }

    @Test
    void addSetsCarryOverflowAndZero() throws Exception {
        Layout layout = host.layout();
        CpuState in = state(layout);
        in.gpr[0] = 0x8000_0000_0000_0000L;
        in.gpr[1] = 0x8000_0000_0000_0000L;
        CpuState out = host.run(new byte[] {0x48, 0x01, (byte) 0xC8}, in);     // add rax, rcx
        assertEquals(0, out.gpr[0]);
        assertEquals(Flags.CF | Flags.OF | Flags.ZF | Flags.PF, out.rflags & Flags.STATUS);
        for (int i = 1; i < 16; i++) {
            assertEquals(in.gpr[i], out.gpr[i], CpuState.GPR_NAMES[i] + " must be untouched");
        }
    }

    @Test
    void incrementKeepsCarryAndFlagsRoundTrip() throws Exception {
        Layout layout = host.layout();
        CpuState in = state(layout);
        in.rflags = Flags.FIXED | Flags.CF | Flags.SF;
        in.gpr[2] = 0x7F;
        CpuState out = host.run(new byte[] {(byte) 0xFE, (byte) 0xC2}, in);     // inc dl
        assertEquals(0x80, out.gpr[2] & 0xFF);
        assertEquals(in.gpr[2] & ~0xFFL, out.gpr[2] & ~0xFFL);
        assertEquals(Flags.CF | Flags.OF | Flags.SF | Flags.AF, out.rflags & Flags.STATUS);
    }

    @Test
    void memoryStackAndXmmAreSeen() throws Exception {
        Layout layout = host.layout();
        CpuState in = state(layout);
        in.gpr[3] = layout.data() + 0x10;                                       // rbx -> data+0x10
        in.data[0x10] = 0x44;
        in.xmm[2] = 0x0123_4567_89AB_CDEFL;
        // add byte [rbx], 1; push rbx; movq rax, xmm1 (66 48 0f 7e c8)
        byte[] code = {(byte) 0x80, 0x03, 0x01, 0x53, 0x66, 0x48, 0x0F, 0x7E, (byte) 0xC8};
        CpuState out = host.run(code, in);
        assertEquals(0x45, out.data[0x10]);
        assertEquals(layout.dataStackRsp() - 8, out.gpr[CpuState.RSP]);
        int top = (int) (layout.dataStackRsp() - layout.data());
        byte[] pushed = Arrays.copyOfRange(out.data, top - 8, top);
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = v << 8 | (pushed[i] & 0xFF);
        }
        assertEquals(layout.data() + 0x10, v);
        assertEquals(0x0123_4567_89AB_CDEFL, out.gpr[0]);
    }

    @Test
    void directionFlagAndMxcsrRoundTrip() throws Exception {
        Layout layout = host.layout();
        CpuState in = state(layout);
        in.mxcsr = 0x1F80 | 0x6000;                                              // round toward zero
        CpuState out = host.run(new byte[] {(byte) 0xFD}, in);                   // std
        assertEquals(Flags.DF, out.rflags & Flags.DF);
        assertEquals(0x7F80, out.mxcsr);
    }

    @Test
    void storeIntoTheNextInstructionIsSeen() throws Exception {
        CpuState in = state(host.layout());
        in.gpr[0] = 10;
        // mov byte [rip+2], 5 ; add eax, 0  -> the add executes as add eax, 5
        CpuState out = host.run(new byte[] {(byte) 0xC6, 0x05, 2, 0, 0, 0, 5, (byte) 0x83, (byte) 0xC0, 0}, in);
        assertEquals(15, out.gpr[0]);
    }
}
