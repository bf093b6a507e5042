package dev.flint.engine.kvm;

import dev.flint.engine.Engine;
import dev.flint.machine.DirtyPages;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.InterruptRoutes;
import dev.flint.machine.NotifyFastPath;
import dev.flint.sys.EventFd;
import dev.flint.machine.StopReason;
import dev.flint.testing.Await;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The KVM engine against this host's /dev/kvm with tiny hand-assembled guests. These run on PVM too
 * (real mode and VMM-built long mode work there), so they exercise the plumbing on every machine that
 * has a /dev/kvm at all.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KvmEngineTest {
    @BeforeAll
    static void needKvm() {
        boolean present = Files.exists(Path.of("/dev/kvm"));
        if (!present) System.err.println("KvmEngineTest skipped: this host has no /dev/kvm");
        assumeTrue(present, "no /dev/kvm on this host");
    }

    @Test
    void portOutAndInReachTheBusDevice() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            var dev = g.portDevice(0x17);
            // mov al,0x42; mov dx,0x500; out dx,al; in al,dx; add al,1; out dx,al; cli; hlt
            g.startRealMode("B042 BA0005 EE EC 0401 EE FA F4");
            assertEquals(new Access(true, 0, 1, 0x42), plain(dev.next()));
            assertEquals(new Access(false, 0, 1, 0x17), plain(dev.next()));
            assertEquals(new Access(true, 0, 1, 0x18), plain(dev.next()));
        }
    }

    @Test
    void stringIoMovesEveryElement() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            var dev = g.portDevice(0x61);
            g.load(0x3000, "48454C4C4F"); // "HELLO"
            // xor ax,ax; mov ds,ax; mov es,ax; cld; mov si,0x3000; mov cx,5; mov dx,0x500; rep outsb;
            // mov di,0x3100; mov cx,3; rep insb; mov dx,0x501; out dx,al; cli; hlt
            g.startRealMode("31C0 8ED8 8EC0 FC BE0030 B90500 BA0005 F36E BF0031 B90300 F36C BA0105 EE FA F4");
            StringBuilder out = new StringBuilder();
            for (int i = 0; i < 5; i++) {
                var a = dev.next();
                assertTrue(a.write());
                out.append((char) a.value());
            }
            assertEquals("HELLO", out.toString());
            for (int i = 0; i < 3; i++) assertFalse(dev.next().write());
            var done = dev.next();
            assertEquals(1, done.offset());
            byte[] in = new byte[3];
            g.memory.read(0x3100, in, 0, 3);
            assertEquals("aaa", new String(in));
        }
    }

    @Test
    void mmioReadsAndWritesReachTheBusDevice() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            var dev = new TinyGuest.Recorder(0x1234);
            var port = g.portDevice(0);
            g.mmio.register(0x20000, 0x100, dev, "test-mmio");
            // mov ax,0x2000; mov ds,ax; mov byte [0x10],0x5a; mov ax,[0x20]; mov dx,0x500; out dx,ax; cli; hlt
            g.startRealMode("B80020 8ED8 C606 1000 5A A12000 BA0005 EF FA F4");
            assertEquals(new Access(true, 0x10, 1, 0x5A), plain(dev.next()));
            assertEquals(new Access(false, 0x20, 2, 0x1234), plain(dev.next()));
            assertEquals(new Access(true, 0, 2, 0x1234), plain(port.next()));
        }
    }

    @Test
    void guestSeesAndWritesMemorySlotContents() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            var port = g.portDevice(0);
            g.memory.writeShort(0x2000, (short) 0x1233);
            // xor ax,ax; mov ds,ax; mov ax,[0x2000]; add ax,1; mov [0x2002],ax; mov dx,0x500; out dx,al; cli; hlt
            g.startRealMode("31C0 8ED8 A10020 050100 A30220 BA0005 EE FA F4");
            port.next();
            assertEquals(0x1234, g.memory.readShort(0x2002));
        }
    }

    @Test
    void longModeCodeSetUpByTheVmmRuns() throws Exception {
        try (TinyGuest g = new TinyGuest(0x200000, 1)) {
            var dev = new TinyGuest.Recorder(0x1122334455667788L);
            var port = g.portDevice(0);
            g.mmio.register(0xD000_0000L, 0x1000, dev, "test-mmio");
            // mov eax,0xd0000000; mov dword [rax],0xcafebabe; mov rbx,[rax+8]; mov dx,0x500; mov eax,ebx; out dx,eax; hlt
            g.load(TinyGuest.CODE, "B8000000D0 C700BEBAFECA 488B5808 66BA0005 89D8 EF F4");
            g.vm.start(g.longMode(TinyGuest.CODE));
            assertEquals(new Access(true, 0, 4, 0xCAFEBABEL), plain(dev.next()));
            assertEquals(new Access(false, 8, 8, 0x1122334455667788L), plain(dev.next()));
            assertEquals(new Access(true, 0, 4, 0x55667788L), plain(port.next()));
        }
    }

    @Test
    void stopEndsAHaltedAndASpinningVcpu() throws Exception {
        for (String tail : List.of("FA F4", "EBFE")) { // cli; hlt  /  jmp $
            try (TinyGuest g = new TinyGuest(0x10000, 1)) {
                var port = g.portDevice(0);
                g.startRealMode("BA0005 EE " + tail);
                port.next();
                // The OUT exit was served: wait until the thread goes back into KVM_RUN (to HLT / the loop).
                Await.until("vCPU 0 re-enters KVM_RUN", () -> g.vm.vcpu(0).runs() >= 2);
                g.vm.stop(); // a stop that hangs fails the class's @Timeout
                assertFalse(g.vm.vcpu(0).thread().isAlive());
                assertFalse(g.stopped.isDone(), "a VMM stop is not a guest stop reason");
            }
        }
    }

    @Test
    void pauseFreezesTheGuestAndResumeContinuesIt() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            // xor ax,ax; mov ds,ax; loop: inc word [0x2000]; jmp loop
            g.startRealMode("31C0 8ED8 FF060020 EBFA");
            waitUntilChanges(g, 0x2000);
            g.vm.pause();
            assertEquals(1, g.vm.pausedVcpus(), "pause returns once the vCPU thread is held outside KVM_RUN");
            long runs = g.vm.vcpu(0).runs();
            short a = g.memory.readShort(0x2000);
            // A held vCPU has no KVM_RUN in flight, so the kernel answers GET_MP_STATE at once (for a running
            // one it waits until KVM_RUN returns, which this loop never asks for): the thread is out of the guest.
            g.vm.vcpu(0).mpState();
            assertEquals(a, g.memory.readShort(0x2000), "guest ran while paused");
            assertEquals(runs, g.vm.vcpu(0).runs(), "no KVM_RUN while paused");
            assertEquals(1, g.vm.pausedVcpus());
            g.vm.resume();
            waitUntilChanges(g, 0x2000);
            g.close();
            g.vm.pause(); // after close: nothing to pause, and no access to unmapped kvm_run pages
            g.vm.stop();
        }
    }

    private static void waitUntilChanges(TinyGuest g, long gpa) {
        Await.untilChanges("the guest changes memory at 0x" + Long.toHexString(gpa), Await.DEFAULT, () -> g.memory.readShort(gpa));
    }

    /**
     * Diff snapshots on kvm: with tracking on, the pages the vCPU wrote (KVM_GET_DIRTY_LOG) join those
     * written through GuestMemory (the loader, a device) in the machine's log; each collection starts KVM's
     * next interval, and a page written again after it is logged again (KVM write-protects it anew).
     */
    @Test
    void theDirtyLogHoldsWhatTheVcpuAndTheDevicesWroteAndStartsAnewEachTime() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1, true)) {
            DirtyPages log = g.memory.dirtyPages();
            var port = g.portDevice(0);
            // xor ax,ax; mov ds,ax; mov byte [0x3000],1; mov byte [0x5000],2; mov dx,0x500; out dx,al;
            // wait: cmp byte [0x2000],0; je wait; mov byte [0x3000],3; mov byte [0x7000],4; out dx,al; cli; hlt
            g.startRealMode("31C0 8ED8 C606003001 C606005002 BA0005 EE 803E002000 74F9 C606003003 C606007004 EE FA F4");
            port.next();
            var running = assertThrows(SnapshotException.class, () -> g.vm.collectDirtyPages(log));
            assertEquals("the microVM must be paused to take a snapshot", running.getMessage());
            g.vm.pause();
            g.vm.collectDirtyPages(log);
            assertEquals(List.of(1, 3, 5), dirty(log), "the code the loader wrote (page 1) and the vCPU's two stores");

            log.clear();
            g.vm.collectDirtyPages(log);
            assertEquals(List.of(), dirty(log), "KVM's log was cleared by the first collection");
            g.memory.writeByte(0x2000, (byte) 1); // a device's write, which lets the guest go on
            g.vm.resume();
            port.next();
            g.vm.pause();
            g.vm.collectDirtyPages(log);
            assertEquals(List.of(2, 3, 7), dirty(log), "the device's page, a page written again, a new one");
        }
        try (TinyGuest g = new TinyGuest(0x10000, 1, false)) {
            var port = g.portDevice(0);
            g.startRealMode("BA0005 EE FA F4");
            port.next();
            g.vm.pause();
            var off = assertThrows(SnapshotException.class, () -> g.vm.collectDirtyPages(g.memory.trackDirtyPages()));
            assertEquals("dirty page tracking was not on when this microVM was built (track_dirty_pages)", off.getMessage());
        }
    }

    private static List<Integer> dirty(DirtyPages log) {
        return java.util.stream.IntStream.range(0, log.pages()).filter(log::isDirty).boxed().toList();
    }

    @Test
    void ioeventfdTakesTheRegisteredWritesWithoutAnMmioExit() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1);
             EventFd plain = new EventFd(); EventFd matched = new EventFd(); EventFd released = new EventFd()) {
            var dev = new TinyGuest.Recorder(0);
            var port = g.portDevice(0);
            g.mmio.register(0x20000, 0x100, dev, "test-doorbells");
            NotifyFastPath notify = g.vm.fastPaths().notifications().orElseThrow();
            notify.signalOnWrite(0x20010, 2, OptionalLong.empty(), plain);
            notify.signalOnWrite(0x20020, 2, OptionalLong.of(0x1234), matched);
            notify.signalOnWrite(0x20030, 2, OptionalLong.empty(), released).close();
            // mov ax,0x2000; mov ds,ax; mov word [0x10],1; mov word [0x20],0x1234; mov word [0x20],0x5555;
            // mov byte [0x10],1; mov word [0x30],7; mov dx,0x500; out dx,al; cli; hlt
            g.startRealMode("B80020 8ED8 C7061000 0100 C7062000 3412 C7062000 5555 C6061000 01 C7063000 0700"
                    + " BA0005 EE FA F4");
            port.next();
            assertEquals(1, plain.drain(), "a 2-byte write to a registered address signals its eventfd");
            assertEquals(1, matched.drain(), "the matching value signals");
            assertEquals(0, released.drain(), "a released registration signals nothing");
            // What still exits to Flint: the wrong value, the wrong width, the released address. Nothing else.
            assertEquals(List.of(new Access(true, 0x20, 2, 0x5555), new Access(true, 0x10, 1, 1), new Access(true, 0x30, 2, 7)),
                    dev.drain().stream().map(KvmEngineTest::plain).toList());
            assertEquals(3, g.mmio.writes(), "MMIO exits counted by the bus");
        }
    }

    @Test
    void anIrqfdRouteDeliversItsMsiToTheLocalApicAndFollowsReprogramming() throws Exception {
        try (TinyGuest g = new TinyGuest(0x200000, 1)) {
            var port = g.portDevice(0);
            // 64-bit, interrupts off: software-enable the local APIC (SVR = 0x1ff), say so on port 0x501,
            // then report IRR[63:32] (vectors 0x20-0x3f, at 0xfee00210) on port 0x500 whenever it changes.
            // With IF=0 nothing is delivered, so every MSI that arrives stays visible in the IRR.
            g.load(TinyGuest.CODE, "B80000E0FE C780F0000000FF010000 31DB 66BA0105 EE 66BA0005"
                    + " 8B8810020000 39D9 74F6 89CB 50 89C8 EF 58 EBED");
            g.vm.start(g.longMode(TinyGuest.CODE));
            // A fixed MSI to a software-disabled APIC is dropped: fire only once the guest enabled it.
            assertEquals(1, port.next().offset());
            InterruptRoutes routes = g.vm.fastPaths().interrupts().orElseThrow();
            try (InterruptRoutes.MsiRoute route = routes.newMsiRoute()) {
                route.fire(); // not programmed yet: nothing
                route.program(0xFEE0_0000L, 0x31); // fixed, vector 0x31, APIC ID 0
                route.fire();
                assertEquals(1L << 17, port.next().value(), "vector 0x31 pending");
                route.program(0xFEE0_0000L, 0x32);
                route.fire();
                assertEquals(3L << 17, port.next().value(), "the reprogrammed vector 0x32 pending too");
                route.program(0xFEE0_5000L, 0x34); // APIC ID 5: nobody there
                route.fire();
                route.program(0xFEE0_0000L, 0x33);
                route.fire();
                // MSIs through one route arrive in order: had 0x34 reached APIC 0, the IRR the guest
                // reports after 0x33 arrived would show it (bit 20).
                assertEquals(7L << 17, port.next().value(), "a route goes where it now points");
                assertEquals(List.of(), port.drain());
            }
        }
    }

    @Test
    void replacingTheRoutingTableKeepsTheIrqchipLines() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            var port = g.portDevice(0);
            InterruptRoutes routes = g.vm.fastPaths().interrupts().orElseThrow();
            try (var a = routes.newMsiRoute(); var b = routes.newMsiRoute()) {
                a.program(0xFEE0_0000L, 0x31); // each program writes the whole GSI routing table
                b.program(0xFEE0_0000L, 0x32);
            }
            startPicGuest(g, port);
            g.vm.interrupts().pulse(4);
            assertEquals(1, port.next().offset(), "IRQ 4 lost its route");
        }
    }

    @Test
    void tripleFaultStopsTheVmWithARegisterDump() throws Exception {
        // PVM delivers real-mode exceptions through the IVT without checking the IDT limit, so a guest
        // cannot triple-fault there; only hardware virtualization can show this.
        assumeHardwareVirtualization();
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            // An IDT of limit 0: int3 cannot be delivered, nor the #GP, nor the #DF → shutdown.
            g.load(TinyGuest.CODE, "CC");
            var rm = TinyGuest.realMode(TinyGuest.CODE);
            g.vm.start(new dev.flint.arch.x86.CpuBootState(rm.rax(), rm.rbx(), rm.rcx(), rm.rdx(), rm.rsi(), rm.rdi(),
                    rm.rsp(), rm.rbp(), rm.rip(), rm.rflags(), rm.cs(), rm.ds(), rm.es(), rm.fs(), rm.gs(), rm.ss(),
                    rm.tr(), rm.ldt(), 0, 0, 0, 0, rm.cr0(), 0, 0, 0));
            StopReason r = g.stopped.get(10, TimeUnit.SECONDS);
            var tf = assertInstanceOf(StopReason.TripleFault.class, r, () -> r.toString());
            assertTrue(tf.cpuDump().contains("rip"), tf.cpuDump());
        }
    }

    @Test
    void apStartsThroughInitAndSipiAndEachVcpuHasItsOwnApicId() throws Exception {
        try (TinyGuest g = new TinyGuest(0x200000, 2)) {
            var port = g.portDevice(0);
            // BSP (64-bit): mov eax,0xfee00300; enable the APIC (SVR = 0x1ff); ICR = INIT to all but self;
            // ICR = SIPI vector 8 (0x8000) to all but self; then report CPUID.1:EBX[31:24] on port 0x500; hlt
            g.load(TinyGuest.CODE, "B80003E0FE C780F0FDFFFFFF010000 C700 00450C00 C700 08460C00"
                    + " B801000000 0FA2 89D8 C1E818 66BA0005 EE F4");
            // AP (real mode at 0800:0000): report its CPUID.1:EBX[31:24] on port 0x501; cli; hlt
            g.load(0x8000, "66B801000000 0FA2 6689D8 66C1E818 BA0105 EE FA F4");
            g.vm.start(g.longMode(TinyGuest.CODE));
            var seen = new java.util.TreeMap<Long, String>();
            for (int i = 0; i < 2; i++) {
                var a = port.next();
                seen.put(a.offset(), a.thread() + " apic " + a.value());
            }
            assertEquals(java.util.Map.of(0L, "flint-vcpu-0 apic 0", 1L, "flint-vcpu-1 apic 1"), seen);
        }
    }

    @Test
    void closeReleasesEveryFileDescriptorAndThread() throws Exception {
        new TinyGuest(0x10000, 1).close(); // warm up: class loading may open jars
        int before = openFds();
        for (int i = 0; i < 3; i++) {
            try (TinyGuest g = new TinyGuest(0x10000, 2)) {
                g.startRealMode("EBFE");
                Await.until("vCPU 0 runs the guest", () -> g.vm.vcpu(0).runs() >= 1);
            }
        }
        assertEquals(before, openFds(), "file descriptors leaked");
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("flint-vcpu")),
                "vCPU threads left running");
    }

    @Test
    void pulsedIsaLineInterruptsTheGuestThroughThePic() throws Exception {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            var port = g.portDevice(0);
            startPicGuest(g, port);
            g.vm.interrupts().pulse(4);
            assertEquals(1, port.next().offset(), "the IRQ 4 handler did not run");
        }
    }

    /**
     * A real-mode guest that programs the in-kernel PIC (ICW1-4: vectors 0x20-0x27), unmasks IRQ 4, reports
     * ready on port 0x500 and waits in sti; hlt. Its IRQ 4 handler (vector 0x24) reports on 0x501, EOIs, irets.
     */
    private static void startPicGuest(TinyGuest g, TinyGuest.Recorder port) throws InterruptedException {
        g.load(TinyGuest.CODE, "FA B011E620 B020E621 B004E621 B001E621 B0EFE621 BA0005 EE FB F4 EBFD");
        g.load(0x1100, "BA0105 EE B020E620 CF");
        g.memory.writeShort(0x24 * 4, (short) 0x1100);
        g.memory.writeShort(0x24 * 4 + 2, (short) 0);
        g.vm.start(TinyGuest.realMode(TinyGuest.CODE));
        assertEquals(0, port.next().offset());
    }

    @Test
    void interruptLinesAreChecked() {
        try (TinyGuest g = new TinyGuest(0x10000, 1)) {
            g.vm.interrupts().pulse(4);
            g.vm.interrupts().sendMsi(0xFEE0_0000L, 0x30);
            assertThrows(IllegalArgumentException.class, () -> g.vm.interrupts().setLevel(24, true));
        }
    }

    @Test
    void availabilitySaysWhyNot() {
        var missing = new KvmEngine(Path.of("/nonexistent/kvm"), Path.of("/proc/cpuinfo"), false).availability();
        assertFalse(missing.usable());
        assertTrue(missing.reason().startsWith("no /nonexistent/kvm"), missing.reason());
    }

    @Test
    void aKvmWithoutVtxOrAmdvIsReportedAsPvm() throws IOException {
        Path cpuinfo = Files.createTempFile("cpuinfo", "");
        try {
            Files.writeString(cpuinfo, "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae hypervisor\n");
            Engine.Availability a = new KvmEngine(Path.of("/dev/kvm"), cpuinfo, false).availability();
            assertEquals(new Engine.Availability(false, KvmEngine.PVM_REASON), a);
            var forced = new KvmEngine(Path.of("/dev/kvm"), cpuinfo, true).availability();
            assertTrue(forced.usable() && forced.reason().contains("PVM"), forced.reason());
            Files.writeString(cpuinfo, "processor\t: 0\nflags\t\t: fpu vme svm npt\n");
            assertTrue(new KvmEngine(Path.of("/dev/kvm"), cpuinfo, false).availability().usable());
        } finally {
            Files.delete(cpuinfo);
        }
    }

    @Test
    void thisHostsAvailabilityMatchesItsCpuFlags() throws IOException {
        boolean hardware = Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\b(vmx|svm)\\b.*");
        Engine.Availability a = new KvmEngine().availability();
        assertEquals(hardware, a.usable(), a.reason());
        System.err.println("kvm engine on this host: " + (a.usable() ? "usable" : a.reason()));
    }

    static void assumeHardwareVirtualization() {
        boolean usable = new KvmEngine().availability().usable();
        if (!usable) System.err.println("skipped: needs KVM with VT-x/AMD-V, this host's is " + new KvmEngine().availability().reason());
        assumeTrue(usable, "KVM here has no VT-x/AMD-V");
    }

    record Access(boolean write, long offset, int size, long value) {}

    static Access plain(TinyGuest.Recorder.Access a) {
        return new Access(a.write(), a.offset(), a.size(), a.value());
    }

    static int openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }
}
