package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.DeviceAccess;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.machine.bus.Bus;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * Port I/O as the instructions see it (IN, OUT, INS, OUTS): the permission check against IOPL and the
 * TSS's I/O bitmap, then the port bus through {@link DeviceAccess} (a device that throws is logged and
 * reads all ones, as under kvm).
 */
final class PortIo {
    private final CpuState s;
    private final Flags flags;
    private final Mmu mmu;
    private final Bus ports;

    PortIo(CpuState s, Mmu mmu, Bus ports) {
        this.s = s;
        this.flags = s.flags;
        this.mmu = mmu;
        this.ports = ports;
    }

    /**
     * Port I/O permission: free at CPL <= IOPL outside virtual-8086 mode; otherwise every port touched must
     * have a clear bit in the TSS's I/O permission bitmap (Linux's ioperm() works this way). The bitmap
     * starts at the 16-bit offset stored at TSS+0x66; the two bytes read must lie within the TSS limit,
     * so a map base past the limit denies every port.
     */
    void check(int port, int size) {
        if (!s.protectedMode() || (s.cpl <= flags.iopl() && (flags.system & Flags.VM) == 0)) return;
        int type = s.segAttr[TR] & 0xF;
        long limit = s.segLimit[TR];
        if ((type != 9 && type != 11) || limit < 0x67) throw GuestFault.gp(0);
        long tss = s.segBase[TR];
        long at = mmu.readSystem(tss + 0x66, 2) + (port >>> 3);
        if (at + 1 > limit) throw GuestFault.gp(0);
        long bits = mmu.readSystem(tss + at, 2);
        if ((bits & (((1L << size) - 1) << (port & 7))) != 0) throw GuestFault.gp(0);
    }

    /** Reads {@code size} bytes from {@code port} (permission already checked). */
    long read(long port, int size) { return DeviceAccess.read(ports, port, size); }

    /** Writes {@code size} bytes to {@code port} (permission already checked). */
    void write(long port, int size, long value) { DeviceAccess.write(ports, port, size, value); }
}
