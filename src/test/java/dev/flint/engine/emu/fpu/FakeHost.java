package dev.flint.engine.emu.fpu;

/** A CPU core stand-in for unit tests: 16 GPRs in an array, 64 KiB of flat memory, recorded flags. */
final class FakeHost implements FpuHost {
    static final class Fault extends RuntimeException {
        final int vector;

        Fault(int vector) {
            super("fault " + vector);
            this.vector = vector;
        }
    }

    final long[] gpr = new long[16];
    final byte[] mem = new byte[0x10000];
    long cr0 = 0x33; // PE | MP | ET | NE
    long cr4 = 0x600; // OSFXSR | OSXMMEXCPT
    boolean longMode = true;
    boolean zf;
    boolean pf;
    boolean cf;

    @Override
    public long readGpr(int index) {
        return gpr[index];
    }

    @Override
    public void writeGpr(int index, long value, int sizeBytes) {
        gpr[index] = switch (sizeBytes) {
            case 8 -> value;
            case 4 -> value & 0xFFFFFFFFL;
            default -> {
                long mask = (1L << (8 * sizeBytes)) - 1;
                yield (gpr[index] & ~mask) | (value & mask);
            }
        };
    }

    @Override
    public long readMem(long linear, int size) {
        if (linear < 0 || linear + size > mem.length) {
            throw new Fault(14);
        }
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (mem[(int) linear + i] & 0xFF);
        }
        return v;
    }

    @Override
    public void writeMem(long linear, int size, long value) {
        if (linear < 0 || linear + size > mem.length) {
            throw new Fault(14);
        }
        for (int i = 0; i < size; i++) {
            mem[(int) linear + i] = (byte) (value >>> (8 * i));
        }
    }

    @Override
    public void setCompareFlags(boolean zf, boolean pf, boolean cf) {
        this.zf = zf;
        this.pf = pf;
        this.cf = cf;
    }

    @Override
    public RuntimeException fault(int vector, int errorCode) {
        return new Fault(vector);
    }

    @Override
    public long cr0() {
        return cr0;
    }

    @Override
    public long cr4() {
        return cr4;
    }

    @Override
    public boolean longMode() {
        return longMode;
    }
}
