package dev.flint.engine.kvm;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.engine.EngineException;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A KVM virtual machine: the VM fd with its in-kernel irqchip (PIC, I/O APIC, LAPICs) and PIT, one
 * memory slot per guest RAM region, and one {@link KvmVcpu} per vCPU. Created by {@link KvmEngine}.
 */
final class KvmVm implements VirtualMachine {
    private static final Logger LOG = Logger.getLogger(KvmVm.class.getName());

    /**
     * Three pages KVM needs for the real-mode TSS on Intel, and one for the EPT identity map, just below
     * the BIOS area at the top of the 32-bit space: inside the MMIO hole, so never guest RAM.
     */
    static final long TSS_ADDRESS = 0xFFFB_D000L;
    static final long IDENTITY_MAP_ADDRESS = 0xFFFB_C000L;

    private final FileDescriptor kvm;
    private final FileDescriptor vm;
    private final KvmInterrupts interrupts;
    /** ioeventfd and irqfd for devices, or null when this KVM lacks one of the capabilities they need. */
    private final KvmFastPaths fastPaths;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    /**
     * The machine's dirty page log when tracking was on at creation (the slots then log the vCPUs' writes
     * too), with KVM's log that {@link #collectDirtyPages} merges into it; both null otherwise.
     */
    private final dev.flint.machine.DirtyPages machineLog;
    private final KvmDirtyLog kvmLog;
    private final VcpuControl control;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean firstRunLogged = new AtomicBoolean();
    private boolean closed;

    KvmVm(FileDescriptor kvm, VmSetup setup) {
        this.kvm = kvm;
        this.control = new VcpuControl(setup.cpus());
        FileDescriptor vmFd = null;
        try {
            vmFd = new FileDescriptor(kvm.ioctl(KvmApi.CREATE_VM, 0));
            this.vm = vmFd;
            setIdentityMapAddress();
            vm.ioctl(KvmApi.SET_TSS_ADDR, TSS_ADDRESS);
            vm.ioctl(KvmApi.CREATE_IRQCHIP, 0);
            createPit();
            this.interrupts = new KvmInterrupts(vm);
            this.fastPaths = createFastPaths();
            this.machineLog = setup.memory().dirtyPages();
            addMemory(setup.memory(), machineLog != null);
            this.kvmLog = machineLog == null ? null : new KvmDirtyLog(vm, KvmDirtyLog.slotsOf(setup.memory()));
            long runSize = kvm.ioctl(KvmApi.GET_VCPU_MMAP_SIZE, 0);
            CpuidTable cpuid = CpuidTable.supported(kvm);
            for (int i = 0; i < setup.cpus(); i++) {
                vcpus.add(new KvmVcpu(vm, i, runSize, cpuid, setup.cpus(), setup.portIo(), setup.mmio(),
                        setup.control(), control, this::beforeRun));
            }
        } catch (RuntimeException e) {
            vcpus.forEach(KvmVcpu::close);
            if (vmFd != null) vmFd.close();
            kvm.close();
            throw e instanceof EngineException ee ? ee : new EngineException("KVM: " + e.getMessage(), e);
        }
    }

    /** KVM_SET_IDENTITY_MAP_ADDR takes a pointer to the u64 address, unlike KVM_SET_TSS_ADDR. */
    private void setIdentityMapAddress() {
        try (Arena arena = Arena.ofConfined()) {
            vm.ioctl(KvmApi.SET_IDENTITY_MAP_ADDR, arena.allocateFrom(JAVA_LONG, IDENTITY_MAP_ADDRESS));
        }
    }

    private void createPit() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment config = arena.allocate(64, 4);
            config.set(JAVA_INT, 0, KvmApi.PIT_SPEAKER_DUMMY);
            vm.ioctl(KvmApi.CREATE_PIT2, config);
        }
    }

    /** One slot per region, numbered as {@link KvmDirtyLog#slotsOf} expects; {@code logDirty}: KVM logs written pages. */
    private void addMemory(GuestMemory memory, boolean logDirty) {
        MemorySegment ram = memory.segment();
        if (!ram.isNative() || (ram.address() & 0xFFF) != 0) {
            throw new EngineException("KVM needs page-aligned native guest memory");
        }
        int slot = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (GuestMemory.Region r : memory.regions()) {
                MemorySegment region = arena.allocate(Layouts.MEMORY_REGION_SIZE, 8);
                region.set(JAVA_INT, 0, slot++);
                region.set(JAVA_INT, Layouts.MEMORY_REGION_FLAGS, logDirty ? Layouts.MEM_LOG_DIRTY_PAGES : 0);
                region.set(JAVA_LONG, 8, r.guestPhys());
                region.set(JAVA_LONG, 16, r.size());
                region.set(JAVA_LONG, 24, ram.address() + r.hostOffset());
                vm.ioctl(KvmApi.SET_USER_MEMORY_REGION, region);
                long host = ram.address() + r.hostOffset();
                LOG.fine(() -> String.format("memory slot: guest 0x%x-0x%x at host 0x%x", r.guestPhys(), r.end(), host));
            }
        }
    }

    /** KVM_IOEVENTFD, KVM_IRQFD and GSI routing are old (Linux 2.6.3x) but still optional capabilities. */
    private KvmFastPaths createFastPaths() {
        int routes = vm.ioctl(KvmApi.CHECK_EXTENSION, KvmApi.CAP_IRQ_ROUTING);
        if (routes <= 0 || vm.ioctl(KvmApi.CHECK_EXTENSION, KvmApi.CAP_IRQFD) <= 0
                || vm.ioctl(KvmApi.CHECK_EXTENSION, KvmApi.CAP_IOEVENTFD) <= 0) {
            LOG.info("KVM without ioeventfd/irqfd/GSI routing: virtio notifications and interrupts go through Flint");
            return null;
        }
        return new KvmFastPaths(vm, routes);
    }

    @Override
    public String engineName() { return "kvm"; }

    @Override
    public InterruptController interrupts() { return interrupts; }

    @Override
    public IoFastPaths fastPaths() {
        return fastPaths == null ? IoFastPaths.NONE
                : new IoFastPaths(java.util.Optional.of(fastPaths), java.util.Optional.of(fastPaths));
    }

    /** vCPU {@code index}; package-private for tests that drive an AP directly. */
    KvmVcpu vcpu(int index) { return vcpus.get(index); }

    /** vCPU threads a pause holds outside KVM_RUN right now. */
    int pausedVcpus() { return control.parked(); }

    @Override
    public void start(CpuBootState bsp) {
        if (!started.compareAndSet(false, true)) throw new IllegalStateException("VM already started");
        vcpus.get(0).load(bsp);
        for (int i = 1; i < vcpus.size(); i++) vcpus.get(i).waitForStartup();
        vcpus.forEach(KvmVcpu::startThread);
    }

    /**
     * Starts the vCPUs with explicit states instead of INIT/SIPI for the APs; for tests on hosts where
     * the guest cannot start APs itself.
     */
    void startAll(List<CpuBootState> states) {
        if (!started.compareAndSet(false, true)) throw new IllegalStateException("VM already started");
        for (int i = 0; i < vcpus.size(); i++) vcpus.get(i).load(states.get(i));
        vcpus.forEach(KvmVcpu::startThread);
    }

    /**
     * Snapshot of the paused VM: the irqchip and PIT, the kvmclock, every vCPU. Refused with one line while
     * running, or on a KVM without what the restore needs.
     */
    @Override
    public synchronized void save(StateWriter state) {
        if (closed || !started.get() || !control.allParked()) {
            throw new SnapshotException("the microVM must be paused to take a snapshot");
        }
        List<String> missing = KvmApi.SNAPSHOT_CAPS.entrySet().stream()
                .filter(c -> vm.ioctl(KvmApi.CHECK_EXTENSION, c.getKey()) <= 0).map(java.util.Map.Entry::getValue).sorted().toList();
        if (!missing.isEmpty()) throw new SnapshotException("snapshots need KVM capabilities this host lacks: " + missing);
        try {
            int[] msrs = VcpuState.msrIndexList(kvm);
            int xsaveSize = Math.max(0, vm.ioctl(KvmApi.CHECK_EXTENSION, KvmApi.CAP_XSAVE2));
            boolean tscKhz = vm.ioctl(KvmApi.CHECK_EXTENSION, KvmApi.CAP_GET_TSC_KHZ) > 0;
            try (var s = state.section("kvm.vm")) {
                s.putInt(vcpus.size());
                s.putLong(VmState.clock(vm));
                VmState.saveDevices(vm, s);
            }
            for (KvmVcpu v : vcpus) {
                try (var s = state.section("kvm.vcpu." + v.id())) { v.save(msrs, xsaveSize, tscKhz, s); }
            }
        } catch (ErrnoException e) {
            throw new SnapshotException("KVM could not read the machine's state: " + e.getMessage(), e);
        }
    }

    /**
     * Instead of {@link #start}: the snapshot's irqchip and PIT, then each vCPU, then the kvmclock set to the
     * snapshot's instant (last: it is the clock the guest reads from the first instruction on), then the
     * vCPU threads, held paused if {@code paused}.
     */
    @Override
    public synchronized void restore(StateReader state, boolean paused) {
        if (!started.compareAndSet(false, true)) throw new IllegalStateException("VM already started");
        var s = state.section("kvm.vm");
        int n = s.getInt();
        if (n != vcpus.size()) throw new SnapshotException("the snapshot has " + n + " vCPUs, this machine " + vcpus.size());
        long clock = s.getLong();
        VmState.restoreDevices(vm, s);
        boolean tscControl = vm.ioctl(KvmApi.CHECK_EXTENSION, KvmApi.CAP_TSC_CONTROL) > 0;
        for (KvmVcpu v : vcpus) v.restore(tscControl, state.section("kvm.vcpu." + v.id()));
        VmState.setClock(vm, clock);
        if (paused) control.requestPause();
        vcpus.forEach(KvmVcpu::startThread);
        if (paused) {
            try {
                control.awaitAllParked();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info(() -> "restored " + vcpus.size() + " vCPU(s) from the snapshot" + (paused ? ", paused" : ""));
    }

    /**
     * Merges the pages the vCPUs wrote since the last call (KVM_GET_DIRTY_LOG, which starts KVM's next
     * interval) into the machine's log, which already holds the devices' writes. Only while paused, and only
     * on a machine built with tracking on: otherwise KVM never logged and a Diff would silently lack pages.
     */
    @Override
    public synchronized void collectDirtyPages(dev.flint.machine.DirtyPages pages) {
        if (closed || !started.get() || !control.allParked()) {
            throw new SnapshotException("the microVM must be paused to take a snapshot");
        }
        if (pages == null || pages != machineLog) {
            throw new SnapshotException("dirty page tracking was not on when this microVM was built (track_dirty_pages)");
        }
        try {
            int n = kvmLog.collectInto(pages);
            LOG.fine(() -> "KVM's dirty log: " + n + " pages written by the vCPUs");
        } catch (ErrnoException e) {
            throw new SnapshotException("KVM could not read its dirty page log: " + e.getMessage(), e);
        }
    }

    private void beforeRun(int vcpu) {
        if (vcpu == 0 && firstRunLogged.compareAndSet(false, true)) {
            // Wall-clock milliseconds so a benchmark can subtract its own launch time (bench/kvm-boot.sh).
            LOG.info("first KVM_RUN at epoch ms " + System.currentTimeMillis());
        }
    }

    @Override
    public synchronized void pause() {
        if (closed) return; // the kvm_run pages a kick writes to are gone
        control.requestPause();
        vcpus.forEach(KvmVcpu::kick);
        try {
            control.awaitAllParked();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void resume() {
        control.resume();
    }

    @Override
    public void stop() {
        control.requestStop();
        boolean interrupted = false;
        for (KvmVcpu v : vcpus) {
            if (v.thread() == null) continue;
            // Kick until the thread is gone: the first kick can land before the thread entered its loop.
            while (v.thread().isAlive()) {
                v.kick();
                try {
                    v.thread().join(50);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        stop();
        closed = true;
        interrupts.close();
        if (fastPaths != null) fastPaths.close();
        for (KvmVcpu v : vcpus) {
            try {
                v.close();
            } catch (ErrnoException e) {
                LOG.warning("closing vCPU " + v.id() + ": " + e.getMessage());
            }
        }
        vm.close();
        kvm.close();
    }
}
