package dev.flint.engine.kvm;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.machine.StopReason;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.logging.Level;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One KVM vCPU and the platform thread that runs it. The thread loops on KVM_RUN and dispatches exits to
 * the port-I/O and MMIO buses; guest-fatal exits become a {@link StopReason} reported to the VMM.
 * Other threads only ever talk to it through {@link VcpuControl} (pause / stop requests plus a kick).
 */
final class KvmVcpu implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KvmVcpu.class.getName());

    /** MSRs a freshly reset CPU has that Linux relies on (syscall MSRs zeroed, fast strings, WB memory). */
    private static final long[][] BOOT_MSRS = {
            {0x174, 0}, {0x175, 0}, {0x176, 0},           // SYSENTER_CS/ESP/EIP
            {0xC000_0081L, 0}, {0xC000_0082L, 0}, {0xC000_0083L, 0}, {0xC000_0084L, 0}, // STAR/LSTAR/CSTAR/FMASK
            {0xC000_0102L, 0},                              // KERNEL_GS_BASE
            {0x10, 0},                                      // TSC
            {0x1A0, 1},                                     // MISC_ENABLE: fast strings
            {0x2FF, (1 << 11) | 6},                         // MTRR_DEF_TYPE: enabled, write-back
    };

    private final int id;
    private final FileDescriptor fd;
    private final KvmRun run;
    private final Bus portIo;
    private final Bus mmio;
    private final SystemControl control;
    private final VcpuControl vcpuControl;
    private final FirstRun firstRun;
    /** The vCPU thread's kernel id while it may receive kicks; 0 before and after. Guarded by {@link #kickLock}. */
    private int tid;
    private final Object kickLock = new Object();
    private Thread thread;
    /** KVM_RUN calls this vCPU's thread made (or is about to make): a pass counter tests wait on. */
    private volatile long runs;

    KvmVcpu(FileDescriptor vmFd, int id, long runSize, CpuidTable cpuid, int cpus, Bus portIo, Bus mmio,
            SystemControl control, VcpuControl vcpuControl, FirstRun firstRun) {
        this.id = id;
        this.fd = new FileDescriptor(vmFd.ioctl(KvmApi.CREATE_VCPU, id));
        try {
            this.run = new KvmRun(fd.fd(), runSize);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        this.portIo = portIo;
        this.mmio = mmio;
        this.control = control;
        this.vcpuControl = vcpuControl;
        this.firstRun = firstRun;
        cpuid.applyTo(fd, id, cpus);
        setBootMsrs();
    }

    int id() { return id; }

    FileDescriptor fd() { return fd; }

    private void setBootMsrs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msrs = arena.allocate(Layouts.MSRS_HEADER + (long) BOOT_MSRS.length * Layouts.MSR_ENTRY, 8);
            msrs.set(JAVA_INT, 0, BOOT_MSRS.length);
            for (int i = 0; i < BOOT_MSRS.length; i++) {
                long at = Layouts.MSRS_HEADER + (long) i * Layouts.MSR_ENTRY;
                msrs.set(JAVA_INT, at, (int) BOOT_MSRS[i][0]);
                msrs.set(JAVA_LONG, at + 8, BOOT_MSRS[i][1]);
            }
            int set = fd.ioctl(KvmApi.SET_MSRS, msrs);
            if (set < BOOT_MSRS.length) {
                // KVM stops at the first MSR it refuses; the rest keep their reset values.
                LOG.fine(String.format("vCPU %d: KVM refused MSR 0x%x; %d of %d set", id, BOOT_MSRS[set][0], set, BOOT_MSRS.length));
            }
        }
    }

    /** Puts this vCPU into {@code state} (vCPU 0 at boot; tests for an AP). */
    void load(CpuBootState state) {
        Registers.apply(fd, state);
        setMpState(KvmApi.MP_STATE_RUNNABLE);
    }

    /** Makes this vCPU wait for INIT/SIPI in the in-kernel LAPIC (what an AP does after power-on). */
    void waitForStartup() {
        setMpState(KvmApi.MP_STATE_UNINITIALIZED);
    }

    private void setMpState(int state) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mp = arena.allocate(4, 4);
            mp.set(JAVA_INT, 0, state);
            fd.ioctl(KvmApi.SET_MP_STATE, mp);
        }
    }

    int mpState() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mp = arena.allocate(4, 4);
            fd.ioctl(KvmApi.GET_MP_STATE, mp);
            return mp.get(JAVA_INT, 0);
        }
    }

    void startThread() {
        thread = Thread.ofPlatform().name("flint-vcpu-" + id).daemon(true).unstarted(this::threadMain);
        thread.start();
    }

    Thread thread() { return thread; }

    /** How many times this vCPU's thread entered (or is entering) KVM_RUN. */
    long runs() { return runs; }

    /** Gets the thread out of KVM_RUN so it looks at {@link VcpuControl}; no-op until the thread is in its loop. */
    void kick() {
        run.requestImmediateExit(true);
        synchronized (kickLock) {
            if (tid != 0) VcpuKick.send(tid);
        }
    }

    private void threadMain() {
        try {
            VcpuKick.prepareThread(fd.fd());
            synchronized (kickLock) {
                tid = Libc.gettid();
            }
            loop();
        } catch (RuntimeException | Error e) {
            LOG.log(Level.SEVERE, "vCPU " + id + " failed", e);
            control.requestStop(new StopReason.Error("vCPU " + id + " failed: " + e.getMessage(), e));
        } finally {
            // HotSpot restores the thread's original signal mask when the thread ends, which would deliver
            // a still-pending kick to the default action (process exit). So: no new kicks after this
            // point (kick() sends under the same lock), then drain the ones already queued.
            synchronized (kickLock) {
                tid = 0;
            }
            VcpuKick.consume();
            vcpuControl.exited();
        }
    }

    private void loop() {
        boolean exitPending = false;
        while (vcpuControl.awaitRunnable(exitPending)) {
            // A pause waits for this run: only complete the I/O instruction (KVM does it before the
            // immediate exit), so that a snapshot sees its registers after it, never half done.
            if (exitPending && vcpuControl.pausing()) run.requestImmediateExit(true);
            VcpuExit exit;
            try {
                firstRun.beforeRun(id);
                runs++; // only this thread writes it
                fd.ioctl(KvmApi.RUN, 0);
                exit = run.exit();
            } catch (ErrnoException e) {
                if (e.errno() != Libc.EINTR && e.errno() != Libc.EAGAIN) throw e;
                exit = new VcpuExit.Interrupted();
            }
            if (!handle(exit)) return;
            exitPending = exit instanceof VcpuExit.Io || exit instanceof VcpuExit.Mmio;
        }
    }

    /** Snapshot of this vCPU; only while its thread is parked by a pause (or not started). */
    void save(int[] msrIndices, int xsaveSize, boolean tscKhz, dev.flint.machine.state.StateWriter.Section out) {
        VcpuState.save(fd, msrIndices, xsaveSize, tscKhz, out);
    }

    /** Instead of {@link #load}: the state {@link #save} wrote, before the thread starts. */
    void restore(boolean tscControl, dev.flint.machine.state.StateReader.Section in) {
        VcpuState.restore(fd, id, tscControl, in);
    }

    /** Handles one exit; false when this vCPU must end (the VM is stopping because of it). */
    private boolean handle(VcpuExit exit) {
        switch (exit) {
            case VcpuExit.Io io -> doIo(io);
            case VcpuExit.Mmio m -> doMmio(m);
            case VcpuExit.Interrupted i -> {
                run.requestImmediateExit(false);
                VcpuKick.consume();
            }
            case VcpuExit.Halt h -> {
                // Only without an in-kernel LAPIC; Flint always creates one, so a halted vCPU never returns here.
                return fatal(new StopReason.Error("vCPU " + id + " halted without an in-kernel LAPIC", null));
            }
            case VcpuExit.Shutdown s -> {
                return fatal(new StopReason.TripleFault("vCPU " + id + " triple fault\n" + Registers.dump(fd)));
            }
            case VcpuExit.SystemEvent ev -> {
                return fatal(switch (ev.type()) {
                    case KvmApi.SYSTEM_EVENT_SHUTDOWN -> new StopReason.PowerOff();
                    case KvmApi.SYSTEM_EVENT_RESET -> new StopReason.Reset("KVM system event on vCPU " + id);
                    default -> new StopReason.Error("guest crash reported on vCPU " + id + " (system event " + ev.type() + ")", null);
                });
            }
            case VcpuExit.InternalError ie -> {
                return fatal(new StopReason.Error(String.format("KVM internal error on vCPU %d: suberror %d (%s), data %s%n%s",
                        id, ie.suberror(), suberrorName(ie.suberror()), hex(ie.data()), Registers.dump(fd)), null));
            }
            case VcpuExit.FailEntry fe -> {
                return fatal(new StopReason.Error(String.format("KVM could not enter vCPU %d: hardware reason 0x%x on host CPU %d%n%s",
                        id, fe.hardwareReason(), fe.cpu(), Registers.dump(fd)), null));
            }
            case VcpuExit.Unexpected u -> {
                return fatal(new StopReason.Error("unexpected KVM exit " + u.reason() + " on vCPU " + id + "\n" + Registers.dump(fd), null));
            }
        }
        return true;
    }

    private boolean fatal(StopReason reason) {
        control.requestStop(reason);
        return false;
    }

    private void doIo(VcpuExit.Io io) {
        for (int i = 0; i < io.count(); i++) {
            try {
                if (io.out()) portIo.write(io.port(), io.size(), run.ioData(io, i));
                else run.setIoData(io, i, portIo.read(io.port(), io.size()));
            } catch (RuntimeException e) {
                // A device choking on guest input is that device's problem, not the VM's: log, reads float high.
                LOG.warning(String.format("port 0x%x %s: %s", io.port(), io.out() ? "write" : "read", e));
                if (!io.out()) run.setIoData(io, i, -1L);
            }
        }
    }

    private void doMmio(VcpuExit.Mmio m) {
        try {
            if (KvmRun.isAccessSize(m.length())) {
                if (m.write()) mmio.write(m.address(), m.length(), m.data());
                else run.setMmioData(m.length(), mmio.read(m.address(), m.length()));
            } else {
                LOG.warning(String.format("MMIO %s of %d bytes at 0x%x ignored", m.write() ? "write" : "read", m.length(), m.address()));
                if (!m.write()) run.setMmioData(8, -1L);
            }
        } catch (RuntimeException e) {
            LOG.warning(String.format("MMIO 0x%x %s: %s", m.address(), m.write() ? "write" : "read", e));
            if (!m.write() && KvmRun.isAccessSize(m.length())) run.setMmioData(m.length(), -1L);
        }
    }

    private static String suberrorName(int suberror) {
        return switch (suberror) {
            case 1 -> "emulation failure";
            case 2 -> "simultaneous exceptions";
            case 3 -> "delivery event";
            case 4 -> "unexpected exit reason";
            default -> "unknown";
        };
    }

    private static String hex(long[] data) {
        return Arrays.stream(data).mapToObj(Long::toHexString).toList().toString();
    }

    @Override
    public void close() {
        run.close();
        fd.close();
    }

    /** Observes each vCPU's entries into the guest (the first one is Flint's "first guest instruction"). */
    interface FirstRun {
        void beforeRun(int vcpu);
    }
}
