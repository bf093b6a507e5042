package dev.flint.engine.kvm;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The CPUID a vCPU reports: what KVM supports on this host (KVM_GET_SUPPORTED_CPUID, which already
 * masks what KVM cannot virtualize and adds its paravirt leaves), with the per-vCPU fields fixed up:
 * the initial APIC id and the topology (how many logical CPUs share a package). Without the fix-ups every
 * vCPU would claim the host's APIC id and core count, and Linux would bring up a confused topology.
 */
final class CpuidTable {
    private static final int MAX_ENTRIES = 256;

    private final byte[] supported;
    private final int count;

    private CpuidTable(byte[] supported, int count) {
        this.supported = supported;
        this.count = count;
    }

    /** Asks /dev/kvm for its supported CPUID leaves. */
    static CpuidTable supported(FileDescriptor kvm) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Layouts.CPUID_HEADER + (long) MAX_ENTRIES * Layouts.CPUID_ENTRY, 8);
            buf.set(JAVA_INT, 0, MAX_ENTRIES);
            try {
                kvm.ioctl(KvmApi.GET_SUPPORTED_CPUID, buf);
            } catch (ErrnoException e) {
                if (e.errno() == Libc.E2BIG) throw new IllegalStateException("KVM reports more than " + MAX_ENTRIES + " CPUID leaves");
                throw e;
            }
            int n = buf.get(JAVA_INT, 0);
            return new CpuidTable(buf.asSlice(0, Layouts.CPUID_HEADER + (long) n * Layouts.CPUID_ENTRY).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), n);
        }
    }

    int size() { return count; }

    /** Sets this table, fixed up for vCPU {@code apicId} of {@code cpus}, on the vCPU. */
    void applyTo(FileDescriptor vcpu, int apicId, int cpus) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(supported.length, 8);
            MemorySegment.copy(MemorySegment.ofArray(supported), 0, buf, 0, supported.length);
            for (int i = 0; i < count; i++) {
                fixUp(buf.asSlice(Layouts.CPUID_HEADER + (long) i * Layouts.CPUID_ENTRY, Layouts.CPUID_ENTRY), apicId, cpus);
            }
            vcpu.ioctl(KvmApi.SET_CPUID2, buf);
        }
    }

    /** Bits needed to number {@code n} things (the APIC id shift of a topology level). */
    static int bitsFor(int n) {
        return n <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(n - 1);
    }

    static void fixUp(MemorySegment e, int apicId, int cpus) {
        int function = e.get(JAVA_INT, Layouts.CPUID_FUNCTION);
        int index = e.get(JAVA_INT, Layouts.CPUID_INDEX);
        switch (function) {
            case 0x1 -> {
                // EBX[31:24] initial APIC id, EBX[23:16] logical processors per package, EDX[28] HTT.
                int ebx = e.get(JAVA_INT, Layouts.CPUID_EBX);
                ebx = (ebx & 0x0000_FFFF) | ((cpus & 0xFF) << 16) | (apicId << 24);
                e.set(JAVA_INT, Layouts.CPUID_EBX, ebx);
                int edx = e.get(JAVA_INT, Layouts.CPUID_EDX);
                e.set(JAVA_INT, Layouts.CPUID_EDX, cpus > 1 ? edx | (1 << 28) : edx & ~(1 << 28));
                // ECX[31]: running under a hypervisor.
                e.set(JAVA_INT, Layouts.CPUID_ECX, e.get(JAVA_INT, Layouts.CPUID_ECX) | (1 << 31));
            }
            case 0x4 -> {
                // Deterministic cache parameters: EAX[31:26] = cores per package - 1; one core per vCPU,
                // caches shared by nobody else (EAX[25:14] = 0: one thread per cache).
                int eax = e.get(JAVA_INT, Layouts.CPUID_EAX);
                if ((eax & 0x1F) != 0) e.set(JAVA_INT, Layouts.CPUID_EAX, (eax & 0x3FFF) | ((cpus - 1) << 26));
            }
            case 0xB, 0x1F -> {
                // Extended topology: level 0 = SMT (1 thread per core), level 1 = core (cpus per package).
                int eax, ebx, ecx;
                if (index == 0) {
                    eax = 0; ebx = 1; ecx = (1 << 8);
                } else if (index == 1) {
                    eax = bitsFor(cpus); ebx = cpus; ecx = (2 << 8) | 1;
                } else {
                    eax = 0; ebx = 0; ecx = index & 0xFF;
                }
                e.set(JAVA_INT, Layouts.CPUID_EAX, eax);
                e.set(JAVA_INT, Layouts.CPUID_EBX, ebx);
                e.set(JAVA_INT, Layouts.CPUID_ECX, ecx);
                e.set(JAVA_INT, Layouts.CPUID_EDX, apicId);
            }
            case 0x8000_0008 -> {
                // AMD: ECX[7:0] = cores per package - 1, ECX[15:12] = APIC id bits for cores.
                int ecx = e.get(JAVA_INT, Layouts.CPUID_ECX) & ~0xF0FF;
                e.set(JAVA_INT, Layouts.CPUID_ECX, ecx | ((cpus - 1) & 0xFF) | (bitsFor(cpus) << 12));
            }
            case 0x8000_001E -> {
                // AMD extended APIC id; one thread per core, core id = APIC id.
                e.set(JAVA_INT, Layouts.CPUID_EAX, apicId);
                e.set(JAVA_INT, Layouts.CPUID_EBX, apicId & 0xFF);
                e.set(JAVA_INT, Layouts.CPUID_ECX, 0);
            }
            default -> { }
        }
    }
}
