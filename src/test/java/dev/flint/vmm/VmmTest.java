package dev.flint.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.arch.x86.BootException;
import dev.flint.arch.x86.Layout;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.engine.Engine.Availability;
import dev.flint.engine.EngineException;
import dev.flint.guest.GuestAssets;
import dev.flint.devices.virtio.balloon.BalloonConfig;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.Smaps;
import dev.flint.machine.StopReason;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The VMM's wiring, proven without a CPU: a fake engine whose "guest" is Java code doing port I/O on the
 * buses the VMM built. What it writes to COM1 must reach the console, what the console sends must reach
 * it, and the devices' stop requests must end the machine with the right reason.
 */
class VmmTest {
    private static Path kernel;

    @TempDir Path tmp;

    @BeforeAll
    static void debianKernel() {
        kernel = GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.err).kernel();
    }

    private static VmConfig config() {
        return VmConfig.builder(kernel).cmdline(VmConfig.DEFAULT_CMDLINE).cpus(2).memoryMib(128).engine("emu").build();
    }

    private static StopReason runToStop(Vmm vmm) throws InterruptedException {
        return vmm.awaitStop(Duration.ofSeconds(30)).orElseThrow(() -> new AssertionError("the machine never stopped"));
    }

    /**
     * Guest RAM is on transparent huge pages unless the machine has a balloon: the balloon hands back 4 KiB pages,
     * and inside a huge page those would lower RSS but free no host memory until the kernel splits the page
     * under pressure (docs/block-path.md, Round 8). 8 MiB the fake guest fills show huge pages, or none.
     */
    @Test
    void guestRamIsOnHugePagesUnlessTheMachineHasABalloon() throws Exception {
        Assumptions.assumeTrue(Smaps.thpMode().equals("madvise"), "only under THP mode madvise does the advice decide");
        Assumptions.assumeTrue(GuestMemory.HUGE_PAGES, "-Dflint.memory.hugepages=false");
        long plain = hugePagesOfFilledRam(config());
        assertTrue(plain >= 2048, "8 MiB filled in a machine without a balloon: " + plain + " kB on huge pages");
        assertEquals(0L, hugePagesOfFilledRam(config().withBalloon(new BalloonConfig(0, false, 0))),
                "a machine with a balloon keeps RAM on 4 KiB pages");
    }

    /** AnonHugePages (kB) of guest RAM after the fake guest wrote every page of 8 MiB at 96 MiB. */
    private static long hugePagesOfFilledRam(VmConfig config) throws Exception {
        AtomicLong huge = new AtomicLong(-1);
        FakeEngine engine = new FakeEngine("emu", Availability.yes(), vm -> {
            GuestMemory ram = vm.setup().memory();
            for (long gpa = 96L << 20; gpa < 104L << 20; gpa += 4096) ram.writeByte(gpa, (byte) 1);
            try {
                huge.set(Smaps.of(ram.segment().address()).get("AnonHugePages"));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            vm.setup().control().requestStop(new StopReason.PowerOff());
        });
        try (Vmm vmm = Vmm.start(config, engine, new Console(InputStream.nullInputStream(), new ByteArrayOutputStream()))) {
            runToStop(vmm);
        }
        return huge.get();
    }

    @Test
    void guestSerialOutputReachesTheConsoleAndPowerOffEndsTheMachine() throws Exception {
        FakeEngine engine = FakeEngine.printingThenPoweringOff("emu", "FLINT_FAKE_BOOT\n");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        StopReason stop;
        long ioOut;
        try (Vmm vmm = Vmm.start(config(), engine, new Console(InputStream.nullInputStream(), console))) {
            stop = runToStop(vmm);
            ioOut = vmm.counters().get("vcpu.exit_io_out");
        }
        assertInstanceOf(StopReason.PowerOff.class, stop);
        assertEquals("FLINT_FAKE_BOOT\n", console.toString(StandardCharsets.UTF_8));
        // Each byte the guest wrote to COM1 was a port write Flint dispatched: the metrics must show them.
        assertTrue(ioOut >= "FLINT_FAKE_BOOT\n".length(), "exit_io_out " + ioOut);
        FakeEngine.FakeVm vm = engine.created.getFirst();
        assertEquals(2, vm.setup().cpus());
        assertEquals(128L << 20, vm.setup().memory().size());
        assertNotNull(vm.bsp, "vCPU 0 got the boot loader's state");
        assertEquals(List.of("start", "stop", "close"), vm.events, "vCPUs are stopped, then the engine closed");
    }

    @Test
    void consoleInputReachesTheGuestThroughCom1() throws Exception {
        // The guest opens the port, then echoes what it receives in upper case: poll LSR.DR, read RBR, write THR.
        FakeEngine engine = new FakeEngine("emu", Availability.yes(), vm -> {
            var io = vm.setup().portIo();
            vm.openSerial();
            StringBuilder line = new StringBuilder();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!line.toString().endsWith("\n") && System.nanoTime() < deadline) {
                if ((io.read(Layout.COM1_PORT + 5, 1) & 1) != 0) line.append((char) io.read(Layout.COM1_PORT, 1));
                else Thread.onSpinWait();
            }
            vm.writeSerial(line.toString().toUpperCase());
            vm.setup().control().requestStop(new StopReason.PowerOff());
        });
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        InputStream keyboard = new ByteArrayInputStream("ping\n".getBytes(StandardCharsets.UTF_8));
        try (Vmm vmm = Vmm.start(config(), engine, new Console(keyboard, console))) {
            assertInstanceOf(StopReason.PowerOff.class, runToStop(vmm));
        }
        assertEquals("PING\n", console.toString(StandardCharsets.UTF_8));
    }

    @Test
    void keyboardControllerResetAndAcpiPowerOffStopTheMachine() throws Exception {
        FakeEngine resetting = new FakeEngine("emu", Availability.yes(),
                vm -> vm.setup().portIo().write(Layout.I8042_COMMAND_PORT, 1, 0xFE));
        try (Vmm vmm = Vmm.start(config(), resetting, Console.none())) {
            assertInstanceOf(StopReason.Reset.class, runToStop(vmm));
        }
        int s5 = 0x20 | (Layout.ACPI_S5_SLEEP_TYPE << 2);
        FakeEngine poweringOff = new FakeEngine("emu", Availability.yes(),
                vm -> vm.setup().portIo().write(Layout.ACPI_SLEEP_CONTROL_PORT, 1, s5));
        try (Vmm vmm = Vmm.start(config(), poweringOff, Console.none())) {
            assertInstanceOf(StopReason.PowerOff.class, runToStop(vmm));
        }
    }

    @Test
    void drivesAndTheEntropyDeviceAreOnPciBusZero() throws Exception {
        Path disk = Files.write(tmp.resolve("disk.img"), new byte[4096]);
        long[] ids = new long[4];
        FakeEngine engine = new FakeEngine("emu", Availability.yes(), vm -> {
            var io = vm.setup().portIo();
            for (int slot = 0; slot < ids.length; slot++) { // config mechanism #1: vendor and device ID of slot
                io.write(Layout.PCI_CONFIG_ADDRESS_PORT, 4, 0x8000_0000L | (slot << 11));
                ids[slot] = io.read(Layout.PCI_CONFIG_DATA_PORT, 4);
            }
            vm.setup().control().requestStop(new StopReason.PowerOff());
        });
        VmConfig config = VmConfig.builder(kernel).cpus(1).memoryMib(128).engine("emu").drives(List.of(new DriveConfig(disk, true))).rng(true).build();
        try (Vmm vmm = Vmm.start(config, engine, Console.none())) {
            assertInstanceOf(StopReason.PowerOff.class, runToStop(vmm));
        }
        assertEquals(0x1042_1AF4L, ids[1], "slot 1: virtio-blk (modern)");
        assertEquals(0x1044_1AF4L, ids[2], "slot 2: virtio-rng (modern)");
        assertEquals(0xFFFF_FFFFL, ids[3], "slot 3: empty");
    }

    @Test
    void aMissingDiskImageFailsTheBuildInOneLine() {
        Path missing = tmp.resolve("nope.img");
        VmConfig config = VmConfig.builder(kernel).cpus(1).memoryMib(128).engine("emu").drives(List.of(new DriveConfig(missing, false))).build();
        FakeEngine engine = FakeEngine.printingThenPoweringOff("emu", "x");
        RuntimeException e = assertThrows(RuntimeException.class, () -> Vmm.start(config, engine, Console.none()));
        assertEquals("disk image not found: " + missing, e.getMessage());
        assertEquals(List.of("stop", "close"), engine.created.getFirst().events);
    }

    @Test
    void stopFromTheHostEndsAWaitingMachine() throws Exception {
        FakeEngine idle = new FakeEngine("emu", Availability.yes(), vm -> {});
        try (Vmm vmm = Vmm.start(config(), idle, Console.none())) {
            assertTrue(vmm.awaitStop(Duration.ofMillis(50)).isEmpty(), "nothing stops an idle guest by itself");
            var stopped = vmm.stopped();
            vmm.pause();
            vmm.resume();
            vmm.stop();
            assertInstanceOf(StopReason.PowerOff.class, runToStop(vmm));
            assertInstanceOf(StopReason.PowerOff.class, stopped.get());
        }
        assertEquals(List.of("start", "pause", "resume", "stop", "close"), idle.created.getFirst().events);
    }

    @Test
    void aFileThatIsNoKernelFailsBeforeAnyVcpuRuns() throws Exception {
        Path text = Files.writeString(tmp.resolve("notes.txt"), "not a kernel\n".repeat(200));
        FakeEngine engine = FakeEngine.printingThenPoweringOff("emu", "x");
        VmConfig config = VmConfig.builder(text).cpus(1).memoryMib(128).engine("emu").build();
        BootException e = assertThrows(BootException.class, () -> Vmm.start(config, engine, Console.none()));
        assertTrue(e.getMessage().contains(text.toString()), e.getMessage());
        assertEquals(List.of("stop", "close"), engine.created.getFirst().events, "the half-built VM is released");
    }

    @Test
    void engineFailureIsPassedOnUnchanged() {
        FakeEngine broken = new FakeEngine("emu", Availability.yes(), vm -> {}) {
            @Override
            public dev.flint.engine.VirtualMachine create(dev.flint.engine.VmSetup setup) {
                throw new EngineException("KVM_CREATE_VM failed: out of memory");
            }
        };
        EngineException e = assertThrows(EngineException.class, () -> Vmm.start(config(), broken, Console.none()));
        assertEquals("KVM_CREATE_VM failed: out of memory", e.getMessage());
    }
}
