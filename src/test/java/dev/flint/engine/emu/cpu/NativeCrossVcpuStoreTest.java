package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.HexFormat;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What a vCPU running chained native code sees when another thread (another vCPU, a device) stores into that code
 * while it runs (docs/emu-native.md, "emuon"). Chained blocks check no code version between themselves, so the old
 * translation may run on until the {@link Cpu#execute} call in progress returns (at most its budget: a slice);
 * every call that starts after the store is visible enters from Java, where the page's version drops the stale
 * chains, and runs only the new code. x86 leaves cross-modifying code to the guest the same way: the executing
 * processor must serialize (CPUID, IRET, an interrupt: all of them end native runs) before it may count on the new
 * bytes. The JVM tiers' compiled regions give the same bound (they leave only on their own vCPU's code stores).
 */
class NativeCrossVcpuStoreTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    @Timeout(60)
    void aStoreFromAnotherThreadIsRunByEveryExecuteCallThatStartsAfterIt() throws Exception {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        // E at 0: add ebx, 1; jmp M | 5: hlt (never) | M at 6: add eax, imm32 (imm at 7); jmp E. E never changes and
        // is chained to M, so an entry at E from Java reaches M through the chain only.
        byte[] code = HEX.parseHex("83c301" + "eb01" + "f4" + "0501000000" + "ebf3");
        EmuTestRig.State initial = EmuTestRig.State.of(new long[16], 2);
        int perCall = 1000; // instructions per execute call: 250 passes of the two blocks
        new EmuTestRig().nativeTier(true).session(code, initial, 0, s -> {
            Cpu cpu = s.cpu();
            for (int i = 0; i < 20; i++) cpu.execute(perCall);
            assertTrue(cpu.nativeChains().made() >= 2, "E and M chained: " + cpu.nativeChains().made());
            AtomicBoolean written = new AtomicBoolean();
            CountDownLatch go = new CountDownLatch(1);
            Thread other = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                s.memory().writeByte(EmuTestRig.CODE_BASE + 7, (byte) 2); // add eax, 2
                written.set(true);
            }, "other-vcpu");
            other.start();
            int callsAfter = 0, callsSeeingItEarly = 0;
            long calls = 0;
            go.countDown();
            while (callsAfter < 50 && calls++ < 10_000_000) {
                boolean after = written.get(); // the store happened before this call started
                long eax = s.state().gpr[0] & 0xFFFF_FFFFL, ebx = s.state().gpr[3] & 0xFFFF_FFFFL;
                long ran = cpu.statistics().instructions();
                cpu.execute(perCall);
                ran = cpu.statistics().instructions() - ran;
                long passes = ((s.state().gpr[3] & 0xFFFF_FFFFL) - ebx);
                long added = (s.state().gpr[0] & 0xFFFF_FFFFL) - eax;
                assertEquals(perCall, ran, "a call runs its whole budget");
                if (after) {
                    callsAfter++;
                    assertEquals(2 * passes, added, "call " + calls + " started after the store: every pass adds 2");
                } else {
                    assertTrue(added >= passes && added <= 2 * passes, "old or new code, nothing else: " + added);
                    if (added > passes) callsSeeingItEarly++; // the call in progress at the store, or one started before the flag

                }
            }
            assertEquals(50, callsAfter, "the store became visible");
            assertTrue(callsSeeingItEarly <= 2, "calls that ran the new code before the flag said so: " + callsSeeingItEarly);
            assertTrue(cpu.statistics().nativeInstructions() > 40_000, "ran natively: " + cpu.statistics().nativeInstructions());
            return null;
        });
    }
}
