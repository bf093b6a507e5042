package dev.flint.arch.x86;

/**
 * Where the firmware tables find PCI hot-plug: the register block's first port ({@code port}, 12 bytes: the
 * slots to rescan, the slots to eject, the slots the OS ejected, one 32-bit bitmap each), the GSI the Generic
 * Event Device interrupts on (edge-triggered, active high), and which slots of bus 0 may take a function while
 * the machine runs ({@code slots}, bit N = slot N; slot 0 is the host bridge).
 */
public record PciHotplugInfo(int port, int gsi, int slots) {
    /** Offsets of the registers in the block. */
    public static final int INSERTED = 0, EJECT_REQUESTED = 4, EJECTED = 8, LENGTH = 12;

    public PciHotplugInfo {
        if (port < 0 || port + LENGTH > 0x1_0000) throw new IllegalArgumentException("hot-plug ports outside 0..0xFFFF");
        if (gsi < 0 || gsi > 255) throw new IllegalArgumentException("hot-plug GSI out of range: " + gsi);
        if ((slots & 1) != 0) throw new IllegalArgumentException("slot 0 is the host bridge");
    }
}
