package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The decoder and the current instruction's operands: code fetch through a 16-byte window, prefixes,
 * ModRM/SIB/displacement, immediates, and access to the decoded operands (registers by size, the ModRM
 * operand in memory or a register, read-modify-write with LOCK). It also holds the mode facts decoding
 * depends on ({@link #modeChanged}) and the fetch pointer, which jumps move ({@link #moveIp}).
 *
 * <p>An instruction is decoded while it executes: the instruction families ask for their ModRM and
 * immediates as they need them, so decoding and execution share this one state. When a block is being
 * built, what is decoded is recorded into a {@link DecodedInsn} ({@link #recording}); when one is replayed,
 * its prefixes and ModRM are restored from it ({@link #restore}) instead of decoded again.
 *
 * <p>Depends on nothing above it: the runner ({@link Cpu}) and the families call into it, never back.
 */
final class Decoder {
    private static final Logger LOG = Logger.getLogger(Decoder.class.getName());
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final MemorySegment ram;
    private final Stack stack;

    // ------------------------------------------------------------ per-instruction decode state
    long ip;           // fetch pointer: offset in CS of the next byte
    long startIp;
    int opSize, adSize, seg;
    boolean rex;
    int rexW, rexR, rexX, rexB;
    int repPrefix, lastPrefix;
    boolean lock, has66;
    int modrm, mod, reg, rm;
    boolean memOp, ripRel;
    long eaOff;
    int eaSeg;
    /** The ModRM memory operand as decoded: offset = disp + r[base] + (r[index] << scale); -1 = none. */
    int eaBase, eaIndex, eaScale;
    long eaDisp;

    /** The instruction being replayed (its ModRM is not decoded again), or null. */
    DecodedInsn replaying;
    /** The instruction being recorded while a block is built, or null. */
    DecodedInsn recording;
    /** Where the current instruction's bytes ended, once a jump moved the fetch pointer ({@link #moved}). */
    long insnEnd;
    boolean moved;
    /** Bumped by every mode change: a block stops when it sees one. */
    int modeEpoch;

    // ------------------------------------------------------------ mode caches
    boolean mode64;
    int defOpSize, defAdSize;
    long ipMask;

    // ------------------------------------------------------------ code fetch cache
    long fetchPage = -1, fetchHost;
    int fetchGen;

    /**
     * Up to 16 code bytes starting at offset {@link #windowIp} of CS, read with two memory accesses at the
     * start of each instruction: nearly every instruction then decodes without touching memory again.
     * Refilled per instruction, so code written by the previous instruction is always seen.
     */
    long window, window2;
    long windowIp;
    int windowLength;

    Decoder(CpuState s, Mmu mmu, Stack stack) {
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.ram = mmu.ram();
        this.stack = stack;
    }

    /** Recomputes cached mode facts after CS, CR0, EFER or CPL change. */
    void modeChanged() {
        mode64 = s.mode64();
        if (mode64) {
            defOpSize = 4;
            defAdSize = 8;
            ipMask = -1L;
        } else {
            defOpSize = (s.segAttr[CS] & A_DB) != 0 ? 4 : 2;
            defAdSize = defOpSize;
            ipMask = defOpSize == 4 ? 0xFFFF_FFFFL : 0xFFFFL;
        }
        stack.modeChanged(mode64);
        mmu.setUser(s.cpl == 3);
        fetchPage = -1;
        windowLength = 0;
        modeEpoch++;
    }

    /** What decoding depends on besides the code bytes: long mode and the default operand/address sizes. */
    int modeKey() { return (mode64 ? 1 : 0) | defOpSize << 1 | defAdSize << 5; }

    /** Host offset of the RAM page holding code at {@code lin} (-1 if not RAM), cached per page. */
    long codePageHost(long lin) {
        long page = lin & ~0xFFFL;
        if (page != fetchPage || fetchGen != mmu.generation()) {
            fetchHost = mmu.codePage(lin);
            fetchPage = page;
            fetchGen = mmu.generation();
        }
        return fetchHost;
    }

    // ============================================================ prefixes and opcode

    /**
     * Starts decoding the instruction at {@code rip} and reads its prefixes and opcode. Returns the opcode,
     * with 0x100 added for the two-byte map (0F xx). Opcodes that do not take LOCK raise #UD here.
     */
    int decodeOpcode(long rip) {
        startIp = rip;
        ip = rip;
        windowLength = 0;
        replaying = null;
        moved = false;
        opSize = defOpSize;
        adSize = defAdSize;
        seg = -1;
        rex = false;
        rexW = rexR = rexX = rexB = 0;
        repPrefix = 0;
        lastPrefix = 0;
        lock = false;
        has66 = false;
        int op;
        while (true) {
            op = fetch8();
            switch (op) {
                case 0x26 -> seg = ES;
                case 0x2E -> seg = CS;
                case 0x36 -> seg = SS;
                case 0x3E -> seg = DS;
                case 0x64 -> seg = FS;
                case 0x65 -> seg = GS;
                case 0x66 -> { has66 = true; lastPrefix = 0x66; }
                case 0x67 -> adSize = mode64 ? 4 : (defAdSize == 4 ? 2 : 4);
                case 0xF0 -> lock = true;
                case 0xF2, 0xF3 -> { repPrefix = op; lastPrefix = op; }
                default -> {
                    if (mode64 && (op & 0xF0) == 0x40) {
                        // REX must come last; a legacy prefix after it cancels it, as on hardware.
                        int next;
                        rex = true;
                        rexW = (op >> 3) & 1;
                        rexR = (op & 4) << 1;
                        rexX = (op & 2) << 2;
                        rexB = (op & 1) << 3;
                        next = fetch8();
                        if ((next & 0xF0) == 0x40 || isLegacyPrefix(next)) {
                            ip--;
                            rex = false;
                            rexW = rexR = rexX = rexB = 0;
                            continue;
                        }
                        op = next;
                    }
                    if (has66) opSize = (defOpSize == 2) ? 4 : 2;
                    if (rexW != 0) opSize = 8;
                    if (op == 0x0F) {
                        int op2 = fetch8();
                        if (lock && !lockable2(op2)) throw ud();
                        if (recording != null) recordPrefixes(op2, true);
                        return 0x100 | op2;
                    }
                    if (lock && !lockable1(op)) throw ud();
                    if (recording != null) recordPrefixes(op, false);
                    return op;
                }
            }
        }
    }

    private void recordPrefixes(int opcode, boolean twoByte) {
        DecodedInsn d = recording;
        d.opSize = (byte) opSize;
        d.adSize = (byte) adSize;
        d.seg = (byte) seg;
        d.rex = rex;
        d.rexW = (byte) rexW;
        d.rexR = (byte) rexR;
        d.rexX = (byte) rexX;
        d.rexB = (byte) rexB;
        d.repPrefix = (short) repPrefix;
        d.lastPrefix = (short) lastPrefix;
        d.lock = lock;
        d.has66 = has66;
        d.opcode = (short) opcode;
        d.twoByte = twoByte;
        d.afterOpcode = ip;
    }

    /** Restores a decoded instruction's prefixes and code bytes, the fetch pointer after its opcode. */
    void restore(DecodedInsn d) {
        startIp = d.rip;
        window = d.window;
        window2 = d.window2;
        windowIp = d.rip;
        windowLength = 16;
        opSize = d.opSize;
        adSize = d.adSize;
        seg = d.seg;
        rex = d.rex;
        rexW = d.rexW;
        rexR = d.rexR;
        rexX = d.rexX;
        rexB = d.rexB;
        repPrefix = d.repPrefix;
        lastPrefix = d.lastPrefix;
        lock = d.lock;
        has66 = d.has66;
        replaying = d;
        ip = d.afterOpcode;
    }

    /** One-byte opcodes that accept LOCK (with a memory destination, checked in {@link #rmw}). */
    private static boolean lockable1(int op) {
        return (op < 0x38 && (op & 6) == 0) || (op >= 0x80 && op <= 0x83) || op == 0x86 || op == 0x87
                || op == 0xF6 || op == 0xF7 || op == 0xFE || op == 0xFF;
    }

    private static boolean lockable2(int op) {
        return op == 0xAB || op == 0xB3 || op == 0xBB || op == 0xBA || op == 0xB0 || op == 0xB1 || op == 0xC0
                || op == 0xC1 || op == 0xC7;
    }

    /** Legacy prefix bytes (segment overrides, 66, 67, F0, F2, F3), indexed by byte value. */
    private static final boolean[] LEGACY_PREFIX = new boolean[256];

    static {
        for (int b : new int[] {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3}) {
            LEGACY_PREFIX[b] = true;
        }
    }

    private static boolean isLegacyPrefix(int b) { return LEGACY_PREFIX[b]; }

    // ============================================================ fetch

    int fetch8() {
        long d = ip - windowIp;
        if (d >= 0 && d < windowLength) {
            ip++;
            return (int) ((d < 8 ? window >>> (d << 3) : window2 >>> ((d - 8) << 3))) & 0xFF;
        }
        return fetchMiss();
    }

    private int fetchMiss() {
        long off = ip & ipMask;
        // Outside 64-bit mode every code byte must lie within CS's limit: the window below is cut at it, so
        // the first byte past it comes here.
        if (!mode64 && off > s.segLimit[CS]) throw GuestFault.gp(0);
        long lin = mode64 ? off : (s.segBase[CS] + off) & 0xFFFF_FFFFL;
        codePageHost(lin);
        if (fetchHost < 0) {
            windowLength = 0;
            ip++;
            return mmu.fetchSlow(lin);
        }
        long inPage = lin & 0xFFF;
        // The window must not wrap the IP or cross into the next page (its mapping may differ).
        if (ipMask == -1L || off <= ipMask - 16) {
            if (inPage <= 4096 - 16) {
                window = ram.get(CODE_WINDOW, fetchHost + inPage);
                window2 = ram.get(CODE_WINDOW, fetchHost + inPage + 8);
                windowLength = 16;
            } else {
                // The last bytes of the page: the window ends with the page, so an instruction there
                // still decodes from it alone and can be recorded into a block (one that crosses the
                // page end cannot: its fetch leaves the window).
                long lo = ram.get(CODE_WINDOW, fetchHost + 4096 - 16), hi = ram.get(CODE_WINDOW, fetchHost + 4096 - 8);
                int k = (int) inPage - (4096 - 16);
                if (k < 8) {
                    window = lo >>> (8 * k) | hi << (64 - 8 * k);
                    window2 = hi >>> (8 * k);
                } else {
                    window = hi >>> (8 * (k - 8));
                    window2 = 0;
                }
                windowLength = 16 - k;
            }
            if (!mode64 && off + windowLength - 1 > s.segLimit[CS]) windowLength = (int) (s.segLimit[CS] - off + 1);
            windowIp = ip;
            ip++;
            return (int) window & 0xFF;
        }
        windowLength = 0;
        ip++;
        return ram.get(ValueLayout.JAVA_BYTE, fetchHost + inPage) & 0xFF;
    }

    private static final ValueLayout.OfLong CODE_WINDOW =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    int fetch16() { return fetch8() | fetch8() << 8; }

    int fetch32() { return fetch16() | fetch16() << 16; }

    long fetch64() { return (fetch32() & 0xFFFF_FFFFL) | ((long) fetch32() << 32); }

    /** Immediate of operand size {@code size} (8-byte operands take a sign-extended imm32). */
    long fetchImm(int size) {
        return switch (size) {
            case 1 -> fetch8();
            case 2 -> fetch16();
            case 4 -> fetch32() & 0xFFFF_FFFFL;
            default -> fetch32();
        };
    }

    // ============================================================ registers

    long getReg(int n, int size) {
        return switch (size) {
            case 1 -> (!rex && n >= 4 && n < 8) ? (r[n - 4] >>> 8) & 0xFF : r[n] & 0xFF;
            case 2 -> r[n] & 0xFFFF;
            case 4 -> r[n] & 0xFFFF_FFFFL;
            default -> r[n];
        };
    }

    void setReg(int n, int size, long v) {
        switch (size) {
            case 1 -> {
                if (!rex && n >= 4 && n < 8) r[n - 4] = (r[n - 4] & ~0xFF00L) | ((v & 0xFF) << 8);
                else r[n] = (r[n] & ~0xFFL) | (v & 0xFF);
            }
            case 2 -> r[n] = (r[n] & ~0xFFFFL) | (v & 0xFFFF);
            case 4 -> r[n] = v & 0xFFFF_FFFFL;
            default -> r[n] = v;
        }
    }

    /**
     * Writes a register used as an address-size counter or pointer (string ops, LOOP, JCXZ's RCX): a 16-bit
     * address size keeps the upper bits, a 32-bit one writes ECX/ESI/EDI and so zero-extends, as any 32-bit
     * register write does.
     */
    void setAddressReg(int reg, long value, long am) {
        r[reg] = am == 0xFFFFL ? (r[reg] & ~am) | (value & am) : value & am;
    }

    void advance(int reg, long delta, long am) {
        setAddressReg(reg, r[reg] + delta, am);
    }

    // ============================================================ addressing

    /**
     * Linear address of an access of {@code size} bytes at {@code off} in segment {@code sg}: #GP (#SS for
     * SS) on a non-canonical 64-bit address, and outside 64-bit mode when the segment's limit or access
     * rights forbid it ({@link SegmentChecks}).
     */
    long linear(int sg, long off, int size, boolean write) {
        if (mode64) {
            long lin = sg >= FS ? s.segBase[sg] + off : off;
            if (((lin << 16) >> 16) != lin) throw GuestFault.of(sg == SS ? GuestFault.SS : GuestFault.GP, 0);
            return lin;
        }
        if (!SegmentChecks.fast(s, sg, off, size, write)) SegmentChecks.check(s, sg, off, size, write);
        return (s.segBase[sg] + off) & 0xFFFF_FFFFL;
    }

    /** Linear address of {@code off} in {@code sg} with no limit or rights check (INVLPG, bulk-copy planning). */
    long linearUnchecked(int sg, long off) {
        if (mode64) return linear(sg, off, 1, false);
        return (s.segBase[sg] + off) & 0xFFFF_FFFFL;
    }

    /** True if accesses through {@code sg} need no per-access check (64-bit mode, or a flat 4 GiB data segment). */
    boolean flatSegment(int sg) { return mode64 || SegmentChecks.flat(s, sg); }

    long adMask() { return adSize == 8 ? -1L : adSize == 4 ? 0xFFFF_FFFFL : 0xFFFFL; }

    void decodeModrm() {
        DecodedInsn d = replaying;
        if (d != null && d.hasModrm && d.modrmIp == ip) {
            modrm = d.modrm;
            mod = d.mod;
            reg = d.reg;
            rm = d.rm;
            memOp = d.memOp;
            ripRel = d.ripRel;
            eaBase = d.base;
            eaIndex = d.index;
            eaScale = d.scale;
            eaDisp = d.disp;
            eaSeg = d.eaSeg;
            ip = d.afterModrm;
        } else {
            long at = ip;
            parseModrm();
            d = recording;
            if (d != null && !d.hasModrm) {
                d.hasModrm = true;
                d.modrmIp = at;
                d.afterModrm = ip;
                d.modrm = (short) modrm;
                d.mod = (byte) mod;
                d.reg = (byte) reg;
                d.rm = (byte) rm;
                d.memOp = memOp;
                d.ripRel = ripRel;
                d.base = (byte) eaBase;
                d.index = (byte) eaIndex;
                d.scale = (byte) eaScale;
                d.disp = eaDisp;
                d.eaSeg = (byte) eaSeg;
            }
        }
        if (memOp) {
            long off = eaDisp;
            if (eaBase >= 0) off += r[eaBase];
            if (eaIndex >= 0) off += r[eaIndex] << eaScale;
            eaOff = adSize == 2 ? off & 0xFFFF : off;
        }
    }

    /** Reads ModRM, SIB and displacement into the decode state (the operand's parts, not its value). */
    private void parseModrm() {
        modrm = fetch8();
        mod = modrm >> 6;
        reg = ((modrm >> 3) & 7) | rexR;
        if (mod == 3) {
            rm = (modrm & 7) | rexB;
            memOp = false;
            return;
        }
        memOp = true;
        ripRel = false;
        int base = modrm & 7;
        int defSeg = DS;
        eaBase = -1;
        eaIndex = -1;
        eaScale = 0;
        long disp = 0;
        if (adSize == 2) {
            switch (base) {
                case 0 -> { eaBase = RBX; eaIndex = RSI; }
                case 1 -> { eaBase = RBX; eaIndex = RDI; }
                case 2 -> { eaBase = RBP; eaIndex = RSI; }
                case 3 -> { eaBase = RBP; eaIndex = RDI; }
                case 4 -> eaBase = RSI;
                case 5 -> eaBase = RDI;
                case 6 -> eaBase = mod == 0 ? -1 : RBP;
                default -> eaBase = RBX;
            }
            if (base == 2 || base == 3 || (base == 6 && mod != 0)) defSeg = SS;
            if (mod == 0 && base == 6) disp = fetch16();
            else if (mod == 1) disp = (byte) fetch8();
            else if (mod == 2) disp = (short) fetch16();
        } else {
            if (base == 4) {
                int sib = fetch8();
                int idx = ((sib >> 3) & 7) | rexX;
                int b = (sib & 7);
                if (idx != 4) {
                    eaIndex = idx;
                    eaScale = sib >> 6;
                }
                if (b == 5 && mod == 0) {
                    disp = fetch32();
                } else {
                    eaBase = b | rexB;
                    if (b == 4 || b == 5) defSeg = SS;
                }
            } else if (base == 5 && mod == 0) {
                disp = fetch32();
                if (mode64) ripRel = true;
            } else {
                eaBase = base | rexB;
                if (base == 5) defSeg = SS;
            }
            if (mod == 1) disp += (byte) fetch8();
            else if (mod == 2) disp += fetch32();
        }
        eaDisp = disp;
        eaSeg = seg >= 0 ? seg : defSeg;
    }

    /** Linear address of the ModRM memory operand. RIP-relative uses the end of the instruction, so all
     *  immediates must have been fetched before this is called. */
    long ea(int size, boolean write) {
        long off = ripRel ? ip + eaOff : eaOff;
        return linear(eaSeg, off & adMask(), size, write);
    }

    /** The ModRM memory operand's offset (no segment), for LEA and INVLPG. */
    long eaOffset() { return (ripRel ? ip + eaOff : eaOff) & adMask(); }

    long readE(int size) { return memOp ? mmu.read(ea(size, false), size) : getReg(rm, size); }

    void writeE(int size, long v) {
        if (memOp) mmu.write(ea(size, true), size, v);
        else setReg(rm, size, v);
    }

    /**
     * Read-modify-write of the ModRM operand through {@link Alu#compute}. With LOCK on a memory operand the
     * update is a CAS loop, atomic against other vCPUs. Returns the old value.
     */
    long rmw(int kind, int op, int size, long src, boolean writeBack) {
        if (lock && (!memOp || !writeBack)) throw ud();
        if (!memOp) {
            long d = getReg(rm, size);
            long v = Alu.compute(flags, kind, op, size, d, src);
            if (writeBack) setReg(rm, size, v);
            return d;
        }
        long lin = ea(size, writeBack);
        if (lock && writeBack) {
            while (true) {
                long d = mmu.read(lin, size);
                long v = Alu.compute(flags, kind, op, size, d, src);
                if (mmu.compareAndSwap(lin, size, d, v)) return d;
            }
        }
        long d = mmu.read(lin, size);
        long v = Alu.compute(flags, kind, op, size, d, src);
        if (writeBack) mmu.write(lin, size, v);
        return d;
    }

    // ============================================================ the fetch pointer

    /** Moves the fetch pointer (a jump, or a string instruction repeating), remembering where the
     *  instruction's bytes ended for the block builder. */
    void moveIp(long target) {
        if (!moved) {
            insnEnd = ip;
            moved = true;
        }
        ip = target;
    }

    /**
     * A task switch committed: the instruction now counts as done, and a fault from here on restarts at
     * the new task's first instruction ({@code rip}), not at the instruction that switched.
     */
    void restartAt(long rip) {
        startIp = rip;
        moveIp(rip);
    }

    void jumpTo(long target) { moveIp(checkCodeLimit(target & (mode64 ? -1L : opSize == 2 ? 0xFFFFL : 0xFFFF_FFFFL))); }

    /** A near transfer's target must lie within CS's limit outside 64-bit mode: else #GP(0) at the branch. */
    long checkCodeLimit(long target) {
        if (!mode64 && target > s.segLimit[CS]) throw GuestFault.gp(0);
        return target;
    }

    void relJump(long disp) {
        long t = ip + disp;
        if (!mode64 && opSize == 2) t &= 0xFFFF;
        if (mode64 && ((t << 16) >> 16) != t) throw GuestFault.gp(0);
        moveIp(checkCodeLimit(t & ipMaskFor()));
    }

    private long ipMaskFor() { return mode64 ? -1L : opSize == 2 ? 0xFFFFL : 0xFFFF_FFFFL; }

    /** 64-bit mode defaults near branches and stack ops to 8 bytes (66 gives 2). */
    int stackOpSize() { return mode64 ? (has66 ? 2 : 8) : opSize; }

    // ============================================================ faults

    void requireCpl0() { if (s.cpl != 0) throw GuestFault.gp(0); }

    /** Opcodes that do not exist in 64-bit mode. */
    void noLong() { if (mode64) throw undefined(0); }

    GuestFault ud() { return GuestFault.ud(); }

    /** #UD for an opcode not implemented here, logged once per opcode. */
    GuestFault undefined(int opcode) {
        String key = Integer.toHexString(opcode);
        if (LOGGED.add(key)) {
            long at = startIp;
            LOG.warning(() -> String.format("emu: unimplemented opcode %s at rip=%x (raising #UD)", key, at));
        }
        return GuestFault.ud();
    }
}
