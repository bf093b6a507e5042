package dev.flint.engine.kvm;

import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The VM-wide part of a KVM snapshot: the in-kernel irqchip Flint creates (both 8259 PICs and the I/O
 * APIC, KVM_GET_IRQCHIP), the in-kernel PIT (KVM_GET_PIT2), and the guest's kvmclock (KVM_GET_CLOCK). The
 * local APICs are per vCPU ({@link VcpuState}).
 */
final class VmState {
    private static final int[] CHIPS = {KvmApi.IRQCHIP_PIC_MASTER, KvmApi.IRQCHIP_PIC_SLAVE, KvmApi.IRQCHIP_IOAPIC};

    private VmState() {}

    static void saveDevices(FileDescriptor vm, StateWriter.Section out) {
        try (Arena arena = Arena.ofConfined()) {
            for (int chip : CHIPS) {
                MemorySegment s = arena.allocate(Layouts.IRQCHIP_SIZE, 8);
                s.set(JAVA_INT, 0, chip);
                vm.ioctl(KvmApi.GET_IRQCHIP, s);
                out.putBytes(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
            out.putBytes(VcpuState.get(vm, KvmApi.GET_PIT2, Layouts.PIT2_SIZE, arena));
        }
    }

    static void restoreDevices(FileDescriptor vm, StateReader.Section in) {
        byte[][] chips = new byte[CHIPS.length][];
        for (int i = 0; i < CHIPS.length; i++) chips[i] = in.getBytes(Layouts.IRQCHIP_SIZE);
        byte[] pit = in.getBytes(Layouts.PIT2_SIZE);
        in.end();
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < CHIPS.length; i++) {
                MemorySegment s = VcpuState.segment(arena, chips[i], Layouts.IRQCHIP_SIZE);
                if (s.get(JAVA_INT, 0) != CHIPS[i]) throw new SnapshotException("the snapshot's irqchip " + i + " is chip " + s.get(JAVA_INT, 0));
                vm.ioctl(KvmApi.SET_IRQCHIP, s);
            }
            VcpuState.set(vm, KvmApi.SET_PIT2, pit, Layouts.PIT2_SIZE, arena);
        } catch (ErrnoException e) {
            throw new SnapshotException("KVM refused the snapshot's interrupt controllers or PIT: " + e.getMessage(), e);
        }
    }

    /** The guest's kvmclock, in nanoseconds. */
    static long clock(FileDescriptor vm) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Layouts.CLOCK_SIZE, 8);
            vm.ioctl(KvmApi.GET_CLOCK, s);
            return s.get(JAVA_LONG, 0);
        }
    }

    /**
     * Sets the guest's kvmclock to {@code nanos} now. No flags: KVM_CLOCK_REALTIME would add the time the
     * snapshot spent on disk, which the guest's timers (still set for the snapshot's instant) do not expect.
     */
    static void setClock(FileDescriptor vm, long nanos) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(Layouts.CLOCK_SIZE, 8);
            s.set(JAVA_LONG, 0, nanos);
            vm.ioctl(KvmApi.SET_CLOCK, s);
        } catch (ErrnoException e) {
            throw new SnapshotException("KVM refused the snapshot's clock: " + e.getMessage(), e);
        }
    }
}
