package dev.flint.devices.legacy;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.machine.StopReason;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class I8042Test {
    private final RecordingInterrupts irq = new RecordingInterrupts();
    private final List<StopReason> stops = new ArrayList<>();
    private final Bus io = new Bus("io");
    private final LegacyDevices devices = dev.flint.devices.legacy.LegacyDevicesTestSupport.install(io, new Bus("mmio"), irq, stops::add, null,
            OutputStream.nullOutputStream());

    private int status() { return (int) io.read(0x64, 1); }
    private int data() { return (int) io.read(0x60, 1); }
    private void command(int c) { io.write(0x64, 1, c); }
    private void out(int v) { io.write(0x60, 1, v); }

    @Test
    void selfTestAndCommandByteAnswerLikeLinuxExpects() {
        assertEquals(0, status() & I8042.STATUS_OBF, "empty after reset");
        command(0xAA);
        assertEquals(I8042.STATUS_OBF, status() & I8042.STATUS_OBF);
        assertEquals(0x55, data());
        command(0x20);
        int ctr = data();
        command(0x60);
        out(ctr & ~I8042.CTR_XLATE);
        command(0x20);
        assertEquals(ctr & ~I8042.CTR_XLATE, data());
        command(0xAB);
        assertEquals(0x00, data(), "keyboard interface test passes");
    }

    @Test
    void keyboardAnswersResetAndIdentifyWithInterrupts() {
        out(0xFF);
        assertTrue(irq.level(1), "keyboard byte waiting, IRQ 1 enabled in the command byte");
        assertEquals(0xFA, data());
        assertEquals(0xAA, data());
        assertFalse(irq.level(1));
        out(0xF2);
        assertEquals(0xFA, data());
        assertEquals(0xAB, data());
        data();
        out(0xED);
        out(0x07);
        assertEquals(0xFA, data());
        assertEquals(0xFA, data(), "LED parameter acknowledged too");
        assertEquals(7, irq.rises(1), "a fresh edge for every byte, so the guest takes one interrupt per byte");
    }

    @Test
    void auxLoopbackComesBackOnTheAuxChannel() {
        command(0xD3);
        out(0x5A);
        assertEquals(I8042.STATUS_OBF | I8042.STATUS_AUX, status() & (I8042.STATUS_OBF | I8042.STATUS_AUX));
        assertEquals(0x5A, data());
    }

    @Test
    void pulsingTheResetLineResetsTheMachine() {
        command(0xFE);
        assertEquals(List.of(new StopReason.Reset("i8042 reset line")), stops);
    }

    @Test
    void ctrlAltDelIsTypedInTheTranslatedScancodeSet() {
        devices.i8042().sendCtrlAltDel();
        int[] expected = {0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D};
        for (int e : expected) assertEquals(e, data());
        assertEquals(0, status() & I8042.STATUS_OBF);
    }
}
