package dev.flint.engine.emu.diff;

/** An x86 operand the generator can encode: a register or a memory reference. */
sealed interface Operand {
    int size();

    /**
     * A general-purpose register of 1, 2, 4 or 8 bytes. {@code high} selects AH/CH/DH/BH (num 0-3),
     * which exist only in instructions without a REX prefix.
     */
    record Reg(int num, int size, boolean high) implements Operand {
        private static final String[] B = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
        private static final String[] H = {"ah", "ch", "dh", "bh"};
        private static final String[] W = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};

        static Reg of(int num, int size) {
            return new Reg(num, size, false);
        }

        static Reg highByte(int num) {
            return new Reg(num, 1, true);
        }

        /** Number in the ModRM/REX encoding: AH..BH encode as 4..7. */
        int code() {
            return high ? num + 4 : num;
        }

        /** Needs a REX prefix just to be addressable (SPL, BPL, SIL, DIL). */
        boolean needsRex() {
            return size == 1 && !high && num >= 4 && num < 8;
        }

        /** An XMM register, encoded like a GPR in ModRM/REX. */
        static Reg xmm(int num) {
            return new Reg(num, 16, false);
        }

        /** An MMX register (size tag 10: never a GPR size), encoded like a GPR without REX bits. */
        static Reg mm(int num) {
            return new Reg(num, 10, false);
        }

        @Override
        public String toString() {
            if (size == 10) {
                return "mm" + num;
            }
            if (size == 16) {
                return "xmm" + num;
            }
            if (high) {
                return H[num];
            }
            if (num >= 8) {
                return "r" + num + switch (size) { case 1 -> "b"; case 2 -> "w"; case 4 -> "d"; default -> ""; };
            }
            return switch (size) {
                case 1 -> B[num];
                case 2 -> W[num];
                case 4 -> "e" + W[num];
                default -> "r" + W[num];
            };
        }
    }

    /**
     * {@code [base + index*scale + disp]}; index -1 means none; base -1 means RIP-relative, in which
     * case {@code disp} is the absolute target address and the encoder computes the displacement.
     */
    record Mem(int base, int index, int scale, long disp, int size, boolean wideDisp) implements Operand {
        boolean ripRelative() {
            return base < 0;
        }

        @Override
        public String toString() {
            String ptr = switch (size) {
                case 1 -> "byte";
                case 2 -> "word";
                case 4 -> "dword";
                case 8 -> "qword";
                case 16 -> "xmmword";
                default -> "";
            };
            if (ripRelative()) {
                return ptr + " [rip -> 0x" + Long.toHexString(disp) + "]";
            }
            StringBuilder sb = new StringBuilder(ptr).append(" [").append(CpuState.GPR_NAMES[base]);
            if (index >= 0) {
                sb.append('+').append(CpuState.GPR_NAMES[index]).append('*').append(scale);
            }
            if (disp != 0 || wideDisp) {
                sb.append(disp < 0 ? "-0x" : "+0x").append(Long.toHexString(Math.abs(disp)));
            }
            return sb.append(']').toString();
        }
    }
}
