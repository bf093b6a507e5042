package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.GuestClock;
import dev.flint.engine.emu.fpu.FpuHost;
import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.engine.emu.mmu.DeviceAccess;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.machine.bus.Bus;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The interpreter: executes x86 instructions in real, protected, compatibility and 64-bit mode. Each
 * instruction is decoded once, the first time it runs, into a {@link DecodedInsn}; runs of them form
 * {@link DecodedBlock}s, which later executions replay without fetching or decoding again as long as
 * guest memory still holds the same code bytes (every write to a page holding decoded code, a store,
 * another vCPU's or a device's, changes that page's version in {@link dev.flint.engine.emu.mmu.CodePages},
 * which a block compares on entry). {@link #runBlock} is the seam where a compiler of hot blocks to JVM
 * bytecode plugs in.
 *
 * <p>An instruction either completes (registers, memory and RIP updated) or throws a {@link GuestFault}
 * before changing anything architecturally visible except for string instructions, whose progress
 * is recorded per iteration exactly as hardware does; RIP then still points at the instruction.
 */
public final class Cpu implements FpuHost {
    private static final Logger LOG = Logger.getLogger(Cpu.class.getName());
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

    /** Why {@link #execute} returned. */
    public static final int EXIT_BUDGET = 0, EXIT_HALT = 1, EXIT_INTERRUPT_CHECK = 2, EXIT_FAULT = 3;

    public final CpuState s;
    public final Flags flags;
    private final long[] r;
    private final Mmu mmu;
    private final MemorySegment ram;
    private final dev.flint.engine.emu.mmu.CodePages codePages;
    private final Bus ports;
    private final CpuInterruptPort apic;
    private final FpuUnit fpu;
    private final int apicId;
    private final int cpuCount;
    private final Descriptors desc;
    private final Interrupts irq;
    private final Stack stack;
    private final FpuInstruction fpuInsn = new FpuInstruction();
    private final int[] cpuidOut = new int[4];
    private final Divide128 divide128 = new Divide128();

    // ------------------------------------------------------------ per-instruction decode state
    long ip;           // fetch pointer: offset in CS of the next byte
    private long startIp;
    private int opSize, adSize, seg;
    private boolean rex;
    private int rexW, rexR, rexX, rexB;
    private int repPrefix, lastPrefix;
    private boolean lock, has66;
    private int modrm, mod, reg, rm;
    private boolean memOp, ripRel;
    private long eaOff;
    private int eaSeg;
    /** The ModRM memory operand as decoded: offset = disp + r[base] + (r[index] << scale); -1 = none. */
    private int eaBase, eaIndex, eaScale;
    private long eaDisp;

    // ------------------------------------------------------------ decoded blocks
    /** Instructions per block at most; blocks also end at branches, faults and page ends. */
    private static final int MAX_BLOCK = 64;
    private final BlockCache blocks;
    private final FastPath fast;
    /** {@link CpuOptions}, copied once into final fields: nothing is looked up again per instruction. */
    private final boolean blocksEnabled;
    private final long compileThreshold;
    private final DecodedInsn[] buildScratch = new DecodedInsn[MAX_BLOCK];
    private final byte[] codeScratch = new byte[MAX_BLOCK * 16];
    /** The instruction being replayed (its ModRM is not decoded again), or null. */
    private DecodedInsn replaying;
    /** The instruction being recorded while a block is built, or null. */
    private DecodedInsn recording;
    /** Where the current instruction's bytes ended, once a jump moved the fetch pointer ({@link #moved}). */
    private long insnEnd;
    private boolean moved;
    /** The block that ran last, whose link the next block found is stored in (null after a decode). */
    private DecodedBlock previous;
    /** Bumped by every mode change: a block stops when it sees one. */
    private int modeEpoch;

    // ------------------------------------------------------------ mode caches
    private boolean mode64;
    private int defOpSize, defAdSize;
    private long ipMask;

    // ------------------------------------------------------------ code fetch cache
    private long fetchPage = -1, fetchHost;
    private int fetchGen;

    /** Set by STI/MOV SS/POP SS: no interrupt before the next instruction completes. */
    boolean interruptShadow;
    boolean halted;
    /** Set while an NMI handler runs: further NMIs wait for its IRET. */
    boolean nmiBlocked;
    private final TimeStampCounter tsc;
    /** Counters, written by this CPU's thread once per block or stepped instruction. */
    private final CpuStatistics stats = new CpuStatistics();
    /** Test rigs only: stop at a guest fault instead of delivering it ({@link #lastFault} says which). */
    private final boolean stopOnFault;
    private GuestFault lastFault;

    /** A CPU with the engine's default options ({@link CpuOptions#defaults}). */
    public Cpu(CpuState state, Mmu mmu, Bus ports, CpuInterruptPort apic, GuestClock clock, FpuUnit fpu,
               int apicId, int cpuCount) {
        this(state, mmu, ports, apic, clock, fpu, apicId, cpuCount, CpuOptions.defaults());
    }

    public Cpu(CpuState state, Mmu mmu, Bus ports, CpuInterruptPort apic, GuestClock clock, FpuUnit fpu,
               int apicId, int cpuCount, CpuOptions options) {
        this.blocksEnabled = options.blockCache();
        this.compileThreshold = options.compileThreshold();
        this.stopOnFault = options.stopOnFault();
        this.s = state;
        this.flags = state.flags;
        this.r = state.gpr;
        this.mmu = mmu;
        this.ram = mmu.ram();
        this.codePages = mmu.physical().codePages();
        this.ports = ports;
        this.apic = apic;
        this.tsc = new TimeStampCounter(clock);
        this.fpu = fpu;
        this.apicId = apicId;
        this.cpuCount = cpuCount;
        this.blocks = new BlockCache(BlockCache.setsFor(cpuCount)); // a share of the machine's block budget
        this.desc = new Descriptors(this, mmu);
        this.stack = new Stack(state, mmu);
        this.irq = new Interrupts(this, mmu, desc, stack, apic, tsc);
        this.fast = new FastPath(this, state, mmu, stack);
        modeChanged();
    }

    public Mmu mmu() { return mmu; }

    /** Loads the boot state (vCPU 0 at start). */
    public void boot(dev.flint.arch.x86.CpuBootState state) {
        s.load(state);
        afterStateLoad();
    }

    /** INIT: back to the reset state, then wait for a STARTUP IPI. */
    public void init() {
        s.resetForInit();
        fpu.reset();
        afterStateLoad();
    }

    /** STARTUP IPI: real mode at {@code vectorPage} * 4 KiB (CS = vector << 8, IP = 0). */
    public void startup(int vectorPage) {
        int sel = (vectorPage & 0xFF) << 8;
        s.segSel[CS] = sel;
        s.segBase[CS] = (long) sel << 4;
        s.rip = 0;
        halted = false;
        afterStateLoad();
    }

    /**
     * Snapshot of a vCPU stopped at an instruction boundary: the register file, the x87/SSE state, the
     * interrupt shadow, HLT, NMI blocking and the TSC offset. Decoded blocks and TLBs are caches, rebuilt.
     */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        s.save(out);
        out.putBoolean(interruptShadow).putBoolean(halted).putBoolean(nmiBlocked).putLong(tsc.adjust());
        fpu.save(out);
    }

    public void restore(dev.flint.machine.state.StateReader.Section in) {
        s.restore(in);
        boolean shadow = in.getBoolean();
        halted = in.getBoolean();
        nmiBlocked = in.getBoolean();
        tsc.setAdjust(in.getLong());
        fpu.restore(in);
        afterStateLoad();
        interruptShadow = shadow;
    }

    private void afterStateLoad() {
        previous = null;
        mmu.flushAll();
        interruptShadow = false;
        modeChanged();
    }

    /** What this CPU has run so far. */
    public CpuStatistics statistics() { return stats; }

    public GuestFault lastFault() { return lastFault; }
    public boolean halted() { return halted; }

    /** Recomputes cached mode facts after CS, CR0, EFER or CPL change. */
    public void modeChanged() {
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

    // ============================================================ run loop

    /**
     * Runs about {@code budget} instructions (a compiled block may run up to 63 past it). Returns early on HLT, or when interrupts may have become
     * deliverable (the caller then checks the local APIC). Guest faults are delivered internally; a
     * triple fault escapes as {@link TripleFault}.
     */
    public int execute(long budget) {
        long n = 0;
        while (n < budget) {
            if (halted) return EXIT_HALT;
            if (!blocksEnabled || interruptShadow || (flags.system & Flags.TF) != 0) {
                int exit = stepOne();
                n++;
                if (exit >= 0) return exit;
                continue;
            }
            long done = runBlock(budget - n);
            if (done < 0) return EXIT_FAULT;
            n += done;
        }
        return EXIT_BUDGET;
    }

    /**
     * Runs one instruction the plain way, with the single-step trap and the interrupt shadow. Returns an
     * exit code for {@link #execute} to return, or -1 to go on.
     */
    private int stepOne() {
        boolean shadow = interruptShadow;
        interruptShadow = false;
        // TF as it was before the instruction decides the single-step trap (so POPF setting TF
        // traps only after the following instruction, as on hardware).
        boolean singleStep = (flags.system & Flags.TF) != 0;
        int csBefore = s.segSel[CS];
        try {
            step();
            // Not after INT n, SYSCALL or far transfers: those enter code that clears or sets TF itself.
            if (singleStep && s.segSel[CS] == csBefore) {
                s.dr[6] |= 0x4000; // DR6.BS
                throw GuestFault.of(GuestFault.DB, 0);
            }
        } catch (GuestFault f) {
            boolean trap = singleStep && f.vector == GuestFault.DB && s.rip != startIp;
            if (!trap) s.rip = startIp; // faults restart the instruction; the step trap follows it
            if (stopOnFault) {
                lastFault = f;
                return EXIT_FAULT;
            }
            irq.deliverException(f);
        }
        stats.instructions++;
        return shadow && !interruptShadow ? EXIT_INTERRUPT_CHECK : -1;
    }

    /**
     * Runs the decoded block at RIP, decoding it first (while running it) if there is none or its code
     * changed. Returns the instructions run, or -1 when a fault stops a test rig.
     */
    private long runBlock(long max) {
        long rip = s.rip;
        int count = 0;
        mmu.clearCodeStored();
        startIp = rip; // a fault on the code fetch itself restarts here
        DecodedBlock prev = previous;
        previous = null;
        boolean user = mmu.user();
        try {
            // In 64-bit mode the linear address is RIP, so a block's link to the next one holds while the
            // TLB generation and the CPL it was found under do; a link to code on a global page (the
            // kernel's) holds while the global generation does, so it survives address-space switches.
            boolean linkable = mode64;
            long cpl = user ? 1 : 0;
            long linkKey = (long) mmu.generation() << 2 | cpl, globalKey = (long) mmu.globalGeneration() << 2 | 2 | cpl;
            DecodedBlock block = prev == null || !linkable ? null : prev.linked(rip, linkKey, globalKey);
            if (block != null && usable(block)) {
                stats.linkedEntries++;
            } else {
                block = null;
                long lin = mode64 ? rip : (s.segBase[CS] + rip) & 0xFFFF_FFFFL;
                long pageHost = codePageHost(lin);
                if (pageHost < 0) { // code outside RAM: decode as it comes
                    count = 1;
                    step();
                } else {
                    int key = modeKey();
                    block = blocks.get(lin, rip, key, pageHost);
                    if (block != null && usable(block)) {
                        stats.lookups++;
                        if (prev != null && linkable) prev.link(rip, mmu.codePageGlobal(lin) ? globalKey : linkKey, block);
                    } else {
                        block = null;
                        count = buildBlock(lin, rip, key, pageHost, max);
                    }
                }
            }
            if (block != null) {
                if (++block.entries == compileThreshold && BlockCompiler.compilable(block.insns)) compile(block);
                CompiledBlock compiled = block.compiled;
                // A compiled block runs whole even past the budget (by at most MAX_BLOCK - 1): stopping
                // it there would replay it and leave a partial block to decode at every slice end.
                if (compiled != null) {
                    count = compiled.run(fast, block.compiledInsns, (int) Math.min(max, Integer.MAX_VALUE));
                    stats.compiledInstructions += count;
                } else {
                    count = replayBlock(block.insns, max);
                    stats.replayedInstructions += count;
                }
                previous = block;
            }
        } catch (GuestFault f) {
            // The counted instruction faulted: it restarts after the handler, as on hardware.
            s.rip = startIp;
            if (stopOnFault) {
                stats.instructions += count;
                lastFault = f;
                return -1;
            }
            irq.deliverException(f);
        }
        stats.instructions += count;
        if (user) stats.userInstructions += count;
        return Math.max(count, 1);
    }

    /**
     * Compiles a hot block, in 64-bit mode as a region with the blocks its direct branches lead to within
     * its code page ({@link #regionOf}); fewer members if the method would be too large for the JIT.
     */
    private void compile(DecodedBlock block) {
        java.util.List<DecodedBlock> members = mode64 ? regionOf(block) : java.util.List.of(block);
        while (true) {
            java.util.List<DecodedInsn[]> insns = members.stream().map(b -> b.insns).toList();
            CompiledBlock c = BlockCompiler.compileRegion(insns);
            if (c != null) {
                block.compiledInsns = BlockCompiler.concatenated(insns);
                block.region = members.subList(1, members.size()).toArray(DecodedBlock[]::new);
                block.compiled = c;
                stats.blocksCompiled++;
                return;
            }
            if (members.size() == 1) return;
            members = members.subList(0, Math.max(1, members.size() * 2 / 3));
        }
    }

    /** The most blocks, and instructions, in one compiled region (a larger region only comes out too big for the JIT). */
    static final int REGION_BLOCKS = 8, REGION_INSTRUCTIONS = 192;

    /**
     * {@code head} and, breadth first, the cached blocks that direct branches and fall-throughs of the
     * region lead to, as long as they lie wholly in {@code head}'s code page or in the page its last
     * instruction crosses into (a loop split at a page end, the kernel's hottest boot loop among them,
     * then runs as one JVM loop). 64-bit mode only: the linear address is RIP, so the mappings checked for
     * {@code head} on entry hold for the members too. Their code must be current now, so that
     * {@code head}'s page versions cover it from now on.
     */
    private java.util.List<DecodedBlock> regionOf(DecodedBlock head) {
        java.util.List<DecodedBlock> region = new java.util.ArrayList<>();
        region.add(head);
        int total = head.insns.length;
        long page = head.linear & ~0xFFFL;
        for (int q = 0; q < region.size() && region.size() < REGION_BLOCKS; q++) {
            for (long target : BlockCompiler.directTargets(region.get(q).insns)) {
                long targetPage = target & ~0xFFFL;
                boolean samePage = targetPage == page, nextPage = head.page2Host >= 0 && targetPage == head.page2Lin;
                if (!(samePage || nextPage) || region.size() >= REGION_BLOCKS) continue;
                boolean known = false;
                for (DecodedBlock b : region) known |= b.rip == target;
                if (known) continue;
                DecodedBlock b = blocks.get(target, target, head.modeKey, samePage ? head.pageHost : head.page2Host);
                if (b == null || b.evicted || b.insns == null || b.page2Host >= 0
                        || total + b.insns.length > REGION_INSTRUCTIONS || !current(b)
                        || b.version != (samePage ? head.version : head.version2)) {
                    continue;
                }
                region.add(b);
                total += b.insns.length;
            }
        }
        return region;
    }

    /** True if a cached block may run: its crossing page still maps where it did, it lies within CS's limit (outside 64-bit mode) and its code is unchanged. */
    private boolean usable(DecodedBlock b) {
        // (page2Host, not page2Lin, says whether it crosses: linear addresses of the upper half are negative)
        return (b.page2Host < 0 || mmu.codePageIfCached(b.page2Lin) == b.page2Host) && (mode64 || withinCodeLimit(b)) && current(b);
    }

    /**
     * True if the block's code bytes are still in memory: its pages' versions are the ones it noted, or
     * else its bytes compare equal (then it notes the versions anew, marking the pages as code first so
     * that a later write changes them).
     */
    private boolean current(DecodedBlock b) {
        if (codePages.version(b.pageHost) == b.version
                && (b.page2Host < 0 || codePages.version(b.page2Host) == b.version2)) {
            return true;
        }
        int v = codePages.markCode(b.pageHost), v2 = b.page2Host < 0 ? 0 : codePages.markCode(b.page2Host);
        if (!b.matches(ram)) return false;
        b.version = v;
        b.version2 = v2;
        return true;
    }

    /** A block decoded under a larger CS limit must not run past a smaller one: then it is decoded anew. */
    private boolean withinCodeLimit(DecodedBlock b) {
        long limit = s.segLimit[CS];
        return limit == 0xFFFF_FFFFL || b.insns[b.insns.length - 1].endIp - 1 <= limit;
    }

    /** Replays decoded instructions while execution falls through from one to the next. */
    private int replayBlock(DecodedInsn[] insns, long max) {
        int gen = mmu.generation(), epoch = modeEpoch;
        int count = 0;
        while (true) {
            DecodedInsn d = insns[count++];
            if (d.fast != FastPath.NONE) {
                // The fast forms change nothing that ends a block except RIP.
                startIp = d.rip;
                fast.run(d);
                if (count == insns.length || count >= max || s.rip != d.endIp || mmu.codeStored()) return count;
                continue;
            }
            replay(d);
            if (count == insns.length || count >= max || s.rip != d.endIp || blockInterrupted(gen, epoch)) {
                return count;
            }
        }
    }

    /**
     * Runs instructions the plain way while recording how each decoded, and keeps them as a block. The
     * block ends where execution stops falling through, at the end of the page, at code that cannot be
     * recorded, or when the CPU's mode or address space changed. A fault keeps what was recorded before it.
     */
    private int buildBlock(long lin, long rip, int key, long pageHost, long max) {
        stats.blocksBuilt++;
        int gen = mmu.generation(), epoch = modeEpoch;
        boolean wide = mode64; // the block's mode: an instruction that leaves it is still decoded in it
        long blockIpMask = ipMask;
        long page = lin & ~0xFFFL;
        int count = 0, kept = 0, length = 0;
        long page2Host = -1;
        // Marked before any byte is decoded: a store into this code while it runs changes the version.
        int version = codePages.markCode(pageHost), version2 = 0;
        try {
            while (count < max && kept < MAX_BLOCK) {
                DecodedInsn d = new DecodedInsn();
                recording = d;
                count++; // counted before it runs: a fault in it is still an instruction executed
                step();
                recording = null;
                long startLin = wide ? startIp : (s.segBase[CS] + startIp) & 0xFFFF_FFFFL;
                long end = moved ? insnEnd : ip;
                int len = (int) (end - startIp);
                // In 64-bit mode an instruction that changed the translations or the mode (MOV CR3, SYSRET,
                // IRET, SYSCALL, INT) is kept as the block's last: it was decoded before it acted, from the
                // window filled at its start (16 bytes, cut at the page end; its fill length is gone once
                // the mode changed), and a replay ends the block after it as this run does.
                boolean changed = mmu.generation() != gen || modeEpoch != epoch;
                boolean sameState = len > 0 && len <= 16 && (startLin & ~0xFFFL) == page && (!changed || wide);
                boolean recorded = sameState && windowIp == startIp && fetchHost == pageHost
                        && (changed ? len <= 4096 - (startLin & 0xFFF) : len <= windowLength);
                // An instruction that runs on into the next page (in RAM) ends the block; its bytes come
                // from both pages, and the block is used only while the second one still maps there too.
                boolean crossing = !recorded && sameState && !changed && ((startLin + len - 1) & ~0xFFFL) == page + 4096
                        && (page2Host = mmu.codePageIfCached(page + 4096)) >= 0;
                if (!recorded && !crossing) break;
                if (crossing) {
                    version2 = codePages.markCode(page2Host);
                    int inFirst = (int) (4096 - (startLin & 0xFFF));
                    window = 0;
                    window2 = 0;
                    for (int i = 0; i < len; i++) {
                        long b = ram.get(ValueLayout.JAVA_BYTE, i < inFirst ? pageHost + (startLin & 0xFFF) + i
                                : page2Host + i - inFirst) & 0xFFL;
                        if (i < 8) window |= b << (8 * i);
                        else window2 |= b << (8 * (i - 8));
                    }
                }
                d.rip = startIp;
                d.endIp = end & blockIpMask;
                d.length = len;
                d.window = window;
                d.window2 = window2;
                for (int i = 0; i < len; i++) {
                    codeScratch[length + i] = (byte) (i < 8 ? window >>> (8 * i) : window2 >>> (8 * (i - 8)));
                }
                FastPath.classify(d, wide, codeScratch, length);
                length += len;
                buildScratch[kept++] = d;
                if (crossing || s.rip != d.endIp || blockInterrupted(gen, epoch)) break;
            }
        } finally {
            recording = null;
            if (kept > 0) {
                blocks.put(new DecodedBlock(lin, rip, key, pageHost,
                        java.util.Arrays.copyOf(buildScratch, kept), codeScratch, length, page2Host, version, version2));
            }
        }
        return count;
    }

    /** True when something the last instruction did means the block must not go on. */
    private boolean blockInterrupted(int gen, int epoch) {
        return halted || interruptShadow || (flags.system & Flags.TF) != 0 || mmu.generation() != gen
                || modeEpoch != epoch || mmu.codeStored();
    }

    /**
     * The profiler's view of the decoded blocks cached now, hottest first: one line each with the
     * linear address, entries, instructions, and whether it runs compiled or else why not (the first
     * instruction without a fast form, as opcode bytes).
     */
    /** Blocks compiled so far in this process, and the milliseconds their bytecode took to generate. */
    /** Blocks that failed to compile in this process (a compiler bug; they keep being replayed). */
    public static long blockCompileFailures() { return BlockCompiler.failures(); }

    public static String compileSummary() {
        return BlockCompiler.compiledBlocks() + " blocks compiled in " + BlockCompiler.compileNanos() / 1_000_000 + " ms, "
                + BlockCompiler.regionMembers() + " more compiled into their regions";
    }

    public java.util.List<String> hotBlocks(int limit) {
        return blocks.blocks().stream()
                .sorted(java.util.Comparator.comparingLong((DecodedBlock b) -> -b.entries * b.insns.length))
                .limit(limit)
                .map(b -> {
                    String how = b.compiled != null ? "compiled" : "replayed";
                    for (DecodedInsn d : b.insns) {
                        if (d.fast == FastPath.NONE) {
                            how += String.format(" (no fast form: %x: %s%02x)", d.rip, d.twoByte ? "0f " : "", d.opcode);
                            break;
                        }
                    }
                    return String.format("%016x %d entries x %d insns, %s", b.linear, b.entries, b.insns.length, how);
                })
                .toList();
    }

    /** What decoding depends on besides the code bytes: long mode and the default operand/address sizes. */
    private int modeKey() { return (mode64 ? 1 : 0) | defOpSize << 1 | defAdSize << 5; }

    /** Host offset of the RAM page holding code at {@code lin} (-1 if not RAM), cached per page. */
    private long codePageHost(long lin) {
        long page = lin & ~0xFFFL;
        if (page != fetchPage || fetchGen != mmu.generation()) {
            fetchHost = mmu.codePage(lin);
            fetchPage = page;
            fetchGen = mmu.generation();
        }
        return fetchHost;
    }

    /**
     * Compiled blocks: runs an instruction that has no fast form through its handler, as a replay does.
     * Returns whether the block may go on (execution fell through and nothing that ends a block happened).
     */
    boolean replayInBlock(DecodedInsn d) {
        int gen = mmu.generation(), epoch = modeEpoch;
        s.rip = d.rip; // as between replayed instructions (compiled code sets RIP only when it leaves)
        replay(d);
        return s.rip == d.endIp && !blockInterrupted(gen, epoch);
    }

    /** Executes a decoded instruction: its prefixes and code bytes restored, straight to its handler. */
    private void replay(DecodedInsn d) {
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
        if (d.twoByte) twoByte(d.opcode);
        else oneByte(d.opcode);
        s.rip = ip & ipMask;
    }

    /**
     * Delivers a pending NMI or external interrupt if the CPU can take it now. Call between
     * {@link #execute} slices. Returns true if something was delivered (a halted CPU wakes up).
     */
    public boolean checkInterrupts() {
        if (apic == null || interruptShadow) return false;
        if (!nmiBlocked && apic.takeNmi()) {
            halted = false;
            nmiBlocked = true; // until the handler's IRET, as on hardware
            irq.deliverExternal(GuestFault.NMI, true);
            return true;
        }
        if (!flags.interruptsEnabled()) return false;
        if (apic.pendingVector() < 0) return false;
        int vector = apic.acknowledge();
        if (vector < 0) return false;
        halted = false;
        irq.deliverExternal(vector, false);
        return true;
    }

    // ============================================================ fetch

    /**
     * Up to 16 code bytes starting at offset {@link #windowIp} of CS, read with two memory accesses at the
     * start of each instruction: nearly every instruction then decodes without touching memory again.
     * Refilled per instruction, so code written by the previous instruction is always seen.
     */
    private long window, window2;
    private long windowIp;
    private int windowLength;

    private int fetch8() {
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

    private int fetch16() { return fetch8() | fetch8() << 8; }

    private int fetch32() { return fetch16() | fetch16() << 16; }

    private long fetch64() { return (fetch32() & 0xFFFF_FFFFL) | ((long) fetch32() << 32); }

    /** Immediate of operand size {@code size} (8-byte operands take a sign-extended imm32). */
    private long fetchImm(int size) {
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
    private long linearUnchecked(int sg, long off) {
        if (mode64) return linear(sg, off, 1, false);
        return (s.segBase[sg] + off) & 0xFFFF_FFFFL;
    }

    /** True if accesses through {@code sg} need no per-access check (64-bit mode, or a flat 4 GiB data segment). */
    private boolean flatSegment(int sg) { return mode64 || SegmentChecks.flat(s, sg); }

    private long adMask() { return adSize == 8 ? -1L : adSize == 4 ? 0xFFFF_FFFFL : 0xFFFFL; }

    private void decodeModrm() {
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
                d.modrm = modrm;
                d.mod = mod;
                d.reg = reg;
                d.rm = rm;
                d.memOp = memOp;
                d.ripRel = ripRel;
                d.base = eaBase;
                d.index = eaIndex;
                d.scale = eaScale;
                d.disp = eaDisp;
                d.eaSeg = eaSeg;
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

    /** The ModRM memory operand's offset (no segment), for LEA. */
    private long eaOffset() { return (ripRel ? ip + eaOff : eaOff) & adMask(); }

    long readE(int size) { return memOp ? mmu.read(ea(size, false), size) : getReg(rm, size); }

    void writeE(int size, long v) {
        if (memOp) mmu.write(ea(size, true), size, v);
        else setReg(rm, size, v);
    }

    // ============================================================ stack
    // Pushes, pops and the stack's width live in Stack, which FastPath and Interrupts share.

    // ============================================================ arithmetic


    /**
     * Read-modify-write of the ModRM operand. With LOCK on a memory operand the update is a CAS loop,
     * atomic against other vCPUs. Returns the old value.
     */
    private long rmw(int kind, int op, int size, long src, boolean writeBack) {
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

    // ============================================================ decode + execute

    private void step() {
        startIp = s.rip;
        ip = s.rip;
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
                        twoByte(op2);
                    } else {
                        if (lock && !lockable1(op)) throw ud();
                        if (recording != null) recordPrefixes(op, false);
                        oneByte(op);
                    }
                    s.rip = ip & ipMask;
                    return;
                }
            }
        }
    }

    private void recordPrefixes(int opcode, boolean twoByte) {
        DecodedInsn d = recording;
        d.opSize = opSize;
        d.adSize = adSize;
        d.seg = seg;
        d.rex = rex;
        d.rexW = rexW;
        d.rexR = rexR;
        d.rexX = rexX;
        d.rexB = rexB;
        d.repPrefix = repPrefix;
        d.lastPrefix = lastPrefix;
        d.lock = lock;
        d.has66 = has66;
        d.opcode = opcode;
        d.twoByte = twoByte;
        d.afterOpcode = ip;
    }

    /** Moves the fetch pointer (a jump, or a string instruction repeating), remembering where the
     *  instruction's bytes ended for the block builder. */
    private void moveIp(long target) {
        if (!moved) {
            insnEnd = ip;
            moved = true;
        }
        ip = target;
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

    private void jumpTo(long target) { moveIp(checkCodeLimit(target & (mode64 ? -1L : opSize == 2 ? 0xFFFFL : 0xFFFF_FFFFL))); }

    /** A near transfer's target must lie within CS's limit outside 64-bit mode: else #GP(0) at the branch. */
    private long checkCodeLimit(long target) {
        if (!mode64 && target > s.segLimit[CS]) throw GuestFault.gp(0);
        return target;
    }

    private void relJump(long disp) {
        long t = ip + disp;
        if (!mode64 && opSize == 2) t &= 0xFFFF;
        if (mode64 && ((t << 16) >> 16) != t) throw GuestFault.gp(0);
        moveIp(checkCodeLimit(t & ipMaskFor()));
    }

    private long ipMaskFor() { return mode64 ? -1L : opSize == 2 ? 0xFFFFL : 0xFFFF_FFFFL; }

    /** 64-bit mode defaults near branches and stack ops to 8 bytes (66 gives 2). */
    private int stackOpSize() { return mode64 ? (has66 ? 2 : 8) : opSize; }

    private void requireCpl0() { if (s.cpl != 0) throw GuestFault.gp(0); }

    private void oneByte(int op) {
        if (op < 0x40 && (op & 7) < 6) {
            int alu = op >> 3;
            switch (op & 7) {
                case 0 -> { decodeModrm(); rmw(Alu.K_ALU, alu, 1, getReg(reg, 1), alu != 7); }
                case 1 -> { decodeModrm(); rmw(Alu.K_ALU, alu, opSize, getReg(reg, opSize), alu != 7); }
                case 2 -> { decodeModrm(); long v = Alu.alu(flags, alu, 1, getReg(reg, 1), readE(1)); if (alu != 7) setReg(reg, 1, v); }
                case 3 -> {
                    decodeModrm();
                    long v = Alu.alu(flags, alu, opSize, getReg(reg, opSize), readE(opSize));
                    if (alu != 7) setReg(reg, opSize, v);
                }
                case 4 -> { long v = Alu.alu(flags, alu, 1, getReg(0, 1), fetch8()); if (alu != 7) setReg(0, 1, v); }
                default -> {
                    long imm = Alu.sext(fetchImm(opSize), Math.min(opSize, 4)) & Alu.mask(opSize);
                    long v = Alu.alu(flags, alu, opSize, getReg(0, opSize), imm);
                    if (alu != 7) setReg(0, opSize, v);
                }
            }
            return;
        }
        switch (op) {
            case 0x06, 0x0E, 0x16, 0x1E -> { noLong(); stack.push(opSize, s.segSel[op >> 3]); }
            case 0x07, 0x17, 0x1F -> {
                noLong();
                int sel = (int) stack.pop(opSize) & 0xFFFF;
                desc.loadSegment(op >> 3, sel);
                if (op == 0x17) interruptShadow = true;
            }
            case 0x27, 0x2F, 0x37, 0x3F -> { noLong(); bcdAdjust(op); }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                int n = op & 7;
                long d = getReg(n, opSize);
                long v = Alu.compute(flags, Alu.K_UNARY, op < 0x48 ? 0 : 1, opSize, d, 0);
                setReg(n, opSize, v);
            }
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                int z = stackOpSize();
                stack.push(z, getReg((op & 7) | rexB, z));
            }
            case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> {
                int z = stackOpSize();
                long v = stack.pop(z);
                setReg((op & 7) | rexB, z, v);
            }
            case 0x60 -> {
                noLong();
                long sp = getReg(RSP, opSize);
                for (int i = 0; i < 8; i++) stack.push(opSize, i == RSP ? sp : getReg(i, opSize));
            }
            case 0x61 -> {
                noLong();
                for (int i = 7; i >= 0; i--) {
                    long v = stack.pop(opSize);
                    if (i != RSP) setReg(i, opSize, v);
                }
            }
            case 0x63 -> {
                if (!mode64) throw undefined(op);
                decodeModrm();
                long v = Alu.sext(readE(4), 4);
                setReg(reg, opSize, v);
            }
            case 0x68 -> { int z = stackOpSize(); stack.push(z, Alu.sext(fetchImm(Math.min(z, 4)), Math.min(z, 4))); }
            case 0x6A -> stack.push(stackOpSize(), (byte) fetch8());
            case 0x69, 0x6B -> {
                decodeModrm();
                long imm = op == 0x6B ? (byte) fetch8() : Alu.sext(fetchImm(Math.min(opSize, 4)), Math.min(opSize, 4));
                setReg(reg, opSize, Alu.imul(flags, opSize, readE(opSize), imm));
            }
            case 0x6C, 0x6D, 0x6E, 0x6F -> strings(op);
            case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F -> {
                long d = (byte) fetch8();
                if (flags.cond(op & 15)) relJump(d);
            }
            case 0x80, 0x82 -> { decodeModrm(); long imm = fetch8(); rmw(Alu.K_ALU, reg & 7, 1, imm, (reg & 7) != 7); }
            case 0x81 -> {
                decodeModrm();
                long imm = Alu.sext(fetchImm(Math.min(opSize, 4)), Math.min(opSize, 4)) & Alu.mask(opSize);
                rmw(Alu.K_ALU, reg & 7, opSize, imm, (reg & 7) != 7);
            }
            case 0x83 -> {
                decodeModrm();
                long imm = ((byte) fetch8()) & Alu.mask(opSize);
                rmw(Alu.K_ALU, reg & 7, opSize, imm, (reg & 7) != 7);
            }
            case 0x84 -> { decodeModrm(); Alu.alu(flags, 4, 1, readE(1), getReg(reg, 1)); }
            case 0x85 -> { decodeModrm(); Alu.alu(flags, 4, opSize, readE(opSize), getReg(reg, opSize)); }
            case 0x86, 0x87 -> {
                int z = op == 0x86 ? 1 : opSize;
                decodeModrm();
                long v = getReg(reg, z);
                if (memOp) {
                    // XCHG with memory is always locked.
                    long lin = ea(z, true);
                    long old;
                    do {
                        old = mmu.read(lin, z);
                    } while (!mmu.compareAndSwap(lin, z, old, v));
                    setReg(reg, z, old);
                } else {
                    long o = getReg(rm, z);
                    setReg(rm, z, v);
                    setReg(reg, z, o);
                }
            }
            case 0x88 -> { decodeModrm(); writeE(1, getReg(reg, 1)); }
            case 0x89 -> { decodeModrm(); writeE(opSize, getReg(reg, opSize)); }
            case 0x8A -> { decodeModrm(); setReg(reg, 1, readE(1)); }
            case 0x8B -> { decodeModrm(); setReg(reg, opSize, readE(opSize)); }
            case 0x8C -> {
                decodeModrm();
                int sr = reg & 7;
                if (sr > GS) throw ud();
                if (memOp) writeE(2, s.segSel[sr]);
                else setReg(rm, opSize, s.segSel[sr]);
            }
            case 0x8D -> {
                decodeModrm();
                if (!memOp) throw ud();
                setReg(reg, opSize, eaOffset());
            }
            case 0x8E -> {
                decodeModrm();
                int sr = reg & 7;
                if (sr == CS || sr > GS) throw ud();
                desc.loadSegment(sr, (int) readE(2));
                if (sr == SS) interruptShadow = true;
            }
            case 0x8F -> {
                decodeModrm();
                int z = stackOpSize();
                // POP to memory computes the address with the already incremented RSP.
                long oldSp = r[RSP];
                long v = stack.pop(z);
                try {
                    writeE(z, v);
                } catch (GuestFault f) {
                    r[RSP] = oldSp;
                    throw f;
                }
            }
            case 0x90 -> {
                if (rexB != 0) xchgAx(8);
                // else NOP, or PAUSE with F3: nothing to wait for in an interpreter
                else if (repPrefix == 0xF3) Thread.onSpinWait();
            }
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> xchgAx(op & 7 | rexB);
            case 0x98 -> {
                switch (opSize) {
                    case 2 -> setReg(RAX, 2, (byte) r[RAX]);
                    case 4 -> setReg(RAX, 4, (short) r[RAX]);
                    default -> r[RAX] = (int) r[RAX];
                }
            }
            case 0x99 -> {
                long a = Alu.sext(getReg(RAX, opSize), opSize);
                setReg(RDX, opSize, a < 0 ? -1L : 0);
            }
            case 0x9A -> {
                noLong();
                long off = fetchImm(opSize);
                int sel = fetch16();
                farCall(sel, off);
            }
            case 0x9B -> fpuDispatch(FpuInstruction.MAP_ONE, op, false, false);
            case 0x9C -> {
                if (isVm86OrIoplFault()) throw GuestFault.gp(0);
                stack.push(stackOpSize(), flags.get() & ~(Flags.VM | Flags.RF));
            }
            case 0x9D -> {
                int z = stackOpSize();
                long v = stack.pop(z);
                irq.writeFlagsFromPop(v, z);
            }
            case 0x9E -> flags.setArith((flags.arith() & Flags.OF)
                    | ((r[RAX] >>> 8) & (Flags.CF | Flags.PF | Flags.AF | Flags.ZF | Flags.SF)));
            case 0x9F -> r[RAX] = (r[RAX] & ~0xFF00L) | (((flags.get() & 0xD7) | 2) << 8);
            case 0xA0, 0xA1, 0xA2, 0xA3 -> {
                long off = adSize == 8 ? fetch64() : adSize == 4 ? fetch32() & 0xFFFF_FFFFL : fetch16();
                int z = (op & 1) == 0 ? 1 : opSize;
                long lin = linear(seg >= 0 ? seg : DS, off, z, op >= 0xA2);
                if (op < 0xA2) setReg(RAX, z, mmu.read(lin, z));
                else mmu.write(lin, z, getReg(RAX, z));
            }
            case 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF -> strings(op);
            case 0xA8 -> Alu.alu(flags, 4, 1, getReg(RAX, 1), fetch8());
            case 0xA9 -> Alu.alu(flags, 4, opSize, getReg(RAX, opSize), Alu.sext(fetchImm(Math.min(opSize, 4)), Math.min(opSize, 4)) & Alu.mask(opSize));
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 -> setReg((op & 7) | rexB, 1, fetch8());
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> {
                long v = opSize == 8 ? fetch64() : fetchImm(opSize);
                setReg((op & 7) | rexB, opSize, v);
            }
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3 -> {
                int z = (op & 1) == 0 ? 1 : opSize;
                decodeModrm();
                int count = op <= 0xC1 ? fetch8() : op <= 0xD1 ? 1 : (int) r[RCX] & 0xFF;
                shiftGroup(reg & 7, z, count);
            }
            case 0xC2 -> { int n = fetch16(); int z = stackOpSize(); long t = stack.pop(z); r[RSP] = addSp(n); jumpTo(t); }
            case 0xC3 -> { int z = stackOpSize(); jumpTo(stack.pop(z)); }
            case 0xC4, 0xC5 -> {
                if (mode64) throw undefined(op); // VEX: no AVX advertised
                decodeModrm();
                if (!memOp) throw ud();
                long lin = ea(opSize + 2, false);
                long off = mmu.read(lin, opSize);
                int sel = (int) mmu.read(lin + opSize, 2);
                desc.loadSegment(op == 0xC4 ? ES : DS, sel);
                setReg(reg, opSize, off);
            }
            case 0xC6 -> { decodeModrm(); if ((reg & 7) != 0) throw ud(); long v = fetch8(); writeE(1, v); }
            case 0xC7 -> {
                decodeModrm();
                if ((reg & 7) != 0) throw ud();
                long v = Alu.sext(fetchImm(Math.min(opSize, 4)), Math.min(opSize, 4));
                writeE(opSize, v);
            }
            case 0xC8 -> enter();
            case 0xC9 -> {
                long m = stack.spMask();
                r[RSP] = (r[RSP] & ~m) | (r[RBP] & m);
                int z = stackOpSize();
                setReg(RBP, z, stack.pop(z));
            }
            case 0xCA -> { int n = fetch16(); irq.farReturn(opSize, n); }
            case 0xCB -> irq.farReturn(opSize, 0);
            case 0xCC -> irq.softwareInterrupt(GuestFault.BP, ip);
            case 0xCD -> { int v = fetch8(); irq.softwareInterrupt(v, ip); }
            case 0xCE -> { noLong(); if (flags.of()) irq.softwareInterrupt(GuestFault.OF, ip); }
            case 0xCF -> {
                irq.iret(opSize);
                nmiBlocked = false;
            }
            case 0xD4 -> { noLong(); int base = fetch8(); if (base == 0) throw GuestFault.of(GuestFault.DE, 0);
                int al = (int) r[RAX] & 0xFF; setReg(RAX, 2, ((al / base) << 8) | (al % base));
                flags.set(Flags.LOGIC, 1, 0, 0, al % base); }
            case 0xD5 -> { noLong(); int base = fetch8(); int v = ((int) (r[RAX] >> 8 & 0xFF) * base + (int) (r[RAX] & 0xFF)) & 0xFF;
                setReg(RAX, 2, v); flags.set(Flags.LOGIC, 1, 0, 0, v); }
            case 0xD7 -> {
                long off = (r[RBX] + (r[RAX] & 0xFF)) & adMask();
                setReg(RAX, 1, mmu.read(linear(seg >= 0 ? seg : DS, off, 1, false), 1));
            }
            case 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF -> fpuDispatch(FpuInstruction.MAP_ONE, op, true, false);
            case 0xE0, 0xE1, 0xE2 -> {
                long d = (byte) fetch8();
                long m = adMask();
                long c = (r[RCX] - 1) & m;
                setAddressReg(RCX, c, m);
                boolean take = c != 0 && (op == 0xE2 || (op == 0xE1) == flags.zf());
                if (take) relJump(d);
            }
            case 0xE3 -> { long d = (byte) fetch8(); if ((r[RCX] & adMask()) == 0) relJump(d); }
            case 0xE4, 0xE5 -> { int port = fetch8(); in(port, op == 0xE4 ? 1 : Math.min(opSize, 4)); }
            case 0xE6, 0xE7 -> { int port = fetch8(); out(port, op == 0xE6 ? 1 : Math.min(opSize, 4)); }
            case 0xEC, 0xED -> in((int) r[RDX] & 0xFFFF, op == 0xEC ? 1 : Math.min(opSize, 4));
            case 0xEE, 0xEF -> out((int) r[RDX] & 0xFFFF, op == 0xEE ? 1 : Math.min(opSize, 4));
            case 0xE8 -> {
                int z = mode64 ? 4 : opSize;
                long d = Alu.sext(fetchImm(z), z);
                stack.push(stackOpSize(), ip);
                relJump(d);
            }
            case 0xE9 -> { int z = mode64 ? 4 : opSize; long d = Alu.sext(fetchImm(z), z); relJump(d); }
            case 0xEA -> {
                noLong();
                long off = fetchImm(opSize);
                int sel = fetch16();
                irq.farJump(sel, off);
            }
            case 0xEB -> { long d = (byte) fetch8(); relJump(d); }
            case 0xF1 -> irq.softwareInterrupt(GuestFault.DB, ip);
            case 0xF4 -> {
                requireCpl0();
                halted = true;
            }
            case 0xF5 -> flags.setArith(flags.arith() ^ Flags.CF);
            case 0xF6, 0xF7 -> group3(op == 0xF6 ? 1 : opSize);
            case 0xF8 -> flags.setArith(flags.arith() & ~Flags.CF);
            case 0xF9 -> flags.setArith(flags.arith() | Flags.CF);
            case 0xFA -> {
                if (flags.iopl() < s.cpl) throw GuestFault.gp(0);
                flags.system &= ~Flags.IF;
            }
            case 0xFB -> {
                if (flags.iopl() < s.cpl) throw GuestFault.gp(0);
                if (!flags.interruptsEnabled()) interruptShadow = true;
                flags.system |= Flags.IF;
            }
            case 0xFC -> flags.system &= ~Flags.DF;
            case 0xFD -> flags.system |= Flags.DF;
            case 0xFE -> {
                decodeModrm();
                if ((reg & 7) > 1) throw ud();
                rmw(Alu.K_UNARY, reg & 7, 1, 0, true);
            }
            case 0xFF -> group5();
            default -> throw undefined(op);
        }
    }

    private long addSp(long n) {
        long m = stack.spMask();
        return (r[RSP] & ~m) | ((r[RSP] + n) & m);
    }

    private void noLong() { if (mode64) throw undefined(0); }


    private boolean isVm86OrIoplFault() { return (flags.system & Flags.VM) != 0 && flags.iopl() < 3; }

    private void xchgAx(int n) {
        long a = getReg(RAX, opSize);
        setReg(RAX, opSize, getReg(n, opSize));
        setReg(n, opSize, a);
    }

    private void enter() {
        int size = fetch16();
        int level = fetch8() & 31;
        int z = stackOpSize();
        stack.push(z, getReg(RBP, z));
        long frame = getReg(RSP, z);
        if (level > 0) {
            long bp = getReg(RBP, z);
            for (int i = 1; i < level; i++) {
                bp = (bp - z) & Alu.mask(z == 8 ? 8 : stack.size());
                stack.push(z, mmu.read(linear(SS, bp & stack.spMask(), z, false), z));
            }
            stack.push(z, frame);
        }
        setReg(RBP, z, frame);
        r[RSP] = addSp(-size);
    }

    private void bcdAdjust(int op) {
        int al = (int) r[RAX] & 0xFF;
        boolean cf = flags.cf(), af = flags.af();
        switch (op) {
            case 0x27, 0x2F -> { // DAA / DAS
                int oldAl = al;
                boolean sub = op == 0x2F;
                boolean newCf = false;
                if ((al & 0xF) > 9 || af) {
                    al = sub ? al - 6 : al + 6;
                    newCf = cf || (sub ? oldAl < 6 : al > 0xFF);
                    af = true;
                } else {
                    af = false;
                }
                if (oldAl > 0x99 || cf) {
                    al = sub ? al - 0x60 : al + 0x60;
                    newCf = true;
                }
                al &= 0xFF;
                setReg(RAX, 1, al);
                long f = (Long.bitCount(al) % 2 == 0 ? Flags.PF : 0) | (al == 0 ? Flags.ZF : 0)
                        | ((al & 0x80) != 0 ? Flags.SF : 0) | (af ? Flags.AF : 0) | (newCf ? Flags.CF : 0);
                flags.setArith(f);
            }
            default -> { // AAA / AAS
                boolean sub = op == 0x3F;
                if ((al & 0xF) > 9 || af) {
                    long ax = r[RAX] & 0xFFFF;
                    ax = sub ? ((ax - 6) & 0xFF) | (((ax >> 8) - 1) & 0xFF) << 8
                            : ((ax + 6) & 0xFF) | (((ax >> 8) + 1) & 0xFF) << 8;
                    setReg(RAX, 2, ax & 0xFF0F);
                    flags.setArith(Flags.AF | Flags.CF);
                } else {
                    setReg(RAX, 1, al & 0xF);
                    flags.setArith(0);
                }
            }
        }
    }

    // ------------------------------------------------------------ groups

    private void group3(int z) {
        decodeModrm();
        int op = reg & 7;
        switch (op) {
            case 0, 1 -> {
                long imm = z == 1 ? fetch8() : Alu.sext(fetchImm(Math.min(z, 4)), Math.min(z, 4)) & Alu.mask(z);
                Alu.alu(flags, 4, z, readE(z), imm);
            }
            case 2, 3 -> rmw(Alu.K_UNARY, op, z, 0, true);
            case 4, 5 -> mulDiv(op, z, readE(z));
            default -> mulDiv(op, z, readE(z));
        }
    }

    private void mulDiv(int op, int z, long src) {
        switch (op) {
            case 4 -> { // MUL
                long a = getReg(RAX, z);
                long lo, hi;
                if (z == 8) { lo = a * src; hi = Math.unsignedMultiplyHigh(a, src); }
                else { long p = a * src; lo = p & Alu.mask(z); hi = (p >>> (z * 8)) & Alu.mask(z); }
                storeWide(z, lo, hi);
                Alu.mulFlags(flags, z, lo, hi != 0);
            }
            case 5 -> { // IMUL
                long a = Alu.sext(getReg(RAX, z), z), b = Alu.sext(src, z);
                long lo, hi;
                if (z == 8) { lo = a * b; hi = Math.multiplyHigh(a, b); }
                else { long p = a * b; lo = p & Alu.mask(z); hi = (p >> (z * 8)) & Alu.mask(z); }
                storeWide(z, lo, hi);
                boolean overflow = z == 8 ? hi != (lo >> 63) : Alu.sext(lo, z) != a * b;
                Alu.mulFlags(flags, z, lo, overflow);
            }
            case 6 -> divide(z, src, false);
            default -> divide(z, src, true);
        }
    }

    private void storeWide(int z, long lo, long hi) {
        if (z == 1) setReg(RAX, 2, (lo & 0xFF) | ((hi & 0xFF) << 8));
        else { setReg(RAX, z, lo); setReg(RDX, z, hi); }
    }


    private void divide(int z, long divisor, boolean signed) {
        divisor &= Alu.mask(z);
        if (divisor == 0) throw GuestFault.of(GuestFault.DE, 0);
        long q, rem;
        if (z == 8) {
            long hi = r[RDX], lo = r[RAX];
            if (!signed && hi == 0) {
                q = Long.divideUnsigned(lo, divisor);
                rem = Long.remainderUnsigned(lo, divisor);
            } else if (signed && hi == (lo >> 63) && !(lo == Long.MIN_VALUE && divisor == -1)) {
                q = lo / divisor;
                rem = lo % divisor;
            } else {
                Divide128 wide = divide128;
                if (!(signed ? wide.signed(hi, lo, divisor) : wide.unsigned(hi, lo, divisor))) {
                    throw GuestFault.of(GuestFault.DE, 0);
                }
                q = wide.quotient;
                rem = wide.remainder;
            }
            r[RAX] = q;
            r[RDX] = rem;
            return;
        }
        long n = z == 1 ? r[RAX] & 0xFFFF : (getReg(RDX, z) << (z * 8)) | getReg(RAX, z);
        if (signed) {
            long sn = Alu.sext(n, z * 2), sd = Alu.sext(divisor, z);
            q = sn / sd;
            rem = sn % sd;
            if (q != Alu.sext(q, z)) throw GuestFault.of(GuestFault.DE, 0);
        } else {
            q = Long.divideUnsigned(n, divisor);
            rem = Long.remainderUnsigned(n, divisor);
            if ((q & ~Alu.mask(z)) != 0) throw GuestFault.of(GuestFault.DE, 0);
        }
        if (z == 1) setReg(RAX, 2, (q & 0xFF) | ((rem & 0xFF) << 8));
        else { setReg(RAX, z, q); setReg(RDX, z, rem); }
    }


    private void shiftGroup(int op, int z, int rawCount) {
        int count = rawCount & (z == 8 ? 0x3F : 0x1F);
        if (op == 6) op = 4; // SAL is SHL
        if (count == 0) {
            touchOperand(z);
            return;
        }
        int bits = z * 8;
        long m = Alu.mask(z);
        switch (op) {
            case 4 -> rmwShift(Flags.SHL, z, count);
            case 5 -> rmwShift(Flags.SHR, z, count);
            case 7 -> rmwShift(Flags.SAR, z, count);
            default -> {
                long d = readE(z);
                long v;
                boolean cf, of;
                switch (op) {
                    case 0 -> { // ROL
                        int c = count % bits;
                        v = ((d << c) | (d >>> (bits - c))) & m;
                        cf = (v & 1) != 0;
                        of = (((v >>> (bits - 1)) & 1) != 0) ^ cf;
                    }
                    case 1 -> { // ROR
                        int c = count % bits;
                        v = ((d >>> c) | (d << (bits - c))) & m;
                        cf = ((v >>> (bits - 1)) & 1) != 0;
                        of = cf ^ (((v >>> (bits - 2)) & 1) != 0);
                    }
                    case 2 -> { // RCL
                        int c = z < 4 ? count % (bits + 1) : count;
                        v = d;
                        cf = flags.cf();
                        for (int i = 0; i < c; i++) {
                            boolean out = ((v >>> (bits - 1)) & 1) != 0;
                            v = ((v << 1) | (cf ? 1 : 0)) & m;
                            cf = out;
                        }
                        of = (((v >>> (bits - 1)) & 1) != 0) ^ cf;
                        if (c == 0) { writeE(z, v); return; }
                    }
                    default -> { // RCR
                        int c = z < 4 ? count % (bits + 1) : count;
                        v = d;
                        cf = flags.cf();
                        of = (((v >>> (bits - 1)) & 1) != 0) ^ cf;
                        for (int i = 0; i < c; i++) {
                            boolean out = (v & 1) != 0;
                            v = (v >>> 1) | (cf ? 1L << (bits - 1) : 0);
                            cf = out;
                        }
                        if (c == 0) { writeE(z, v); return; }
                    }
                }
                writeE(z, v);
                long f = flags.arith() & ~(Flags.CF | Flags.OF);
                flags.setArith(f | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
            }
        }
    }

    /** A shift by zero: nothing moves, but the operand is still read (memory may fault) and a 32-bit
     *  register is still written, which zero-extends it. */
    private void touchOperand(int z) {
        long v = readE(z);
        if (!memOp) setReg(rm, z, v);
    }

    private void rmwShift(int kind, int z, int count) {
        long d = readE(z);
        long v = switch (kind) {
            case Flags.SHL -> (d << count) & Alu.mask(z);
            case Flags.SHR -> (d >>> count) & Alu.mask(z);
            default -> (Alu.sext(d, z) >> count) & Alu.mask(z);
        };
        writeE(z, v);
        flags.set(kind, z, d, count, v);
    }

    private void group5() {
        decodeModrm();
        int op = reg & 7;
        switch (op) {
            case 0, 1 -> rmw(Alu.K_UNARY, op, opSize, 0, true);
            case 2 -> { // CALL near indirect
                int z = stackOpSize();
                long t = readE(z);
                stack.push(z, ip);
                jumpTo(t);
            }
            case 3, 5 -> { // CALL/JMP far indirect
                if (!memOp) throw ud();
                int z = opSize;
                long lin = ea(z + 2, false);
                long off = mmu.read(lin, z);
                int sel = (int) mmu.read(lin + z, 2);
                if (op == 3) farCall(sel, off);
                else irq.farJump(sel, off);
            }
            case 4 -> jumpTo(readE(stackOpSize()));
            case 6 -> { int z = stackOpSize(); stack.push(z, readE(z)); }
            default -> throw ud();
        }
    }

    private void farCall(int sel, long off) {
        if (irq.taskCall(sel, ip)) return; // CALL to a TSS or task gate: the new task's stack gets nothing
        int z = opSize;
        int oldCs = s.segSel[CS];
        long retIp = ip;
        irq.farJump(sel, off);
        stack.push(z, oldCs);
        stack.push(z, retIp);
    }

    // ------------------------------------------------------------ strings

    /** Iterations of a REP string instruction run per step before yielding to interrupt checks. */
    private static final int REP_CHUNK = 1 << 14;

    private void strings(int op) {
        int z = (op & 1) == 0 ? 1 : opSize;
        long am = adMask();
        long delta = flags.direction() ? -z : z;
        int srcSeg = seg >= 0 ? seg : DS;
        boolean rep = repPrefix != 0;
        boolean conditional = op == 0xA6 || op == 0xA7 || op == 0xAE || op == 0xAF;
        if (op == 0x6C || op == 0x6D || op == 0x6E || op == 0x6F) checkIo((int) (r[RDX] & 0xFFFF), Math.min(z, 4));
        for (int iter = 0; ; iter++) {
            if (rep) {
                if ((r[RCX] & am) == 0) return;
                if (iter == REP_CHUNK) {
                    moveIp(startIp); // resume this instruction after the interrupt window
                    return;
                }
            }
            long si = r[RSI] & am, di = r[RDI] & am;
            switch (op) {
                case 0xA4, 0xA5 -> {
                    if (rep && delta > 0 && tryBulkCopy(srcSeg, si, di, am, z)) continue;
                    mmu.write(linear(ES, di, z, true), z, mmu.read(linear(srcSeg, si, z, false), z));
                    advance(RSI, delta, am);
                    advance(RDI, delta, am);
                }
                case 0xA6, 0xA7 -> {
                    long a = mmu.read(linear(srcSeg, si, z, false), z), b = mmu.read(linear(ES, di, z, false), z);
                    Alu.alu(flags, 7, z, a, b);
                    advance(RSI, delta, am);
                    advance(RDI, delta, am);
                }
                case 0xAA, 0xAB -> {
                    if (rep && delta > 0 && tryBulkFill(di, am, z)) continue;
                    mmu.write(linear(ES, di, z, true), z, getReg(RAX, z));
                    advance(RDI, delta, am);
                }
                case 0xAC, 0xAD -> {
                    setReg(RAX, z, mmu.read(linear(srcSeg, si, z, false), z));
                    advance(RSI, delta, am);
                }
                case 0xAE, 0xAF -> {
                    Alu.alu(flags, 7, z, getReg(RAX, z), mmu.read(linear(ES, di, z, false), z));
                    advance(RDI, delta, am);
                }
                case 0x6C, 0x6D -> {
                    int zz = Math.min(z, 4);
                    long v = DeviceAccess.read(ports, r[RDX] & 0xFFFF, zz);
                    mmu.write(linear(ES, di, zz, true), zz, v);
                    advance(RDI, flags.direction() ? -zz : zz, am);
                }
                default -> {
                    int zz = Math.min(z, 4);
                    DeviceAccess.write(ports, r[RDX] & 0xFFFF, zz, mmu.read(linear(srcSeg, si, zz, false), zz));
                    advance(RSI, flags.direction() ? -zz : zz, am);
                }
            }
            if (!rep) return;
            setAddressReg(RCX, r[RCX] - 1, am);
            if (conditional) {
                boolean zf = flags.zf();
                if (repPrefix == 0xF3 && !zf) return;
                if (repPrefix == 0xF2 && zf) return;
            }
        }
    }

    private void advance(int reg, long delta, long am) {
        setAddressReg(reg, r[reg] + delta, am);
    }
    /**
     * Writes a register used as an address-size counter or pointer (string ops, LOOP, JCXZ's RCX): a 16-bit
     * address size keeps the upper bits, a 32-bit one writes ECX/ESI/EDI and so zero-extends, as any 32-bit
     * register write does.
     */
    private void setAddressReg(int reg, long value, long am) {
        r[reg] = am == 0xFFFFL ? (r[reg] & ~am) | (value & am) : value & am;
    }


    /**
     * REP MOVS forward within one source and one destination page of RAM: copied in one bulk copy.
     * Falls back (returns false) whenever element-wise semantics could differ: overlap, MMIO, page ends.
     */
    private boolean tryBulkCopy(int srcSeg, long si, long di, long am, int z) {
        long count = r[RCX] & am;
        if (!flatSegment(srcSeg) || !flatSegment(ES)) return false; // element by element: each is checked
        long src = linear(srcSeg, si, z, false), dst = linear(ES, di, z, true);
        long n = Math.min(count * z, Math.min(4096 - (src & 0xFFF), 4096 - (dst & 0xFFF))) / z * z;
        if (n < 16 || count > (1L << 40) || Math.abs(src - dst) < n) return false;
        if (am != -1L && (si + n > am || di + n > am)) return false;
        mmu.read(src, 1);
        mmu.write(dst, 1, mmu.read(dst, 1));
        long sp = mmu.translate(src, Mmu.READ), dp = mmu.translate(dst, Mmu.WRITE);
        long sh = mmu.physical().ramPage(sp & ~0xFFFL), dh = mmu.physical().ramPage(dp & ~0xFFFL);
        if (sh < 0 || dh < 0) return false;
        MemorySegment.copy(ram, sh + (sp & 0xFFF), ram, dh + (dp & 0xFFF), n);
        setAddressReg(RSI, si + n, am);
        setAddressReg(RDI, di + n, am);
        setAddressReg(RCX, count - n / z, am);
        return true;
    }

    /** REP STOS forward within one page of RAM, done as a bulk fill. */
    private boolean tryBulkFill(long di, long am, int z) {
        long count = r[RCX] & am;
        if (!flatSegment(ES)) return false;
        long dst = linear(ES, di, z, true);
        long bytes = Math.min(count * z, 4096 - (dst & 0xFFF)) / z * z;
        if (bytes < 16 || (dst & (z - 1)) != 0) return false;
        if (am != -1L && di + bytes > am) return false;
        mmu.write(dst, 1, mmu.read(dst, 1));
        long dp = mmu.translate(dst, Mmu.WRITE);
        long dh = mmu.physical().ramPage(dp & ~0xFFFL);
        if (dh < 0) return false;
        long a = getReg(RAX, z);
        long off = dh + (dp & 0xFFF);
        if (z == 1) {
            ram.asSlice(off, bytes).fill((byte) a);
        } else {
            for (long i = 0; i < bytes; i += z) {
                switch (z) {
                    case 2 -> ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, off + i, (short) a);
                    case 4 -> ram.set(ValueLayout.JAVA_INT_UNALIGNED, off + i, (int) a);
                    default -> ram.set(ValueLayout.JAVA_LONG_UNALIGNED, off + i, a);
                }
            }
        }
        setAddressReg(RDI, di + bytes, am);
        setAddressReg(RCX, count - bytes / z, am);
        return true;
    }

    // ------------------------------------------------------------ port I/O

    /**
     * Port I/O permission: free at CPL <= IOPL outside virtual-8086 mode; otherwise every port touched must
     * have a clear bit in the TSS's I/O permission bitmap (Linux's ioperm() works this way). The bitmap
     * starts at the 16-bit offset stored at TSS+0x66; the two bytes read must lie within the TSS limit,
     * so a map base past the limit denies every port.
     */
    private void checkIo(int port, int size) {
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

    private void in(int port, int z) {
        checkIo(port, z);
        setReg(RAX, z, DeviceAccess.read(ports, port, z));
    }

    private void out(int port, int z) {
        checkIo(port, z);
        DeviceAccess.write(ports, port, z, getReg(RAX, z));
    }

    // ------------------------------------------------------------ two-byte opcodes

    private void twoByte(int op) {
        switch (op) {
            case 0x00 -> desc.group6(this);
            case 0x01 -> group7();
            case 0x02, 0x03 -> {
                decodeModrm();
                desc.larLsl(this, op == 0x02, (int) readE(2), reg, opSize);
            }
            case 0x05 -> irq.syscall(ip);
            case 0x06 -> { requireCpl0(); s.cr0 &= ~CR0_TS; }
            case 0x07 -> irq.sysret(rexW != 0);
            case 0x08, 0x09 -> requireCpl0(); // INVD/WBINVD: no caches to manage
            case 0x0B -> throw ud();
            case 0x0D -> decodeModrm(); // PREFETCH hints
            case 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F -> decodeModrm(); // hint NOPs
            case 0x20, 0x21, 0x22, 0x23 -> movControl(op);
            case 0x30 -> { requireCpl0(); irq.wrmsr((int) r[RCX], (r[RDX] << 32) | (r[RAX] & 0xFFFF_FFFFL)); }
            case 0x31 -> {
                if ((s.cr4 & 4) != 0 && s.cpl != 0) throw GuestFault.gp(0);
                long t = tsc.read();
                r[RAX] = t & 0xFFFF_FFFFL;
                r[RDX] = t >>> 32;
            }
            case 0x32 -> {
                requireCpl0();
                long v = irq.rdmsr((int) r[RCX]);
                r[RAX] = v & 0xFFFF_FFFFL;
                r[RDX] = v >>> 32;
            }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                decodeModrm();
                long v = readE(opSize);
                if (flags.cond(op & 15)) setReg(reg, opSize, v);
                else if (opSize == 4) setReg(reg, 4, getReg(reg, 4)); // 32-bit CMOV always zero-extends
            }
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F -> {
                int z = mode64 ? 4 : opSize;
                long d = Alu.sext(fetchImm(z), z);
                if (flags.cond(op & 15)) relJump(d);
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F -> {
                decodeModrm();
                writeE(1, flags.cond(op & 15) ? 1 : 0);
            }
            case 0xA0, 0xA8 -> stack.push(stackOpSize(), s.segSel[op == 0xA0 ? FS : GS]);
            case 0xA1, 0xA9 -> {
                int z = stackOpSize();
                int sel = (int) stack.peek(z, 0) & 0xFFFF;
                desc.loadSegment(op == 0xA1 ? FS : GS, sel);
                stack.pop(z);
            }
            case 0xA2 -> {
                Cpuid.query((int) r[RAX], (int) r[RCX], apicId, cpuCount, cpuidOut);
                r[RAX] = cpuidOut[0] & 0xFFFF_FFFFL;
                r[RBX] = cpuidOut[1] & 0xFFFF_FFFFL;
                r[RCX] = cpuidOut[2] & 0xFFFF_FFFFL;
                r[RDX] = cpuidOut[3] & 0xFFFF_FFFFL;
            }
            case 0xA3, 0xAB, 0xB3, 0xBB -> {
                decodeModrm();
                int bop = switch (op) { case 0xA3 -> 4; case 0xAB -> 5; case 0xB3 -> 6; default -> 7; };
                bitTest(bop, Alu.sext(getReg(reg, opSize), opSize), true);
            }
            case 0xBA -> {
                decodeModrm();
                int bop = reg & 7;
                if (bop < 4) throw ud();
                bitTest(bop, fetch8(), false);
            }
            case 0xA4, 0xA5, 0xAC, 0xAD -> {
                decodeModrm();
                int count = (op & 1) == 0 ? fetch8() : (int) r[RCX];
                doubleShift(op < 0xAC, count);
            }
            case 0xAE -> group15();
            case 0xAF -> { decodeModrm(); setReg(reg, opSize, Alu.imul(flags, opSize, getReg(reg, opSize), readE(opSize))); }
            case 0xB0, 0xB1 -> cmpxchg(op == 0xB0 ? 1 : opSize);
            case 0xB2, 0xB4, 0xB5 -> { // LSS/LFS/LGS
                decodeModrm();
                if (!memOp) throw ud();
                long lin = ea(opSize + 2, false);
                long off = mmu.read(lin, opSize);
                int sel = (int) mmu.read(lin + opSize, 2);
                desc.loadSegment(op == 0xB2 ? SS : op == 0xB4 ? FS : GS, sel);
                setReg(reg, opSize, off);
            }
            case 0xB6, 0xB7 -> { decodeModrm(); setReg(reg, opSize, readE(op == 0xB6 ? 1 : 2)); }
            case 0xBE, 0xBF -> { int z = op == 0xBE ? 1 : 2; decodeModrm(); setReg(reg, opSize, Alu.sext(readE(z), z)); }
            case 0xB8 -> {
                if (repPrefix != 0xF3) throw undefined(0x0FB8);
                decodeModrm();
                long v = readE(opSize);
                int n = Long.bitCount(v);
                setReg(reg, opSize, n);
                flags.setArith(v == 0 ? Flags.ZF : 0);
            }
            case 0xBC, 0xBD -> { // BSF/BSR (TZCNT/LZCNT are not advertised, so F3 is ignored as on older CPUs)
                decodeModrm();
                long v = readE(opSize);
                long f = flags.arith() & ~Flags.ZF;
                if (v == 0) {
                    flags.setArith(f | Flags.ZF);
                } else {
                    setReg(reg, opSize, op == 0xBC ? Long.numberOfTrailingZeros(v) : 63 - Long.numberOfLeadingZeros(v));
                    flags.setArith(f);
                }
            }
            case 0xC0, 0xC1 -> {
                int z = op == 0xC0 ? 1 : opSize;
                decodeModrm();
                long src = getReg(reg, z);
                long old = rmw(Alu.K_XADD, 0, z, src, true);
                // XADD r, r with one register: the source gets the old value first, then the destination
                // (the same register) the sum, so the sum is what stays.
                if (memOp || rm != reg) setReg(reg, z, old);
            }
            case 0xC3 -> { decodeModrm(); if (!memOp) throw ud(); writeE(opSize, getReg(reg, opSize)); } // MOVNTI
            case 0xC7 -> group9();
            case 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF -> {
                int n = (op & 7) | rexB;
                if (opSize == 8) r[n] = Long.reverseBytes(r[n]);
                else if (opSize == 4) setReg(n, 4, Integer.reverseBytes((int) r[n]));
                else setReg(n, 2, 0); // undefined on hardware; zero is what current CPUs produce
            }
            case 0x38 -> fpuDispatch(FpuInstruction.MAP_0F38, fetch8(), true, false);
            case 0x3A -> fpuDispatch(FpuInstruction.MAP_0F3A, fetch8(), true, true);
            default -> {
                if (isSimd(op)) {
                    boolean imm = op == 0x70 || op == 0x71 || op == 0x72 || op == 0x73 || op == 0xC2
                            || op == 0xC4 || op == 0xC5 || op == 0xC6;
                    fpuDispatch(FpuInstruction.MAP_0F, op, op != 0x77, imm);
                } else {
                    throw undefined(0x0F00 | op);
                }
            }
        }
    }

    private static boolean isSimd(int op) {
        return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2F) || (op >= 0x50 && op <= 0x7F)
                || (op >= 0xC2 && op <= 0xC6) || op >= 0xD0;
    }

    private void fpuDispatch(int map, int opcode, boolean hasModrm, boolean hasImm) {
        FpuInstruction f = fpuInsn;
        f.map = map;
        f.opcode = opcode;
        f.mandatoryPrefix = lastPrefix;
        f.operandSize = opSize;
        f.rexW = rexW != 0;
        f.modrm = 0;
        f.memory = false;
        f.reg = 0;
        f.rm = 0;
        f.imm8 = 0;
        if (hasModrm) {
            decodeModrm();
            f.modrm = modrm;
            f.reg = reg;
            f.rm = rm;
            f.memory = memOp;
        }
        if (hasImm) f.imm8 = fetch8();
        if (f.memory) f.address = ea(1, false); // the operand's first byte: x87/SSE widths are decoded later
        fpu.execute(this, f);
    }

    private void bitTest(int bop, long bitOffset, boolean registerOffset) {
        int z = opSize;
        int bits = z * 8;
        if (memOp && registerOffset) {
            // A register bit offset can address memory beyond the operand: move the address first.
            long byteDisp = (bitOffset >> (bits == 16 ? 4 : bits == 32 ? 5 : 6)) * z;
            eaOff += byteDisp;
            bitOffset &= bits - 1;
        } else {
            bitOffset &= bits - 1;
        }
        rmw(Alu.K_BT, bop, z, bitOffset, bop != 4);
    }

    private void doubleShift(boolean left, int rawCount) {
        int z = opSize;
        int count = rawCount & (z == 8 ? 0x3F : 0x1F);
        if (count == 0) {
            touchOperand(z);
            return;
        }
        int bits = z * 8;
        long m = Alu.mask(z);
        long d = readE(z);
        long src = getReg(reg, z);
        long v;
        boolean cf;
        if (z == 2 && count > 16) {
            // Undefined on hardware; behave like a 32-bit double shift of src:dst truncated.
            count &= 15;
            if (count == 0) return;
        }
        if (left) {
            v = ((d << count) | (src >>> (bits - count))) & m;
            cf = ((d >>> (bits - count)) & 1) != 0;
        } else {
            v = ((d >>> count) | (src << (bits - count))) & m;
            cf = ((d >>> (count - 1)) & 1) != 0;
        }
        writeE(z, v);
        boolean of = (((d ^ v) >>> (bits - 1)) & 1) != 0;
        long f = (cf ? Flags.CF : 0) | (of ? Flags.OF : 0) | ((v & m) == 0 ? Flags.ZF : 0)
                | (((v >>> (bits - 1)) & 1) != 0 ? Flags.SF : 0) | ((Long.bitCount(v & 0xFF) & 1) == 0 ? Flags.PF : 0);
        flags.setArith(f);
    }

    private void cmpxchg(int z) {
        decodeModrm();
        if (lock && !memOp) throw ud();
        long acc = getReg(RAX, z);
        long src = getReg(reg, z);
        if (!memOp) {
            long d = getReg(rm, z);
            Alu.alu(flags, 7, z, acc, d);
            if (d == acc) setReg(rm, z, src);
            else setReg(RAX, z, d);
            return;
        }
        long lin = ea(z, true);
        if (mmu.compareAndSwap(lin, z, acc, src)) {
            Alu.alu(flags, 7, z, acc, acc);
        } else {
            long d = mmu.read(lin, z);
            if (d == acc) { // changed back meanwhile: retry as one more attempt
                if (mmu.compareAndSwap(lin, z, acc, src)) { Alu.alu(flags, 7, z, acc, acc); return; }
                d = mmu.read(lin, z);
            }
            Alu.alu(flags, 7, z, acc, d);
            setReg(RAX, z, d);
        }
    }

    /** CMPXCHG16B's observed memory (low, high); a field so the instruction allocates nothing. */
    private final long[] pair = new long[2];

    private void group9() {
        decodeModrm();
        int op = reg & 7;
        if (op != 1 || !memOp) throw undefined(0x0FC7);
        long lin = ea(rexW != 0 ? 16 : 8, true);
        if (rexW != 0) { // CMPXCHG16B
            if ((lin & 15) != 0) throw GuestFault.gp(0);
            if (mmu.compareAndSwap16(lin, r[RAX], r[RDX], r[RBX], r[RCX], pair)) {
                flags.setArith(flags.arith() | Flags.ZF);
            } else {
                r[RAX] = pair[0];
                r[RDX] = pair[1];
                flags.setArith(flags.arith() & ~Flags.ZF);
            }
            return;
        }
        long expect = (r[RDX] << 32) | (r[RAX] & 0xFFFF_FFFFL);
        long value = (r[RCX] << 32) | (r[RBX] & 0xFFFF_FFFFL);
        if (mmu.compareAndSwap(lin, 8, expect, value)) {
            flags.setArith(flags.arith() | Flags.ZF);
        } else {
            long d = mmu.read(lin, 8);
            r[RAX] = d & 0xFFFF_FFFFL;
            r[RDX] = d >>> 32;
            flags.setArith(flags.arith() & ~Flags.ZF);
        }
    }

    private void group15() {
        int b = fetch8();
        ip--;
        int op = (b >> 3) & 7;
        if ((b >> 6) == 3 && op >= 5) { // LFENCE / MFENCE / SFENCE
            fetch8();
            java.lang.invoke.VarHandle.fullFence();
            return;
        }
        if (op == 7 && (b >> 6) != 3) { // CLFLUSH: caches are coherent here
            decodeModrm();
            mmu.read(ea(1, false), 1);
            return;
        }
        fpuDispatch(FpuInstruction.MAP_0F, 0xAE, true, false);
    }

    private void group7() {
        decodeModrm();
        int op = reg & 7;
        if (!memOp) {
            switch (modrm) {
                case 0xF8 -> { // SWAPGS
                    if (!mode64) throw ud();
                    requireCpl0();
                    long t = s.segBase[GS];
                    s.segBase[GS] = s.kernelGsBase;
                    s.kernelGsBase = t;
                }
                case 0xF9 -> { // RDTSCP
                    long t = tsc.read();
                    r[RAX] = t & 0xFFFF_FFFFL;
                    r[RDX] = t >>> 32;
                    r[RCX] = s.tscAux & 0xFFFF_FFFFL;
                }
                case 0xD0 -> throw ud(); // XGETBV: no XSAVE
                default -> {
                    if (op == 4) { setReg(rm, opSize, s.cr0 & 0xFFFF_FFFFL); return; } // SMSW reg
                    if (op == 6) { requireCpl0(); irq.writeCr0((s.cr0 & ~0xEL) | (readE(2) & 0xF)); return; }
                    throw undefined(0x0F0100 | modrm);
                }
            }
            return;
        }
        long lin = op == 7 ? linearUnchecked(eaSeg, (ripRel ? ip + eaOff : eaOff) & adMask()) // INVLPG accesses nothing
                : ea(op <= 3 ? 2 + (mode64 ? 8 : 4) : 2, op == 0 || op == 1 || op == 4);
        int baseSize = mode64 ? 8 : 4;
        switch (op) {
            case 0, 1 -> {
                mmu.write(lin, 2, op == 0 ? s.gdtLimit : s.idtLimit);
                mmu.write(lin + 2, baseSize, op == 0 ? s.gdtBase : s.idtBase);
            }
            case 2, 3 -> {
                requireCpl0();
                int limit = (int) mmu.read(lin, 2);
                long base = mmu.read(lin + 2, baseSize);
                if (!mode64 && opSize == 2) base &= 0xFF_FFFF;
                if (op == 2) { s.gdtLimit = limit; s.gdtBase = base; }
                else { s.idtLimit = limit; s.idtBase = base; }
            }
            case 4 -> mmu.write(lin, 2, s.cr0);
            case 6 -> { requireCpl0(); irq.writeCr0((s.cr0 & ~0xEL) | (mmu.read(lin, 2) & 0xF)); }
            case 7 -> { requireCpl0(); mmu.flushPage(lin); }
            default -> throw ud();
        }
    }

    private void movControl(int op) {
        int b = fetch8();
        // The ModRM is always treated as a register form.
        int n = ((b >> 3) & 7) | rexR;
        int g = (b & 7) | rexB;
        requireCpl0();
        int z = mode64 ? 8 : 4;
        switch (op) {
            case 0x20 -> setReg(g, z, irq.readCr(n));
            case 0x22 -> irq.writeCr(n, getReg(g, z));
            case 0x21 -> setReg(g, z, s.dr[n & 7]);
            default -> s.dr[n & 7] = getReg(g, z);
        }
    }

    // ------------------------------------------------------------ faults

    private GuestFault ud() { return GuestFault.ud(); }

    private GuestFault undefined(int opcode) {
        String key = Integer.toHexString(opcode);
        if (LOGGED.add(key)) {
            LOG.warning(() -> String.format("emu: unimplemented opcode %s at rip=%x (raising #UD)", key, startIp));
        }
        return GuestFault.ud();
    }

    // ============================================================ FpuHost

    @Override public long readGpr(int index) { return r[index]; }

    @Override
    public void writeGpr(int index, long value, int sizeBytes) {
        boolean saved = rex;
        rex = true; // byte writes from the units address the low byte of the register
        setReg(index, sizeBytes, value);
        rex = saved;
    }

    @Override public long readMem(long linear, int size) { return mmu.read(linear, size); }
    @Override public void writeMem(long linear, int size, long value) { mmu.write(linear, size, value); }

    @Override
    public void setCompareFlags(boolean zf, boolean pf, boolean cf) {
        flags.setArith((zf ? Flags.ZF : 0) | (pf ? Flags.PF : 0) | (cf ? Flags.CF : 0));
    }

    @Override public RuntimeException fault(int vector, int errorCode) { return GuestFault.of(vector, errorCode); }
    @Override public long cr0() { return s.cr0; }
    @Override public long cr4() { return s.cr4; }
    @Override public boolean longMode() { return mode64; }

    // ============================================================ accessors for the system helpers

    long startIp() { return startIp; }
    void setStartIp(long rip) { startIp = rip; }
    int opSizeNow() { return opSize; }
    boolean memOperand() { return memOp; }
    int modrmReg() { return reg; }
    int modrmRm() { return rm; }
    void decodeModrmForHelper() { decodeModrm(); }
    void setIp(long v) { moveIp(v); }

    /**
     * A task switch committed: the instruction now counts as done, and a fault from here on restarts at
     * the new task's first instruction ({@code rip}), not at the instruction that switched.
     */
    void restartAt(long rip) {
        startIp = rip;
        moveIp(rip);
    }
    long ipNow() { return ip; }
    int apicId() { return apicId; }
}
