package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A hostile guest races a native memory DIV: another thread (another vCPU, or a device writing guest RAM) flips the
 * divisor between 7 and 0 while the vCPU divides by it in a loop. The native form checks the divisor before the
 * host's DIV; if the host divided by a second read of memory, a 0 written between the check and that read would
 * raise #DE on the host and kill the JVM (docs/emu-native.md, "emudiv"). Every division must either give the quotient
 * by 7 or end in the guest's #DE raised by Java at the DIV.
 */
class NativeDivRaceTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    @Timeout(120)
    void aDivisorZeroedByAnotherThreadIsAGuestFaultNeverAHostOne() throws Exception {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        // L: mov eax, 700; xor edx, edx; div qword [rbx]; add rsi, rax; dec rcx; jnz L; hlt
        byte[] code = HEX.parseHex("b8bc020000" + "31d2" + "48f733" + "4801c6" + "48ffc9" + "75ee" + "f4");
        long divisor = EmuTestRig.DATA_BASE;
        long[] gpr = new long[16];
        gpr[3] = divisor; // RBX
        EmuTestRig.State initial = EmuTestRig.State.of(gpr, 2);
        new EmuTestRig().nativeTier(true).session(code, initial, 0, s -> {
            s.memory().writeLong(divisor, 7);
            AtomicBoolean stop = new AtomicBoolean();
            Thread flipper = new Thread(() -> {
                long spins = 0;
                while (!stop.get()) { // 0 and 7 by turns, each for a few dozen nanoseconds
                    s.memory().writeLong(divisor, 0);
                    for (int i = 0; i < 32; i++) spins += i;
                    s.memory().writeLong(divisor, 7);
                    for (int i = 0; i < 32; i++) spins += i;
                }
                if (spins == 42) System.out.print(""); // keeps the spin from being removed
            }, "divisor-flipper");
            flipper.start();
            long faults = 0, quotients = 0;
            try {
                for (int run = 0; run < 100_000; run++) {
                    EmuTestRig.reset(s, initial, 0);
                    s.state().gpr[3] = divisor;
                    s.state().gpr[1] = 2_000; // RCX: divisions this run
                    s.state().gpr[6] = 0;
                    long rsi = 0;
                    while (true) {
                        int exit = s.cpu().execute(4_096);
                        if (exit == Cpu.EXIT_FAULT) {
                            assertEquals(0, s.cpu().lastFault().vector, "only #DE");
                            assertEquals(EmuTestRig.CODE_BASE + 7, s.state().rip, "#DE at the DIV");
                            faults++;
                            break;
                        }
                        if (exit == Cpu.EXIT_HALT) break;
                    }
                    rsi = s.state().gpr[6];
                    assertEquals(0, rsi % 100, "every quotient was 700 / 7: " + rsi);
                    quotients += rsi / 100;
                }
            } finally {
                stop.set(true);
            }
            assertTrue(faults > 0, "the race reached the guest's #DE");
            assertTrue(s.cpu().statistics().nativeInstructions() > 10_000,
                    "ran natively: " + s.cpu().statistics().nativeInstructions() + ", quotients " + quotients);
            return null;
        });
    }
}
