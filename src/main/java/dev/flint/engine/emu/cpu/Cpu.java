package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.GuestClock;
import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.machine.bus.Bus;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The runner over the execution tiers, and the facade the VM drives (execute, interrupts, save/restore).
 * Instructions run in real, protected, compatibility and 64-bit mode; one at a time they run through the
 * {@link Interpreter} (decoder, then the instruction's family: docs/emu-cpu.md), and the tiers above it
 * are built here. Each instruction is decoded once, the first time it runs, into a {@link DecodedInsn}; runs of them form
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
public final class Cpu {

    /** Why {@link #execute} returned. */
    public static final int EXIT_BUDGET = 0, EXIT_HALT = 1, EXIT_INTERRUPT_CHECK = 2, EXIT_FAULT = 3;

    public final CpuState s;
    public final Flags flags;
    private final long[] r;
    private final Mmu mmu;
    private final MemorySegment ram;
    private final dev.flint.engine.emu.mmu.CodePages codePages;
    private final CpuInterruptPort apic;
    private final FpuUnit fpu;
    private final Descriptors desc;
    private final Interrupts irq;
    private final Stack stack;
    /** Decodes the current instruction and holds its operands and the mode facts decoding depends on. */
    private final Decoder dec;
    /** Executes one instruction through its family. */
    private final Interpreter interp;

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
    /** The block that ran last, whose link the next block found is stored in (null after a decode). */
    private DecodedBlock previous;

    private final TimeStampCounter tsc;
    /** Counters, written by this CPU's thread once per block or stepped instruction. */
    private final CpuStatistics stats = new CpuStatistics();
    /** The profiler's count of replayed encodings (empty unless {@link ReplayCensus#ENABLED}). */
    private final ReplayCensus census = new ReplayCensus();
    /**
     * Host code for whole-translated 64-bit blocks ({@link CpuOptions#nativeTier}), or null (off, or a host that
     * cannot run it). Its code memory is released when this CPU is collected.
     */
    private final NativeTier nativeTier;
    /** The native blocks' chained exits (null without {@link #nativeTier}). */
    private final NativeChains nativeChains;
    /** What the native tier did and why blocks did not run natively (null unless {@link NativeCensus#ENABLED}). */
    private final NativeCensus nativeCensus;
    private static final java.lang.ref.Cleaner NATIVE_CLEANER = java.lang.ref.Cleaner.create();
    /**
     * The native code cache of one vCPU. A full cache is flushed whole and its blocks translated again when next
     * entered: at 4 MiB the bench guest's boot flushed 94 times (one vCPU) and translated 305 k blocks where 43 k
     * were new, a third of the vCPU thread's Java time and most of its garbage; 12 MiB: 7 flushes, 70 k
     * translations, ~14 MiB more peak RSS (both views of the cache are counted). docs/emu-native.md, "emuboot".
     */
    private static final long NATIVE_CACHE_BYTES = 12L << 20;
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
        this.apic = apic;
        this.tsc = new TimeStampCounter(clock);
        this.fpu = fpu;
        this.blocks = new BlockCache(BlockCache.setsFor(cpuCount)); // a share of the machine's block budget
        this.stack = new Stack(state, mmu);
        this.dec = new Decoder(state, mmu, stack);
        this.desc = new Descriptors(dec, state, mmu);
        this.irq = new Interrupts(dec, state, mmu, desc, stack, apic, tsc);
        this.interp = new Interpreter(state, dec, mmu, ports, stack, desc, irq, tsc, fpu, apicId, cpuCount);
        this.fast = new FastPath(this, state, mmu, stack);
        this.nativeTier = options.nativeTier() && NativeTier.available() ? new NativeTier(NATIVE_CACHE_BYTES) : null;
        if (nativeTier != null) NATIVE_CLEANER.register(this, nativeTier::close);
        this.nativeChains = nativeTier == null ? null : new NativeChains(nativeTier.cache(), codePages, mmu, nativeTier.state());
        this.nativeCensus = NativeCensus.ENABLED && nativeTier != null ? new NativeCensus(stats, nativeChains) : null;
        // A new CPU starts running, whatever a CPU before it on this state left (test rigs run several).
        state.halted = false;
        state.interruptShadow = false;
        state.nmiBlocked = false;
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
        s.halted = false;
        afterStateLoad();
    }

    /**
     * Snapshot of a vCPU stopped at an instruction boundary: the register file, the x87/SSE state, the
     * interrupt shadow, HLT, NMI blocking and the TSC offset. Decoded blocks and TLBs are caches, rebuilt.
     */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        s.save(out);
        out.putBoolean(s.interruptShadow).putBoolean(s.halted).putBoolean(s.nmiBlocked).putLong(tsc.adjust());
        fpu.save(out);
    }

    public void restore(dev.flint.machine.state.StateReader.Section in) {
        s.restore(in);
        boolean shadow = in.getBoolean();
        s.halted = in.getBoolean();
        s.nmiBlocked = in.getBoolean();
        tsc.setAdjust(in.getLong());
        fpu.restore(in);
        afterStateLoad();
        s.interruptShadow = shadow;
    }

    private void afterStateLoad() {
        previous = null;
        mmu.flushAll();
        s.interruptShadow = false;
        modeChanged();
    }

    /** What this CPU has run so far. */
    public CpuStatistics statistics() { return stats; }

    /** The replayed instructions by encoding, when counted ({@link ReplayCensus}). */
    public ReplayCensus census() { return census; }

    /** Times this vCPU gave up its host thread in a guest spin loop (pause-loop exiting). */
    public long pauseLoopExits() { return interp.pauseLoop.exits(); }

    /** PAUSEs this vCPU ran. */
    public long pauses() { return interp.pauseLoop.pauses(); }

    public GuestFault lastFault() { return lastFault; }
    public boolean halted() { return s.halted; }

    /** Recomputes cached mode facts after CS, CR0, EFER or CPL change (tests that edit the state call it). */
    public void modeChanged() { dec.modeChanged(); }

    // ============================================================ run loop

    /**
     * Runs about {@code budget} instructions (a compiled block may run up to 63 past it). Returns early on HLT, or when interrupts may have become
     * deliverable (the caller then checks the local APIC). Guest faults are delivered internally; a
     * triple fault escapes as {@link TripleFault}.
     */
    public int execute(long budget) {
        long n = 0;
        while (n < budget) {
            if (s.halted) return EXIT_HALT;
            if (n > 0 && kicked) return EXIT_BUDGET; // after at least one instruction, so a vCPU kicked often still runs
            if (!blocksEnabled || s.interruptShadow || (flags.system & Flags.TF) != 0) {
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

    // --- The kick, and native runs past the slice ---

    /** Set by {@link #kick} (any thread), cleared by {@link #clearKick} (this CPU's thread, at a slice start). */
    private volatile boolean kicked;
    /** How many instructions a native run may go past {@link #execute}'s budget ({@link #execute(long, long)}). */
    private long nativeExtra;
    /**
     * The APIC timer's deadline when the slice began: the caller sized the native budget by it. The guest re-arms its
     * timer in Java (MMIO, MSR) in the middle of a slice; then the rest of the slice runs no native code past the
     * budget (the next slice is sized by the new deadline).
     */
    private long sliceDeadline;

    /**
     * As {@link #execute(long)}, but native code may go on to {@code nativeBudget} instructions in all: the JVM tiers
     * (replay and compiled regions, which do not see the kick inside a region's loop) still stop at {@code budget},
     * while chained native blocks stop at their next chain entry after a {@link #kick}. The caller passes a larger
     * native budget only when nothing but a kick can need the CPU back sooner.
     */
    public int execute(long budget, long nativeBudget) {
        nativeExtra = Math.max(0, nativeBudget - budget);
        sliceDeadline = apic == null ? Long.MAX_VALUE : apic.nextEventNanos();
        try {
            return execute(budget);
        } finally {
            nativeExtra = 0;
        }
    }

    /**
     * Asks the CPU (from any thread) to come back from {@link #execute} soon: within one block of native code (the
     * chain entries test the kick word), after the current block in the JVM tiers. Never lost: it stays set until
     * this CPU's thread calls {@link #clearKick}, which it does before it looks for the reasons to stop.
     */
    public void kick() {
        kicked = true;
        if (nativeTier != null) nativeTier.state().kick();
    }

    /**
     * Clears the kick (this CPU's thread, before it checks interrupts, pause and stop): a kick raised after this
     * is seen by the next run; what a kick raised before announced is seen by the checks that follow (full fence:
     * the clear is ordered before those reads).
     */
    public void clearKick() {
        kicked = false;
        if (nativeTier != null) nativeTier.state().clearKick();
        java.lang.invoke.VarHandle.fullFence();
    }

    /**
     * True while an interrupt or NMI may be waiting that {@link #checkInterrupts} could not take (IF clear, NMIs
     * blocked, an interrupt shadow): then no native run goes past the slice, since what makes it deliverable
     * (STI, POPF, IRET in Java) kicks nobody.
     */
    public boolean interruptWaiting() {
        return apic != null && (apic.pendingVector() >= 0 || s.nmiBlocked || s.interruptShadow);
    }

    /**
     * Runs one instruction the plain way, with the single-step trap and the interrupt shadow. Returns an
     * exit code for {@link #execute} to return, or -1 to go on.
     */
    private int stepOne() {
        boolean shadow = s.interruptShadow;
        s.interruptShadow = false;
        // TF as it was before the instruction decides the single-step trap (so POPF setting TF
        // traps only after the following instruction, as on hardware).
        boolean singleStep = (flags.system & Flags.TF) != 0;
        int csBefore = s.segSel[CS];
        try {
            interp.step();
            // Not after INT n, SYSCALL or far transfers: those enter code that clears or sets TF itself.
            if (singleStep && s.segSel[CS] == csBefore) {
                s.dr[6] |= 0x4000; // DR6.BS
                throw GuestFault.of(GuestFault.DB, 0);
            }
        } catch (GuestFault f) {
            boolean trap = singleStep && f.vector == GuestFault.DB && s.rip != dec.startIp;
            if (!trap) s.rip = dec.startIp; // faults restart the instruction; the step trap follows it
            if (stopOnFault) {
                lastFault = f;
                return EXIT_FAULT;
            }
            irq.deliverException(f);
        }
        stats.instructions++;
        return shadow && !s.interruptShadow ? EXIT_INTERRUPT_CHECK : -1;
    }

    /**
     * Runs the decoded block at RIP, decoding it first (while running it) if there is none or its code
     * changed, and then, while nothing needs {@link #execute} (budget, HLT, interrupt shadow, single step) and
     * neither the translations nor the mode changed, the blocks after it, without returning: the facts every
     * block entered here shares (link keys, CPL, mode) are read once, and the counters are added once.
     * Returns the instructions run, or -1 when a fault stops a test rig.
     */
    private long runBlock(long max) {
        long rip = s.rip;
        long done = 0; // instructions of the blocks that finished in this call
        int count = 0; // of the block running now
        long linked = 0, lookups = 0, compiledRun = 0, replayed = 0, nativeRun = 0;
        DecodedBlock prev = previous;
        previous = null;
        boolean user = mmu.user();
        // In 64-bit mode the linear address is RIP, so a block's link to the next one holds while the
        // TLB generation and the CPL it was found under do; a link to code on a global page (the
        // kernel's) holds while the global generation does, so it survives address-space switches.
        // Both stay as read here for the whole loop: it ends when an instruction changes the generation
        // or the mode (a CPL change is one, see Decoder.modeChanged).
        boolean linkable = dec.mode64;
        int gen = mmu.generation(), epoch = dec.modeEpoch;
        long cpl = user ? 1 : 0;
        long linkKey = (long) gen << 2 | cpl, globalKey = (long) mmu.globalGeneration() << 2 | 2 | cpl;
        try {
            while (true) {
                mmu.clearCodeStored();
                dec.startIp = rip; // a fault on the code fetch itself restarts here
                DecodedBlock block = prev == null || !linkable ? null : prev.linked(rip, linkKey, globalKey);
                if (block != null && usable(block, linkable)) {
                    linked++;
                } else {
                    long lin = linkable ? rip : (s.segBase[CS] + rip) & 0xFFFF_FFFFL;
                    long pageHost = dec.codePageHost(lin);
                    if (pageHost < 0) { // code outside RAM: decode as it comes
                        count = 1;
                        interp.step();
                        break;
                    }
                    int key = dec.modeKey();
                    block = blocks.get(lin, rip, key, pageHost);
                    if (block == null || !usable(block, linkable)) {
                        count = buildBlock(lin, rip, key, pageHost, max - done);
                        break;
                    }
                    lookups++;
                    if (prev != null && linkable) prev.link(rip, mmu.codePageGlobal(lin) ? globalKey : linkKey, block);
                }
                if (++block.entries == compileThreshold && BlockCompiler.compilable(block.insns)) compile(block);
                CompiledBlock compiled = block.compiled;
                // A compiled block runs whole even past the budget (by at most MAX_BLOCK - 1): stopping
                // it there would replay it and leave a partial block to decode at every slice end.
                if (nativeTier != null && linkable && (count = runNative(block, max - done)) > 0) {
                    nativeRun += count;
                } else {
                    if (NativeCensus.ENABLED && nativeCensus != null) nativeCensus.notNative(block, linkable, dec.defOpSize, user);
                    if (compiled != null) {
                        count = compiled.run(fast, block.compiledInsns, (int) Math.min(max - done, Integer.MAX_VALUE));
                        compiledRun += count;
                    } else {
                        count = replayBlock(block.insns, max - done);
                        replayed += count;
                    }
                }
                done += count;
                count = 0;
                prev = block;
                rip = s.rip;
                if (done >= max || s.halted || s.interruptShadow || (flags.system & Flags.TF) != 0
                        || mmu.generation() != gen || dec.modeEpoch != epoch || kicked) {
                    previous = block; // the next call links from it
                    break;
                }
            }
        } catch (GuestFault f) {
            // The counted instruction faulted: it restarts after the handler, as on hardware.
            s.rip = dec.startIp;
            if (stopOnFault) {
                lastFault = f;
                return -1;
            }
            irq.deliverException(f);
        } finally {
            long all = done + count;
            stats.instructions += all;
            if (user) stats.userInstructions += all;
            stats.linkedEntries += linked;
            stats.lookups += lookups;
            stats.compiledInstructions += compiledRun;
            stats.replayedInstructions += replayed;
            stats.nativeInstructions += nativeRun;
        }
        return Math.max(done + count, 1);
    }

    /**
     * Compiles a hot block, in 64-bit mode as a region with the blocks its direct branches lead to within
     * its code page ({@link #regionOf}); fewer members if the method would be too large for the JIT.
     */
    private void compile(DecodedBlock block) {
        java.util.List<DecodedBlock> members = dec.mode64 ? regionOf(block) : java.util.List.of(block);
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
    private boolean usable(DecodedBlock b, boolean mode64) {
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

    /**
     * Runs a 64-bit block as host code if the translator covers all of its instructions (translating it on its
     * first entry here, and again after a flush of the code cache). The block itself runs whole even with fewer than
     * its instructions left of {@code max}, as a compiled block does. Returns the instructions run, or 0 if it did not run (then it is replayed or runs compiled).
     * Translated forms touch registers, flags, RIP and RAM through the soft TLB (a store into decoded code exits to
     * Java first): nothing that ends a block except RIP changes. Exits to blocks run natively before are chained
     * ({@link NativeChains}): one entry may run many blocks, the ones after the first within {@code max}, ending at a
     * block boundary.
     */
    private int runNative(DecodedBlock b, long max) {
        if (b.nativeRefused) return 0;
        long generation = nativeTier.cache().generation();
        if (b.nativeOffset < 0 || b.nativeGeneration != generation) {
            NativeTranslator.Translation t;
            try {
                t = NativeTranslator.translate(b.insns, true, mmu.nativeTlb().address());
            } catch (IllegalArgumentException refused) {
                // The emitter refuses what it cannot encode instead of writing wrong code: such a block
                // (a translator gap, whatever bytes the guest chose) is replayed, never run natively.
                if (NativeCensus.ENABLED) b.nativeWhy = "emitter refused";
                t = null;
            }
            if (t == null || t.instructions() != b.insns.length) {
                b.nativeRefused = true;
                if (NativeCensus.ENABLED && b.nativeWhy == null) b.nativeWhy = NativeCensus.untranslated(b.insns, t);
                return 0;
            }
            b.nativeOffset = nativeTier.install(t);
            b.nativeGeneration = nativeTier.cache().generation();
            nativeChains.installed(b, b.nativeOffset, t.frame());
            if (NativeCensus.ENABLED && nativeCensus != null) nativeCensus.installed(nativeTier.cache(), b.nativeOffset, t.frame());
        }
        if (NativeCensus.ENABLED && nativeCensus != null) nativeCensus.entering(b);
        nativeChains.enter(b);
        // Like a compiled block, the block entered from Java runs whole even when fewer instructions are left
        // (by at most MAX_BLOCK - 1): refusing it would replay it at every slice end. Chained blocks after it
        // still check the budget at their heads.
        // Native code may run past the slice by nativeExtra (a kick still ends it at a chain entry), while the
        // timer deadline the slice was sized by holds.
        if (nativeExtra != 0 && apic != null && apic.nextEventNanos() != sliceDeadline) nativeExtra = 0;
        int reason = nativeTier.run(b.nativeOffset, s, Math.max(Math.min(max + nativeExtra, Integer.MAX_VALUE), b.insns.length));
        nativeChains.exited(reason == dev.flint.engine.emu.nativecode.BlockFrame.EXIT_BUDGET ? 0 : nativeTier.state().exitSite());
        if (NativeCensus.ENABLED && nativeCensus != null) nativeCensus.exited(b, reason, nativeTier, s.rip);
        return (int) nativeTier.instructions(); // 0 when it did not start (budget)
    }

    /** Replays decoded instructions while execution falls through from one to the next. */
    private int replayBlock(DecodedInsn[] insns, long max) {
        int gen = mmu.generation(), epoch = dec.modeEpoch;
        int count = 0;
        while (true) {
            DecodedInsn d = insns[count++];
            if (d.fast != FastPath.NONE) {
                if (ReplayCensus.ENABLED) census.count(ReplayCensus.FAST, d);
                // The fast forms change nothing that ends a block except RIP.
                dec.startIp = d.rip;
                fast.run(d);
                if (count == insns.length || count >= max || s.rip != d.endIp || mmu.codeStored()) return count;
                continue;
            }
            if (ReplayCensus.ENABLED) census.count(ReplayCensus.GENERAL, d);
            interp.replay(d);
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
        int gen = mmu.generation(), epoch = dec.modeEpoch;
        boolean wide = dec.mode64; // the block's mode: an instruction that leaves it is still decoded in it
        long blockIpMask = dec.ipMask;
        long page = lin & ~0xFFFL;
        int count = 0, kept = 0, length = 0;
        long page2Host = -1;
        // Marked before any byte is decoded: a store into this code while it runs changes the version.
        int version = codePages.markCode(pageHost), version2 = 0;
        try {
            while (count < max && kept < MAX_BLOCK) {
                DecodedInsn d = new DecodedInsn();
                dec.recording = d;
                count++; // counted before it runs: a fault in it is still an instruction executed
                interp.step();
                dec.recording = null;
                long startLin = wide ? dec.startIp : (s.segBase[CS] + dec.startIp) & 0xFFFF_FFFFL;
                long end = dec.moved ? dec.insnEnd : dec.ip;
                int len = (int) (end - dec.startIp);
                // In 64-bit mode an instruction that changed the translations or the mode (MOV CR3, SYSRET,
                // IRET, SYSCALL, INT) is kept as the block's last: it was decoded before it acted, from the
                // window filled at its start (16 bytes, cut at the page end; its fill length is gone once
                // the mode changed), and a replay ends the block after it as this run does.
                boolean changed = mmu.generation() != gen || dec.modeEpoch != epoch;
                boolean sameState = len > 0 && len <= 16 && (startLin & ~0xFFFL) == page && (!changed || wide);
                boolean recorded = sameState && dec.windowIp == dec.startIp && dec.fetchHost == pageHost
                        && (changed ? len <= 4096 - (startLin & 0xFFF) : len <= dec.windowLength);
                // An instruction that runs on into the next page (in RAM) ends the block; its bytes come
                // from both pages, and the block is used only while the second one still maps there too.
                boolean crossing = !recorded && sameState && !changed && ((startLin + len - 1) & ~0xFFFL) == page + 4096
                        && (page2Host = mmu.codePageIfCached(page + 4096)) >= 0;
                if (!recorded && !crossing) break;
                if (crossing) {
                    version2 = codePages.markCode(page2Host);
                    int inFirst = (int) (4096 - (startLin & 0xFFF));
                    dec.window = 0;
                    dec.window2 = 0;
                    for (int i = 0; i < len; i++) {
                        long b = ram.get(ValueLayout.JAVA_BYTE, i < inFirst ? pageHost + (startLin & 0xFFF) + i
                                : page2Host + i - inFirst) & 0xFFL;
                        if (i < 8) dec.window |= b << (8 * i);
                        else dec.window2 |= b << (8 * (i - 8));
                    }
                }
                d.rip = dec.startIp;
                d.endIp = end & blockIpMask;
                d.length = (byte) len;
                d.window = dec.window;
                d.window2 = dec.window2;
                for (int i = 0; i < len; i++) {
                    codeScratch[length + i] = (byte) (i < 8 ? dec.window >>> (8 * i) : dec.window2 >>> (8 * (i - 8)));
                }
                FastPath.classify(d, wide, codeScratch, length);
                length += len;
                buildScratch[kept++] = d;
                if (crossing || s.rip != d.endIp || blockInterrupted(gen, epoch)) break;
            }
        } finally {
            dec.recording = null;
            if (kept > 0) {
                blocks.put(new DecodedBlock(lin, rip, key, pageHost,
                        java.util.Arrays.copyOf(buildScratch, kept), codeScratch, length, page2Host, version, version2));
            }
        }
        return count;
    }

    /** True when something the last instruction did means the block must not go on. */
    private boolean blockInterrupted(int gen, int epoch) {
        return s.halted || s.interruptShadow || (flags.system & Flags.TF) != 0 || mmu.generation() != gen
                || dec.modeEpoch != epoch || mmu.codeStored();
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

    /**
     * Tests of the native tier: the decoded instructions of the cached block that starts at linear address
     * {@code linear} (as the block cache keeps them), or null if there is none.
     */
    DecodedInsn[] cachedInstructions(long linear) {
        for (DecodedBlock b : blocks.blocks()) {
            if (b.linear == linear && b.insns != null) return b.insns;
        }
        return null;
    }

    /** Tests of the native tier: its chains, or null when the tier is off. */
    NativeChains nativeChains() { return nativeChains; }

    /** Tests of the native tier: its code cache, or null when the tier is off. */
    dev.flint.engine.emu.nativecode.CodeCache nativeCache() { return nativeTier == null ? null : nativeTier.cache(); }

    /** Compiled blocks: the instruction that threw, so that the fault restarts it (see {@link BlockCompiler}). */
    void setStartIp(long rip) { dec.startIp = rip; }

    /**
     * Compiled blocks: runs an instruction that has no fast form through its handler, as a replay does.
     * Returns whether the block may go on (execution fell through and nothing that ends a block happened).
     */
    boolean replayInBlock(DecodedInsn d) {
        int gen = mmu.generation(), epoch = dec.modeEpoch;
        s.rip = d.rip; // as between replayed instructions (compiled code sets RIP only when it leaves)
        if (ReplayCensus.ENABLED) census.count(ReplayCensus.IN_COMPILED, d);
        interp.replay(d);
        return s.rip == d.endIp && !blockInterrupted(gen, epoch);
    }

    /**
     * Delivers a pending NMI or external interrupt if the CPU can take it now. Call between
     * {@link #execute} slices. Returns true if something was delivered (a halted CPU wakes up).
     */
    public boolean checkInterrupts() {
        if (apic == null || s.interruptShadow) return false;
        if (!s.nmiBlocked && apic.takeNmi()) {
            s.halted = false;
            s.nmiBlocked = true; // until the handler's IRET, as on hardware
            irq.deliverExternal(GuestFault.NMI, true);
            return true;
        }
        if (!flags.interruptsEnabled()) return false;
        if (apic.pendingVector() < 0) return false;
        int vector = apic.acknowledge();
        if (vector < 0) return false;
        s.halted = false;
        irq.deliverExternal(vector, false);
        return true;
    }
}
