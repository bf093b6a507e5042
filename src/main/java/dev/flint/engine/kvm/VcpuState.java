package dev.flint.engine.kvm;

import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Saves and restores one paused KVM vCPU for a snapshot. KVM's own structures (kvm_regs, kvm_sregs, the
 * XSAVE area, XCRs, debug registers, the local APIC page, kvm_vcpu_events) are kept as the bytes KVM gave;
 * MSRs as index/value pairs, for every MSR of KVM_GET_MSR_INDEX_LIST this vCPU lets the VMM read.
 *
 * <p>The order of the restore is KVM's, not a matter of taste: the TSC frequency before the TSC (its
 * offset is computed at the current ratio); special registers before the local APIC (KVM_SET_SREGS sets
 * the APIC base, which resets the APIC's mode); the APIC before MSRs (the TSC deadline MSR is only taken
 * while the APIC timer is in deadline mode); the TSC before the deadline; general registers before the
 * vCPU events (KVM_SET_REGS drops a pending exception that the events then put back).
 */
final class VcpuState {
    private static final Logger LOG = Logger.getLogger(VcpuState.class.getName());
    /** KVM refuses more than 255 MSRs per KVM_GET/SET_MSRS. */
    private static final int MSR_CHUNK = 128;
    private static final int MAX_MSRS = 4096;
    private static final int MAX_XSAVE = 1 << 20;

    private VcpuState() {}

    /**
     * @param msrIndices KVM_GET_MSR_INDEX_LIST (MSRs a VMM should save; those this vCPU refuses are left out)
     * @param xsaveSize  the vCPU's XSAVE area size (CAP_XSAVE2), or 0 for the 4 KiB KVM_GET_XSAVE
     */
    static void save(FileDescriptor vcpu, int[] msrIndices, int xsaveSize, boolean tscKhz, StateWriter.Section out) {
        try (Arena arena = Arena.ofConfined()) {
            // MP state first: reading it makes KVM act on a pending INIT/SIPI, which the other parts then show.
            out.putInt(getInt(vcpu, KvmApi.GET_MP_STATE, arena));
            out.putLong(tscKhz ? vcpu.ioctl(KvmApi.GET_TSC_KHZ, 0) : 0);
            out.putBytes(get(vcpu, KvmApi.GET_REGS, Layouts.REGS_SIZE, arena));
            out.putBytes(get(vcpu, KvmApi.GET_SREGS, Layouts.SREGS_SIZE, arena));
            byte[] xsave = xsaveSize > Layouts.XSAVE_SIZE
                    ? get(vcpu, KvmApi.GET_XSAVE2, xsaveSize, arena)
                    : get(vcpu, KvmApi.GET_XSAVE, Layouts.XSAVE_SIZE, arena);
            out.putInt(xsave.length).putBytes(xsave);
            out.putBytes(get(vcpu, KvmApi.GET_XCRS, Layouts.XCRS_SIZE, arena));
            out.putBytes(get(vcpu, KvmApi.GET_DEBUGREGS, Layouts.DEBUGREGS_SIZE, arena));
            out.putBytes(get(vcpu, KvmApi.GET_LAPIC, Layouts.LAPIC_SIZE, arena));
            long[][] msrs = readMsrs(vcpu, msrIndices, arena);
            out.putInt(msrs.length);
            for (long[] m : msrs) out.putInt((int) m[0]).putLong(m[1]);
            // Events last: nothing above injects or drops an event.
            out.putBytes(get(vcpu, KvmApi.GET_VCPU_EVENTS, Layouts.EVENTS_SIZE, arena));
        }
    }

    /** Takes back {@link #save}'s state into a vCPU created the same way (CPUID already set). */
    static void restore(FileDescriptor vcpu, int id, boolean tscControl, StateReader.Section in) {
        try (Arena arena = Arena.ofConfined()) {
            int mpState = in.getInt();
            long khz = in.getLong();
            byte[] regs = in.getBytes(Layouts.REGS_SIZE);
            byte[] sregs = in.getBytes(Layouts.SREGS_SIZE);
            int xsaveSize = in.getInt();
            if (xsaveSize < Layouts.XSAVE_SIZE || xsaveSize > MAX_XSAVE) {
                throw new SnapshotException("the snapshot's XSAVE area of vCPU " + id + " has an impossible size " + xsaveSize);
            }
            byte[] xsave = in.getBytes(xsaveSize);
            byte[] xcrs = in.getBytes(Layouts.XCRS_SIZE);
            byte[] debugregs = in.getBytes(Layouts.DEBUGREGS_SIZE);
            byte[] lapic = in.getBytes(Layouts.LAPIC_SIZE);
            int count = in.getInt();
            if (count < 0 || count > MAX_MSRS) throw new SnapshotException("the snapshot lists " + count + " MSRs for vCPU " + id);
            long[][] msrs = new long[count][];
            for (int i = 0; i < count; i++) msrs[i] = new long[] {in.getInt() & 0xFFFF_FFFFL, in.getLong()};
            byte[] events = in.getBytes(Layouts.EVENTS_SIZE);
            in.end();

            setTscKhz(vcpu, id, khz, tscControl);
            setInt(vcpu, KvmApi.SET_MP_STATE, mpState, arena);
            set(vcpu, KvmApi.SET_REGS, regs, Layouts.REGS_SIZE, arena);
            set(vcpu, KvmApi.SET_SREGS, sregs, Layouts.SREGS_SIZE, arena);
            // KVM reads as many bytes as its own XSAVE size: never less than that from this buffer.
            set(vcpu, KvmApi.SET_XSAVE, xsave, Math.max(xsave.length, Layouts.XSAVE_SIZE), arena);
            set(vcpu, KvmApi.SET_XCRS, xcrs, Layouts.XCRS_SIZE, arena);
            set(vcpu, KvmApi.SET_DEBUGREGS, debugregs, Layouts.DEBUGREGS_SIZE, arena);
            set(vcpu, KvmApi.SET_LAPIC, lapic, Layouts.LAPIC_SIZE, arena);
            writeMsrs(vcpu, id, ordered(msrs), arena);
            MemorySegment ev = segment(arena, events, Layouts.EVENTS_SIZE);
            // GET reports the shadow and SMM parts valid; the pending NMI and the SIPI vector must be asked for.
            ev.set(JAVA_INT, Layouts.EVENTS_FLAGS, ev.get(JAVA_INT, Layouts.EVENTS_FLAGS)
                    | KvmApi.VCPUEVENT_VALID_NMI_PENDING | KvmApi.VCPUEVENT_VALID_SIPI_VECTOR);
            vcpu.ioctl(KvmApi.SET_VCPU_EVENTS, ev);
        } catch (ErrnoException e) {
            throw new SnapshotException("KVM refused the snapshot's state of vCPU " + id + ": " + e.getMessage(), e);
        }
    }

    private static void setTscKhz(FileDescriptor vcpu, int id, long khz, boolean tscControl) {
        if (khz <= 0) return;
        long here;
        try {
            here = vcpu.ioctl(KvmApi.GET_TSC_KHZ, 0);
        } catch (ErrnoException e) {
            here = 0;
        }
        if (here == khz) return;
        // A guest calibrated its clocks to the TSC's rate: a TSC running at another rate would make its time wrong.
        if (!tscControl) {
            throw new SnapshotException("the snapshot's TSC ran at " + khz + " kHz, this host's runs at " + here
                    + " kHz and KVM cannot scale it (no KVM_CAP_TSC_CONTROL)");
        }
        try {
            vcpu.ioctl(KvmApi.SET_TSC_KHZ, khz);
        } catch (ErrnoException e) {
            throw new SnapshotException("the snapshot's TSC ran at " + khz + " kHz, this host's runs at " + here
                    + " kHz and KVM cannot scale it: " + e.getMessage(), e);
        }
        LOG.info("vCPU " + id + ": TSC scaled from this host's " + here + " kHz to the snapshot's " + khz + " kHz");
    }

    /** The TSC before everything else, its deadline after everything else (the deadline is a TSC value). */
    private static long[][] ordered(long[][] msrs) {
        List<long[]> out = new ArrayList<>(msrs.length);
        for (long[] m : msrs) if (m[0] == KvmApi.MSR_IA32_TSC) out.add(m);
        for (long[] m : msrs) if (m[0] != KvmApi.MSR_IA32_TSC && m[0] != KvmApi.MSR_IA32_TSC_DEADLINE) out.add(m);
        for (long[] m : msrs) if (m[0] == KvmApi.MSR_IA32_TSC_DEADLINE) out.add(m);
        return out.toArray(long[][]::new);
    }

    /**
     * Reads every listed MSR this vCPU lets the VMM read. KVM_GET_MSRS stops at the first one it refuses
     * (an MSR of a feature this guest's CPUID does not have) and says how many it read: that one is left
     * out and the read goes on after it.
     */
    private static long[][] readMsrs(FileDescriptor vcpu, int[] indices, Arena arena) {
        List<long[]> read = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        MemorySegment msrs = arena.allocate(Layouts.MSRS_HEADER + (long) MSR_CHUNK * Layouts.MSR_ENTRY, 8);
        int i = 0;
        while (i < indices.length) {
            int n = Math.min(MSR_CHUNK, indices.length - i);
            msrs.fill((byte) 0);
            msrs.set(JAVA_INT, 0, n);
            for (int k = 0; k < n; k++) msrs.set(JAVA_INT, Layouts.MSRS_HEADER + (long) k * Layouts.MSR_ENTRY, indices[i + k]);
            int got = vcpu.ioctl(KvmApi.GET_MSRS, msrs);
            for (int k = 0; k < got; k++) {
                long at = Layouts.MSRS_HEADER + (long) k * Layouts.MSR_ENTRY;
                read.add(new long[] {msrs.get(JAVA_INT, at) & 0xFFFF_FFFFL, msrs.get(JAVA_LONG, at + 8)});
            }
            i += got;
            if (got < n) refused.add(Integer.toHexString(indices[i++]));
        }
        if (!refused.isEmpty()) LOG.fine(() -> "MSRs KVM lists but this vCPU does not have, left out: " + refused);
        return read.toArray(long[][]::new);
    }

    /**
     * Writes the MSRs in order. One KVM refuses is skipped and tried again after all the others (some
     * depend on another being set first); one refused twice is reported, since that part of the guest's
     * state did not come back.
     */
    private static void writeMsrs(FileDescriptor vcpu, int id, long[][] msrs, Arena arena) {
        List<long[]> refused = writeOnce(vcpu, msrs, arena);
        if (refused.isEmpty()) return;
        List<long[]> again = writeOnce(vcpu, refused.toArray(long[][]::new), arena);
        if (!again.isEmpty()) {
            LOG.warning("vCPU " + id + ": KVM refused the snapshot's value of MSRs "
                    + again.stream().map(m -> String.format("0x%x=0x%x", m[0], m[1])).toList());
        }
    }

    private static List<long[]> writeOnce(FileDescriptor vcpu, long[][] msrs, Arena arena) {
        List<long[]> refused = new ArrayList<>();
        MemorySegment seg = arena.allocate(Layouts.MSRS_HEADER + (long) MSR_CHUNK * Layouts.MSR_ENTRY, 8);
        int i = 0;
        while (i < msrs.length) {
            int n = Math.min(MSR_CHUNK, msrs.length - i);
            seg.fill((byte) 0);
            seg.set(JAVA_INT, 0, n);
            for (int k = 0; k < n; k++) {
                long at = Layouts.MSRS_HEADER + (long) k * Layouts.MSR_ENTRY;
                seg.set(JAVA_INT, at, (int) msrs[i + k][0]);
                seg.set(JAVA_LONG, at + 8, msrs[i + k][1]);
            }
            int set = vcpu.ioctl(KvmApi.SET_MSRS, seg);
            i += set;
            if (set < n) refused.add(msrs[i++]);
        }
        return refused;
    }

    /** KVM_GET_MSR_INDEX_LIST of /dev/kvm: asked once with no room to learn the count (E2BIG), then for real. */
    static int[] msrIndexList(FileDescriptor kvm) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment probe = arena.allocate(4, 4);
            int count = 0;
            try {
                kvm.ioctl(KvmApi.GET_MSR_INDEX_LIST, probe);
            } catch (ErrnoException e) {
                if (e.errno() != Libc.E2BIG) throw e;
            }
            count = probe.get(JAVA_INT, 0);
            if (count < 0 || count > MAX_MSRS) throw new SnapshotException("KVM lists " + count + " MSRs to save");
            MemorySegment list = arena.allocate(4 + 4L * count, 4);
            list.set(JAVA_INT, 0, count);
            kvm.ioctl(KvmApi.GET_MSR_INDEX_LIST, list);
            int n = Math.min(count, list.get(JAVA_INT, 0));
            int[] out = new int[n];
            for (int i = 0; i < n; i++) out[i] = list.get(JAVA_INT, 4 + 4L * i);
            return out;
        }
    }

    static byte[] get(FileDescriptor fd, long request, int size, Arena arena) {
        MemorySegment s = arena.allocate(size, 8);
        fd.ioctl(request, s);
        return s.toArray(JAVA_BYTE);
    }

    static void set(FileDescriptor fd, long request, byte[] bytes, int size, Arena arena) {
        fd.ioctl(request, segment(arena, bytes, size));
    }

    /** {@code bytes} in native memory of at least {@code size} bytes (zeros after them). */
    static MemorySegment segment(Arena arena, byte[] bytes, int size) {
        MemorySegment s = arena.allocate(Math.max(size, bytes.length), 8);
        MemorySegment.copy(bytes, 0, s, JAVA_BYTE, 0, bytes.length);
        return s;
    }

    private static int getInt(FileDescriptor fd, long request, Arena arena) {
        MemorySegment s = arena.allocate(4, 4);
        fd.ioctl(request, s);
        return s.get(JAVA_INT, 0);
    }

    private static void setInt(FileDescriptor fd, long request, int value, Arena arena) {
        MemorySegment s = arena.allocate(4, 4);
        s.set(JAVA_INT, 0, value);
        fd.ioctl(request, s);
    }
}
