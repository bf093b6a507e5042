package dev.flint.arch.x86;

/**
 * A segment register as the CPU holds it after loading a descriptor (the visible selector plus the hidden
 * part). Field names follow the descriptor bits so both engines can map them directly: KVM's
 * {@code struct kvm_segment} and emu's segment cache.
 *
 * @param type 4-bit descriptor type (e.g. 0xB = execute/read accessed code, 0x3 = read/write accessed data)
 * @param s    1 for code/data, 0 for system descriptors (TSS, LDT)
 * @param l    64-bit code segment
 * @param db   default operand size 32 (code) / big (data)
 * @param g    limit counted in 4 KiB units (the {@code limit} here is already the byte limit)
 */
public record Segment(int selector, long base, int limit, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g) {

    /** A flat 64-bit code segment. */
    public static Segment code64(int selector) {
        return new Segment(selector, 0, 0xFFFF_FFFF, 0xB, true, 0, false, true, true, true);
    }

    /** A flat 32-bit code segment. */
    public static Segment code32(int selector) {
        return new Segment(selector, 0, 0xFFFF_FFFF, 0xB, true, 0, true, true, false, true);
    }

    /** A flat read/write data segment. */
    public static Segment data(int selector) {
        return new Segment(selector, 0, 0xFFFF_FFFF, 0x3, true, 0, true, true, false, true);
    }

    /** A real-mode segment as after reset or SIPI: base = selector * 16, 64 KiB limit. */
    public static Segment real(int selector, int type) {
        return new Segment(selector, (long) selector << 4, 0xFFFF, type, true, 0, false, true, false, false);
    }

    /** The busy 64-bit TSS the boot state uses (KVM requires a usable TR even if Linux reloads it). */
    public static Segment tss(int selector) {
        return new Segment(selector, 0, 0x67, 0xB, true, 0, false, false, false, false);
    }

    /** An unusable (null) segment. */
    public static Segment unusable() {
        return new Segment(0, 0, 0, 0, false, 0, false, false, false, false);
    }

    /** Packs the descriptor into its 8-byte GDT form (base up to 32 bits). */
    public long toGdtEntry() {
        long lim = g ? (limit >>> 12) & 0xFFFFFL : limit & 0xFFFFFL;
        long access = (type & 0xF) | (s ? 0x10 : 0) | ((long) (dpl & 3) << 5) | (present ? 0x80 : 0);
        long flags = (l ? 0x2 : 0) | (db ? 0x4 : 0) | (g ? 0x8 : 0);
        return (lim & 0xFFFF) | ((base & 0xFFFFFFL) << 16) | (access << 40) | (((lim >>> 16) & 0xF) << 48)
                | (flags << 52) | (((base >>> 24) & 0xFF) << 56);
    }
}
