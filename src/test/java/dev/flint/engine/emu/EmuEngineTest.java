package dev.flint.engine.emu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.StopReason;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;
import dev.flint.testing.Await;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine end to end: vCPU threads, HLT wake-up by an interrupt, SIPI start of a second vCPU, stop. */
class EmuEngineTest {
    /** irq.s at 0x8000: out 1; sti; hlt; out 3; out to 0x81 (power off); handler at 0x8014: out 2; iretq. */
    private static final String BSP = "48c7c400700000b001e680fbf4b003e680e681f4b002e68048cf";
    /** At 0x9000, real mode: mov al, 0x77; out 0x80, al; out 0x81, al; hlt. */
    private static final String AP = "b077e680e681f4";

    static final class Machine implements AutoCloseable { // also VcpuKickTest's
        final GuestMemory memory = GuestMemory.allocate(2L << 20);
        final Bus ports = new Bus("pio");
        final StringBuffer log = new StringBuffer();
        final CompletableFuture<StopReason> stopped = new CompletableFuture<>();
        final FakeInterruptPort[] apics;
        final VirtualMachine vm;

        Machine(int cpus) {
            apics = new FakeInterruptPort[cpus];
            for (int i = 0; i < cpus; i++) apics[i] = new FakeInterruptPort();
            ports.register(0x80, 1, device((v) -> log.append(Long.toHexString(v)).append(' ')), "post");
            ports.register(0x81, 1, device((v) -> stopped.complete(new StopReason.PowerOff())), "poweroff");
            InterruptHardware.Factory hw = (setup, clock) -> new InterruptHardware() {
                @Override public InterruptController controller() { return InterruptHardware.NONE.create(setup, clock).controller(); }
                @Override public dev.flint.engine.emu.irq.CpuInterruptPort cpuPort(int cpu) { return apics[cpu]; }
                @Override public void close() { }
            };
            vm = new EmuEngine(hw).create(new VmSetup(memory, ports, new Bus("mmio"), cpus, stopped::complete));
            memory.writeLong(0x1000, 0x2000 | 7);
            memory.writeLong(0x2000, 0x3000 | 7);
            memory.writeLong(0x3000, 0x87);
            memory.write(0x8000, HexFormat.of().parseHex(BSP));
            memory.write(0x9000, HexFormat.of().parseHex(AP));
            long handler = 0x8014;
            memory.writeLong(0x4000 + 0x40 * 16, (handler & 0xFFFF) | (0x08L << 16) | (0x8EL << 40));
            long[] gdt = {0, Segment.code64(0x08).toGdtEntry(), Segment.data(0x10).toGdtEntry()};
            for (int i = 0; i < gdt.length; i++) memory.writeLong(0x500 + 8L * i, gdt[i]);
        }

        private static BusDevice device(java.util.function.LongConsumer onWrite) {
            return new BusDevice() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { onWrite.accept(value); }
            };
        }

        EmuVirtualMachine emu() { return (EmuVirtualMachine) vm; }

        void start() {
            vm.start(new CpuBootState(0, 0, 0, 0, 0, 0, 0, 0, 0x8000, 2,
                    Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                    Segment.data(0x10), Segment.tss(0x18), Segment.unusable(), 0x500, 23, 0x4000, 4095,
                    CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET, 0x1000, CpuState.CR4_PAE,
                    CpuState.EFER_LME | CpuState.EFER_LMA));
        }

        @Override
        public void close() {
            vm.close();
            memory.close();
        }
    }

    @Test
    void interruptWakesHaltedCpuAndGuestPowersOff() throws Exception {
        try (Machine m = new Machine(1)) {
            m.start();
            Await.until("the guest wrote 1", () -> m.log.toString().equals("1 "));
            Await.until("vCPU 0 sleeps in HLT", () -> m.emu().sleepingInHalt(0));
            m.apics[0].raise(0x40);
            StopReason reason = m.stopped.get(30, TimeUnit.SECONDS);
            assertInstanceOf(StopReason.PowerOff.class, reason);
            assertEquals("1 2 3 ", m.log.toString(), "handler ran between HLT and the code after it");
            assertEquals(1, m.apics[0].acknowledged.get());
            m.vm.stop();
        }
    }

    @Test
    void startupIpiStartsSecondCpuInRealMode() throws Exception {
        try (Machine m = new Machine(2)) {
            m.start();
            Await.until("the guest wrote 1", () -> m.log.toString().startsWith("1 "));
            m.apics[1].sendInitSipi(0x09);
            m.stopped.get(30, TimeUnit.SECONDS);
            assertEquals("1 77 ", m.log.toString());
        }
    }

    /**
     * Pause-loop exiting end to end: vCPU 1 spins on PAUSE for a lock vCPU 0 holds until the spinner has counted
     * 100,000 passes, and yields its thread while it spins; the guest still runs to its end, and vCPU 0, which
     * never ran PAUSE, never yielded. (The holder waits on the spinner's count, not on time, so the spin is
     * long enough at any host load.)
     */
    @Test
    void aVcpuSpinningOnALockTheOtherHoldsYieldsItsThread() throws Exception {
        try (Machine m = new Machine(2)) {
            // vCPU 0, long mode: wait until dword [0x604] >= 100,000; release the lock (byte 0x600); hlt.
            m.memory.write(0x8000, HexFormat.of().parseHex(
                    "813c2504060000a0860100" + "72f3" + "c604250006000000" + "f4"));
            // vCPU 1, real mode: spin: pause; inc dword [0x604]; cmp byte [0x600], 0; jne spin; out 0x77; power off.
            m.memory.write(0x9000, HexFormat.of().parseHex(
                    "f390" + "66ff060406" + "803e000600" + "75f2" + "b077e680e681f4"));
            m.memory.write(0x600, new byte[] {1}); // the lock, held by vCPU 0 from the start
            m.start();
            m.apics[1].sendInitSipi(0x09);
            assertInstanceOf(StopReason.PowerOff.class, m.stopped.get(120, TimeUnit.SECONDS));
            m.vm.stop();
            assertEquals("77 ", m.log.toString(), "vCPU 1 got the lock once vCPU 0 released it");
            assertTrue(m.emu().pauseLoopExits(1) >= 1, "the spinning vCPU yielded: " + m.emu().pauseLoopExits(1));
            assertEquals(0, m.emu().pauseLoopExits(0), "vCPU 0 ran no PAUSE");
        }
    }

    @Test
    void pauseAndResume() throws Exception {
        try (Machine m = new Machine(1)) {
            m.start();
            Await.until("the guest wrote 1", () -> m.log.toString().equals("1 "));
            m.vm.pause();
            assertEquals(1, m.emu().pausedVcpus(), "pause returns once the vCPU is held");
            m.apics[0].raise(0x40); // wakes the vCPU's thread: a paused one must stay held all the same
            assertEquals(1, m.emu().pausedVcpus(), "a paused vCPU stays held when an interrupt comes");
            assertEquals(0, m.apics[0].acknowledged.get(), "a paused vCPU takes no interrupt");
            assertEquals("1 ", m.log.toString());
            m.vm.resume();
            m.stopped.get(30, TimeUnit.SECONDS);
            assertEquals("1 2 3 ", m.log.toString());
        }
    }

    @Test
    void tripleFaultStopsTheVm() throws Exception {
        try (Machine m = new Machine(1)) {
            m.memory.write(0x8000, HexFormat.of().parseHex("0f0b")); // UD2 with an IDT whose gate 6 is empty
            m.start();
            StopReason reason = m.stopped.get(30, TimeUnit.SECONDS);
            StopReason.TripleFault tf = assertInstanceOf(StopReason.TripleFault.class, reason);
            assertTrue(tf.cpuDump().contains("rip="), tf.cpuDump());
        }
    }

}
