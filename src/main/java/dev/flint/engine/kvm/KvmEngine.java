package dev.flint.engine.kvm;

import dev.flint.engine.Engine;
import dev.flint.engine.EngineException;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The hardware-virtualization engine: vCPUs run under Linux KVM, driven through /dev/kvm with FFM.
 *
 * <p>Some hosts expose a /dev/kvm that cannot run a stock kernel: PVM ("Pagetable-based Virtual Machine")
 * runs guests without VT-x/AMD-V and only supports kernels built for it. {@link #availability()} reports
 * such a host as unusable so {@code auto} never picks it. Creating a VM there anyway is still possible for
 * smoke tests and start-up measurements of the KVM plumbing (real-mode and simple long-mode code work):
 * construct the engine with {@code allowPvm} or set the system property {@value #ALLOW_PVM_PROPERTY} to
 * {@code true}; availability() then says usable, naming PVM, so only that explicit opt-in makes
 * {@code auto} choose it.
 */
public final class KvmEngine implements Engine {
    public static final String ALLOW_PVM_PROPERTY = "flint.kvm.allowPvm";
    static final String PVM_REASON = "KVM here is PVM (no VT-x/AMD-V): it cannot run a stock kernel; use --engine emu";

    private final Path device;
    private final Path cpuinfo;
    private final boolean allowPvm;

    /** The engine over /dev/kvm; PVM hosts allowed only if {@value #ALLOW_PVM_PROPERTY} is true. */
    public KvmEngine() {
        this(Boolean.getBoolean(ALLOW_PVM_PROPERTY));
    }

    public KvmEngine(boolean allowPvm) {
        this(Path.of("/dev/kvm"), Path.of("/proc/cpuinfo"), allowPvm);
    }

    KvmEngine(Path device, Path cpuinfo, boolean allowPvm) {
        this.device = device;
        this.cpuinfo = cpuinfo;
        this.allowPvm = allowPvm;
    }

    @Override
    public String name() { return "kvm"; }

    /** A cached vmlinux spares the guest its decompressor run, seconds when this KVM itself is nested under TCG. */
    @Override
    public boolean entersCachedUnpackedKernel() { return true; }

    /**
     * Opens /dev/kvm once (which binds libc's calls through FFM: each signature spins classes, seconds on a
     * software CPU) and loads, links and initializes the classes every VM runs through. Nothing of a VM is
     * created: that stays InstanceStart's work and its errors.
     */
    @Override
    public boolean warmUp() {
        try {
            if (!availability().usable()) return false;
            for (Class<?> c : List.of(KvmVm.class, KvmVcpu.class, KvmRun.class, KvmInterrupts.class, KvmFastPaths.class,
                    CpuidTable.class, VcpuControl.class, VcpuKick.class, VcpuExit.class, Registers.class, Layouts.class)) {
                Class.forName(c.getName(), true, c.getClassLoader());
            }
            return true;
        } catch (RuntimeException | LinkageError | ClassNotFoundException e) {
            return false;
        }
    }

    @Override
    public Availability availability() {
        if (!Files.exists(device)) {
            return Availability.no("no " + device + ": this host has no KVM (load kvm_intel or kvm_amd, or use --engine emu)");
        }
        int version;
        try (FileDescriptor kvm = openDevice()) {
            version = kvm.ioctl(KvmApi.GET_API_VERSION, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Libc.EACCES || e.errno() == Libc.EPERM) {
                return Availability.no("permission denied on " + device + ": add your user to its group (usually kvm) or use --engine emu");
            }
            return Availability.no("cannot open " + device + ": " + Libc.strerror(e.errno()));
        }
        if (version != KvmApi.API_VERSION) {
            return Availability.no(device + " speaks KVM API " + version + ", Flint needs " + KvmApi.API_VERSION);
        }
        String missing = missingCapability();
        if (missing != null) return Availability.no("KVM on this host lacks " + missing + "; use --engine emu");
        if (!hasHardwareVirtualization()) {
            return allowPvm ? new Availability(true, "PVM, used anyway (" + ALLOW_PVM_PROPERTY + "): stock kernels will not boot")
                    : Availability.no(PVM_REASON);
        }
        return Availability.yes();
    }

    /**
     * Whether the host CPU has VT-x or AMD-V. A /dev/kvm without either is PVM (or something like it):
     * KVM proper refuses to load without one of the two.
     */
    private boolean hasHardwareVirtualization() {
        try (var lines = Files.lines(cpuinfo)) {
            return lines.filter(l -> l.startsWith("flags"))
                    .findFirst()
                    .map(l -> (" " + l.substring(l.indexOf(':') + 1) + " ").matches(".* (vmx|svm) .*"))
                    .orElse(false);
        } catch (IOException e) {
            return false;
        }
    }

    /** The first capability Flint needs that this KVM does not have, or null. */
    private String missingCapability() {
        try (FileDescriptor kvm = openDevice()) {
            for (var cap : KvmApi.REQUIRED_CAPS.entrySet()) {
                if (kvm.ioctl(KvmApi.CHECK_EXTENSION, cap.getKey()) <= 0) return cap.getValue();
            }
            return null;
        }
    }

    private FileDescriptor openDevice() {
        return FileDescriptor.open(device.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
    }

    @Override
    public VirtualMachine create(VmSetup setup) {
        Availability a = availability();
        if (!a.usable()) throw new EngineException(a.reason());
        return createVm(setup);
    }

    /** Same as {@link #create}, typed for the package's tests. */
    KvmVm createVm(VmSetup setup) {
        FileDescriptor kvm;
        try {
            kvm = openDevice();
        } catch (ErrnoException e) {
            throw new EngineException("cannot open " + device + ": " + Libc.strerror(e.errno()));
        }
        return new KvmVm(kvm, setup);
    }
}
