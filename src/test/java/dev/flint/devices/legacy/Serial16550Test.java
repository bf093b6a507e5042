package dev.flint.devices.legacy;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.testing.Await;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;

import static dev.flint.devices.legacy.Serial16550.*;
import static org.junit.jupiter.api.Assertions.*;

class Serial16550Test {
    private final RecordingInterrupts irq = new RecordingInterrupts();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Serial16550 uart = new Serial16550(irq, 4, out);

    private int rd(int reg) { return (int) uart.read(reg, 1); }
    private void wr(int reg, int v) { uart.write(reg, 1, v); }

    private void offer(String s) {
        if ((rd(MCR) & MCR_RTS) == 0) wr(MCR, rd(MCR) | MCR_RTS);
        byte[] b = s.getBytes();
        assertEquals(b.length, uart.offerInput(b, 0, b.length));
    }

    @Test
    void transmittedBytesReachTheConsoleAndTransmitterStaysEmpty() {
        for (char c : "hi\n".toCharArray()) wr(RBR_THR, c);
        assertEquals("hi\n", out.toString());
        assertEquals(LSR_THRE | LSR_TEMT, rd(LSR));
    }

    @Test
    void divisorLatchSharesOffsetsZeroAndOne() {
        wr(LCR, 0x83);
        wr(RBR_THR, 0x01);
        wr(IER, 0x00);
        assertEquals(0x01, rd(RBR_THR));
        wr(LCR, 0x03);
        assertEquals(0, rd(IER), "IER untouched by divisor writes");
        assertEquals("", out.toString(), "DLL write is not transmitted");
        wr(SCR, 0x5A);
        assertEquals(0x5A, rd(SCR));
    }

    @Test
    void receivedDataSetsDrAndRaisesIrqOnlyWithOut2() {
        wr(IER, IER_RDA);
        offer("a");
        assertEquals(IIR_RDA, rd(IIR_FCR) & 0x0F);
        assertFalse(irq.level(4), "OUT2 clear: the PC's IRQ driver is off");
        wr(MCR, MCR_OUT2 | MCR_DTR | MCR_RTS);
        assertTrue(irq.level(4));
        assertEquals(LSR_DR, rd(LSR) & LSR_DR);
        assertEquals('a', rd(RBR_THR));
        assertFalse(irq.level(4));
        assertEquals(IIR_NONE, rd(IIR_FCR));
    }

    @Test
    void interruptIdentificationFollowsPriority() {
        wr(MCR, MCR_OUT2);
        wr(IIR_FCR, 0); // FIFO off: one-byte receiver, so a loopback byte beyond it overruns
        wr(IER, IER_RDA | IER_THRE | IER_RLS | IER_MS);
        assertEquals(IIR_THRE, rd(IIR_FCR), "enabling THRE interrupts with THR empty raises one");
        assertEquals(IIR_NONE, rd(IIR_FCR), "reading IIR acknowledged THRE");
        wr(MCR, MCR_OUT2 | MCR_LOOP);
        wr(RBR_THR, 'x');
        wr(RBR_THR, 'y'); // overrun: receiver holds one byte
        assertEquals(IIR_RLS, rd(IIR_FCR), "line status beats received data");
        assertEquals(LSR_OE, rd(LSR) & LSR_OE);
        assertEquals(0, rd(LSR) & LSR_OE, "reading LSR clears the error");
        assertEquals(IIR_RDA, rd(IIR_FCR), "then received data");
        assertEquals('x', rd(RBR_THR));
        assertEquals(IIR_THRE, rd(IIR_FCR), "then the transmitter empty condition");
        assertEquals(IIR_MS, rd(IIR_FCR), "then modem status (loopback changed CTS/DSR/DCD)");
        rd(MSR);
        assertEquals(IIR_NONE, rd(IIR_FCR));
    }

    @Test
    void loopbackEchoesAndMirrorsModemLinesWithoutIrq() {
        wr(IER, IER_RDA);
        wr(MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
        wr(RBR_THR, 0x42);
        assertEquals("", out.toString());
        assertFalse(irq.level(4), "loopback disconnects the IRQ pin");
        assertEquals(MSR_CTS | MSR_DCD, rd(MSR) & 0xF0);
        assertEquals(0x42, rd(RBR_THR));
        wr(MCR, MCR_OUT2);
        assertEquals(MSR_CTS | MSR_DSR | MSR_DCD, rd(MSR) & 0xF0, "a ready modem outside loopback");
    }

    @Test
    void fifoReportsTimeoutBelowTriggerAndDataAtTrigger() {
        wr(MCR, MCR_OUT2 | MCR_RTS);
        wr(IIR_FCR, 0x81); // FIFO on, trigger 8
        wr(IER, IER_RDA);
        offer("abc");
        assertEquals(IIR_FIFO | IIR_TIMEOUT, rd(IIR_FCR));
        offer("defgh");
        assertEquals(IIR_FIFO | IIR_RDA, rd(IIR_FCR));
        assertEquals(8, uart.offerInput(new byte[20], 0, 20), "16-byte FIFO: 8 more fit");
        StringBuilder got = new StringBuilder();
        while ((rd(LSR) & LSR_DR) != 0) got.append((char) rd(RBR_THR));
        assertEquals("abcdefgh" + "\0".repeat(8), got.toString());
        wr(IIR_FCR, 0x00);
        assertEquals(1, uart.offerInput(new byte[] {1, 2}, 0, 2), "FIFO off: holding register only");
    }

    @Test
    void consoleThreadWaitsForRoomInsteadOfBuffering() throws Exception {
        byte[] input = new byte[100];
        for (int i = 0; i < input.length; i++) input[i] = (byte) i;
        try (LegacyDevices devices = LegacyDevicesTestSupport.withConsole(new java.io.ByteArrayInputStream(input))) {
            Serial16550 s = devices.serial();
            Await.until("the console thread waits for RTS", () -> s.inputWaits() > 0);
            assertEquals(0, s.read(LSR, 1) & LSR_DR, "nothing is sent before the guest raises RTS");
            s.write(MCR, 1, MCR_RTS | MCR_DTR | MCR_OUT2);
            int[] count = {0};
            Await.until("all " + input.length + " bytes arrived", () -> {
                while ((s.read(LSR, 1) & LSR_DR) != 0) {
                    assertEquals(count[0], s.read(RBR_THR, 1), "bytes arrive in order, none lost");
                    count[0]++;
                }
                return count[0] == input.length;
            });
        }
    }
}
