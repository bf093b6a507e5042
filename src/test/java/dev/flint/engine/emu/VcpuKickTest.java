package dev.flint.engine.emu;

import dev.flint.machine.StopReason;
import dev.flint.testing.Await;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A vCPU whose native slice is as long as a native run can be (flint.emu.nativeSlice = 2^40; {@code Cpu} caps one
 * native run at 2^31 - 1 instructions, about a billion passes of the loop below; docs/emu-native.md, "emuexit2"):
 * an interrupt another thread raises is taken, a pause holds it and a stop ends it, each within far fewer passes
 * than such a run (a kick ends it at the next chain entry). Each waits on what the guest shows (a counter in RAM,
 * port writes), never on time; the bound of {@link #FEW} passes leaves the test thread ~0.3 s between reading the
 * counter and asking.
 */
class VcpuKickTest {
    /**
     * At 0x8000: mov rsp, 0x7000; mov rbx, 0x6000; sti; out 0x80 ("1"); L: add qword [rbx], 1; jmp L.
     * The handler of vector 0x40 at 0x8100: mov rax, [rbx]; mov [0x6008], rax (the passes when it came); out 0x80
     * ("2"); out 0x81 (power off); hlt.
     */
    private static final String LOOP = "48c7c400700000" + "48c7c300600000" + "fb" + "b001e680" + "48830301" + "ebfa";
    private static final String HANDLER = "488b03" + "48890425" + "08600000" + "b002e680" + "e681" + "f4";
    /** Far fewer passes than a native run without a kick goes on for (2^30), far more than a kick takes. */
    private static final long FEW = 300_000_000L;

    private static EmuEngineTest.Machine machine() {
        String key = "flint.emu.nativeSlice";
        String old = System.getProperty(key);
        System.setProperty(key, Long.toString(1L << 40));
        try {
            EmuEngineTest.Machine m = new EmuEngineTest.Machine(1);
            m.memory.write(0x8000, HexFormat.of().parseHex(LOOP));
            m.memory.write(0x8100, HexFormat.of().parseHex(HANDLER));
            m.memory.writeLong(0x4000 + 0x40 * 16, 0x8100L | (0x08L << 16) | (0x8EL << 40));
            return m;
        } finally {
            if (old == null) System.clearProperty(key);
            else System.setProperty(key, old);
        }
    }

    private static long passes(EmuEngineTest.Machine m) { return m.memory.readLong(0x6000); }

    /** Starts the guest and waits until its loop has run 5 M passes (natively, far past any slice of 4,096). */
    private static void startAndAwaitTheLoop(EmuEngineTest.Machine m) {
        m.start();
        Await.until("the loop ran 5 M passes", () -> passes(m) > 5_000_000);
    }

    @Test
    void anInterruptRaisedWhileANativeLoopRunsIsTaken() throws Exception {
        try (EmuEngineTest.Machine m = machine()) {
            startAndAwaitTheLoop(m);
            long raised = passes(m);
            m.apics[0].raise(0x40);
            assertInstanceOf(StopReason.PowerOff.class, m.stopped.get(60, TimeUnit.SECONDS));
            assertEquals("1 2 ", m.log.toString(), "the handler ran");
            long taken = m.memory.readLong(0x6008);
            assertTrue(taken - raised < FEW, "taken " + (taken - raised) + " passes after it was raised");
            assertEquals(1, m.apics[0].acknowledged.get());
            m.vm.stop();
        }
    }

    /**
     * The APIC timer kicks nobody (the vCPU expires it itself between slices): its deadline bounds the native slice
     * instead. The guest arms a one-shot timer 1 ms ahead (an OUT to port 0x82, whose device arms the fake APIC's
     * timer) and loops; the timer's interrupt must come within far fewer passes than a native run without the bound.
     */
    @Test
    void theTimersDeadlineEndsANativeRunThatNobodyKicks() throws Exception {
        try (EmuEngineTest.Machine m = machine()) {
            long[] armedAt = {-1};
            m.ports.register(0x82, 1, new dev.flint.machine.bus.BusDevice() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) {
                    armedAt[0] = passes(m);
                    m.apics[0].armTimer(System.nanoTime() + 1_000_000, 0x40);
                }
            }, "arm");
            // mov rsp, 0x7000; mov rbx, 0x6000; sti; out 0x80 ("1"); L: add qword [rbx], 1; cmp qword [rbx], 5000000;
            // jne L; out 0x82 (arm); M: add qword [rbx], 1; jmp M
            m.memory.write(0x8000, HexFormat.of().parseHex("48c7c400700000" + "48c7c300600000" + "fb" + "b001e680"
                    + "48830301" + "48813b404b4c00" + "75f3" + "e682" + "48830301" + "ebfa"));
            m.start();
            assertInstanceOf(StopReason.PowerOff.class, m.stopped.get(60, TimeUnit.SECONDS));
            assertEquals("1 2 ", m.log.toString(), "the timer's handler ran");
            long taken = m.memory.readLong(0x6008);
            assertTrue(armedAt[0] >= 5_000_000, "armed after the first loop: " + armedAt[0]);
            assertTrue(taken - armedAt[0] < FEW, "taken " + (taken - armedAt[0]) + " passes after the timer was armed");
            m.vm.stop();
        }
    }

    @Test
    void aPauseHoldsAVcpuInANativeLoopAndAStopEndsIt() throws Exception {
        try (EmuEngineTest.Machine m = machine()) {
            startAndAwaitTheLoop(m);
            long asked = passes(m);
            CompletableFuture.runAsync(m.vm::pause).get(60, TimeUnit.SECONDS);
            assertEquals(1, m.emu().pausedVcpus(), "pause returned once the vCPU was held");
            long held = passes(m);
            assertTrue(held - asked < FEW, "held " + (held - asked) + " passes after the pause was asked for");
            assertEquals(held, passes(m), "a held vCPU runs nothing");
            m.vm.resume();
            Await.until("the loop runs again", () -> passes(m) > held);
            long stopping = passes(m);
            CompletableFuture.runAsync(m.vm::stop).get(60, TimeUnit.SECONDS);
            assertTrue(passes(m) - stopping < FEW, "stopped " + (passes(m) - stopping) + " passes after it was asked");
        }
    }
}
