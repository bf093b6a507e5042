package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.machine.bus.BusDevice;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A device that throws on a guest's access: the access reads all ones and the guest goes on, as under kvm. */
class FailingDeviceTest {
    @Test
    void aDeviceThrowingOnPortAccessesReadsAllOnesAndTheGuestGoesOn() {
        AtomicInteger calls = new AtomicInteger();
        BusDevice broken = new BusDevice() {
            @Override public long read(long offset, int size) {
                calls.incrementAndGet();
                throw new IllegalStateException("device bug on read");
            }

            @Override public void write(long offset, int size, long value) {
                calls.incrementAndGet();
                throw new IllegalStateException("device bug on write");
            }
        };
        // mov dx, 0x80; in eax, dx; out dx, al; in ax, dx; mov ebx, 1
        byte[] code = HexFormat.of().parseHex("66ba8000" + "ed" + "ee" + "66ed" + "bb01000000");
        long[] gpr = new long[16];
        gpr[0] = 0x1234_5678_9ABC_DEF0L;
        EmuTestRig.Result r = new EmuTestRig().portDevice(0x80, 1, broken)
                .run(code, EmuTestRig.State.of(gpr, 2), new byte[0], 0);
        assertEquals(EmuTestRig.Stop.END, r.stop(), "the guest ran on to the end of its code");
        assertEquals(0xFFFF_FFFFL, r.state().gpr()[0], "32-bit IN read all ones (zero-extended), 16-bit IN too");
        assertEquals(1, r.state().gpr()[3]);
        assertEquals(3, calls.get(), "the device saw every access");
    }
}
