package dev.flint.engine.emu.nativecode;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;

/**
 * The entry and exit code around one translated block, and where the block finds each guest register while it
 * runs. A block is entered as {@code long f(long state)} ({@link CodeCache#enter} with a {@link NativeState}'s
 * address) and returns its exit reason.
 *
 * <p>Register assignment: guest register n lives in host register n for the 14 registers other than RSP and R15.
 * Host RSP stays the host's stack (a signal handler may run on it at any time), and host R15 holds the state's
 * address ({@link #STATE}); guest RSP and guest R15 stay in their slots of the state, and the translator reaches
 * them through a scratch register ({@link #resident}, {@link #slot}).
 *
 * <p>Flags: the entry loads the state's six arithmetic flags into the host's RFLAGS, keeping every other bit of
 * the host's own (popfq of the host's flags with only CF PF AF ZF SF OF replaced: the guest's TF, IF, DF and AC
 * never reach the host, and the host's DF stays clear as the ABI wants); inside the block the guest's flags are
 * the host's, and the exit stores those six bits back. Nothing between the guest's instructions may change them
 * (moves, push and pop only).
 *
 * <p>Entry: the callee-saved registers are pushed, the budget is checked (a block never starts with fewer
 * instructions left than it has: it exits at once with {@link #EXIT_BUDGET}, the state untouched), then flags and
 * registers are loaded. Each {@link #exit} path stores RAX, the exit RIP and a packed reason and count, and
 * jumps to the block's one common tail, which stores the other registers and the flags, writes the exit fields,
 * subtracts the count from the budget and returns.
 */
public final class BlockFrame {
    /** The host register holding the {@link NativeState}'s address while a block runs. */
    public static final int STATE = R15;
    /** Exit reasons: a branch ended the block; the translation ended (at an instruction it does not translate, or
     * after its last); the budget was too small to start. */
    public static final int EXIT_BRANCH = 1, EXIT_STOP = 2, EXIT_BUDGET = 3;
    private static final int[] SAVED = {RBX, RBP, R12, R13, R14, R15};
    private static final int COUNT_BITS = 24;

    private final X64Emitter e;
    private final X64Emitter.Label common = new X64Emitter.Label(), budgetExit = new X64Emitter.Label(),
            chainBudget = new X64Emitter.Label();
    private final int instructions;
    private final long rip;
    private final java.util.List<Exit> exits = new java.util.ArrayList<>();
    private int chainEntry = -1;
    private boolean finished;

    /** Emits the entry of a block of {@code instructions} guest instructions into {@code e}, without a chain entry. */
    public BlockFrame(X64Emitter e, int instructions) {
        this(e, instructions, 0, false);
    }

    /**
     * Emits the entry of a block of {@code instructions} guest instructions starting at guest {@code rip}, and
     * with {@code chainable} also its chain entry ({@link #chainEntry}): where other blocks' exits jump once
     * chained.
     */
    public BlockFrame(X64Emitter e, int instructions, long rip, boolean chainable) {
        if (instructions < 0 || instructions >= 1 << COUNT_BITS) throw new IllegalArgumentException("block of " + instructions);
        this.e = e;
        this.instructions = instructions;
        this.rip = rip;
        for (int r : SAVED) e.push(r);
        e.aluRR(MOV, true, STATE, RDI);
        e.aluMemImm(EXT_CMP, STATE, NativeState.BUDGET, instructions);
        e.jcc(CC_L, budgetExit);
        // RFLAGS = the host's with the six arithmetic bits from the state.
        e.pushfq();
        e.pop(RAX);
        e.aluRI(EXT_AND, RAX, (int) ~NativeState.ARITH_FLAGS);
        e.load(RCX, STATE, NativeState.FLAGS);
        e.aluRI(EXT_AND, RCX, (int) NativeState.ARITH_FLAGS);
        e.aluRR(OR, true, RAX, RCX);
        e.popfqFrom(RAX);
        for (int r = 0; r < 16; r++) {
            if (resident(r)) e.load(r, STATE, slot(r));
        }
        if (chainable) emitChainEntry();
    }

    // --- emuchain: chain entries and chainable exits ---

    /**
     * The chain entry, jumped to by another block's chained exit ({@link #exit}) with the guest's flags in AX
     * ({@code lahf; seto al}), guest RAX in its slot and the budget already reduced by the instructions the
     * blocks before it ran: the budget is checked here, at every block head, so that a chain of blocks (a loop
     * among them) leaves native code within the budget and exactly at a block boundary. With fewer instructions
     * left than this block has, or with the state's kick word set ({@link NativeState#KICK}), it exits with
     * {@link #EXIT_BUDGET}, RIP at this block and nothing of it done.
     */
    private void emitChainEntry() {
        X64Emitter.Label body = new X64Emitter.Label();
        e.jmp(body);
        chainEntry = e.position();
        e.aluMemImm(EXT_CMP, STATE, NativeState.BUDGET, instructions);
        e.jcc(CC_L, chainBudget);
        e.aluMemImm(EXT_CMP, STATE, NativeState.KICK, 0); // a kick ends the run here, as the budget does
        e.jcc(CC_NZ, chainBudget);
        e.restoreFlagsFromAx();
        e.load(RAX, STATE, slot(RAX));
        e.bind(body);
    }

    /** The chain entry's position in the block's code, or -1 for a frame built without one. */
    public int chainEntry() { return chainEntry; }

    /**
     * One exit of a block as its code lays it out: {@code site} is the {@code jmp rel32} every leaving path
     * takes first, which goes to {@code slow} (the exit to Java) until the exit is chained; then it goes to
     * {@code chain}, which puts the guest's flags in AX, takes this block's {@code count} from the budget and
     * jumps ({@code chainJump}, a second {@code jmp rel32}) to the target block's chain entry. Positions are
     * relative to the block's start; {@code rip} is where the exit leaves to.
     */
    public record Exit(long rip, int count, int site, int chain, int chainJump, int slow) {
        /** The rel32 field of a {@code jmp rel32} at {@code jump} that reaches {@code target} (same base). */
        public static int rel32(long jump, long target) { return Math.toIntExact(target - (jump + 5)); }
    }

    /** The exits emitted so far, in order. */
    public java.util.List<Exit> exits() { return java.util.List.copyOf(exits); }

    /** True if guest register {@code r} is in host register {@code r} while a block runs (all but RSP and R15). */
    public static boolean resident(int r) {
        if (r < 0 || r > 15) throw new IllegalArgumentException("no register " + r);
        return r != RSP && r != R15;
    }

    /** The offset of guest register {@code r} in the state. */
    public static int slot(int r) {
        if (r < 0 || r > 15) throw new IllegalArgumentException("no register " + r);
        return 8 * r;
    }

    /**
     * Emits an exit path here: the block leaves with RIP = {@code rip}, {@code count} instructions completed, for
     * {@code reason}. Changes no flag before the common tail has stored them. It may be chained (listed in
     * {@link #exits()}) when it completes at least one instruction: a chained exit that completed none would take
     * nothing off the budget and could jump back into the block it left for ever.
     */
    public void exit(long rip, int count, int reason) {
        exit(rip, count, reason, count > 0);
    }

    /**
     * As {@link #exit(long, int, int)}; {@code chainable} false keeps the exit on its way to Java for good: an exit
     * that needs Java to act before the guest goes on (a soft-TLB miss, a store into code) must never be chained,
     * since the code it would jump to would only meet the same miss again.
     */
    public void exit(long rip, int count, int reason, boolean chainable) {
        if (finished) throw new IllegalStateException("frame already finished");
        if (count < 0 || count >= 1 << COUNT_BITS || reason < EXIT_BRANCH || reason > EXIT_STOP) {
            throw new IllegalArgumentException("exit after " + count + " for reason " + reason);
        }
        X64Emitter.Label slow = new X64Emitter.Label(), siteLabel = new X64Emitter.Label();
        int site = e.position();
        e.bind(siteLabel);
        e.jmp(slow);
        int chain = e.position();
        e.store(STATE, slot(RAX), RAX);
        e.saveFlagsToAx();
        e.aluMemImm(EXT_SUB, STATE, NativeState.BUDGET, count);
        int chainJump = e.position();
        e.jmp(slow); // never taken as written: the chain path is reached only once this jump is patched too
        e.bind(slow);
        e.store(STATE, slot(RAX), RAX);
        e.leaRip(RAX, siteLabel);
        e.store(STATE, NativeState.EXIT_SITE, RAX);
        e.movImm64(RAX, rip);
        e.store(STATE, NativeState.RIP, RAX);
        e.movImm32(RAX, reason << COUNT_BITS | count);
        e.jmp(common);
        if (chainable && count > 0) exits.add(new Exit(rip, count, site, chain, chainJump, slow.position()));
    }

    /** Emits the common exit tail and the budget exit; the block's code is complete afterwards. */
    public void finish() {
        if (finished) throw new IllegalStateException("frame already finished");
        finished = true;
        e.bind(common);
        for (int r = 1; r < 16; r++) {
            if (resident(r)) e.store(STATE, slot(r), r);
        }
        e.pushfq();
        e.pop(RCX);
        e.aluRI(EXT_AND, RCX, (int) NativeState.ARITH_FLAGS);
        e.store(STATE, NativeState.FLAGS, RCX);
        e.aluRR(MOV, false, RCX, RAX);
        e.shift(EXT_SHR, RCX, COUNT_BITS);
        e.aluRI(EXT_AND, RAX, (1 << COUNT_BITS) - 1);
        e.store(STATE, NativeState.EXIT_REASON, RCX);
        e.store(STATE, NativeState.EXIT_COUNT, RAX);
        e.aluMemReg(SUB, STATE, NativeState.BUDGET, RAX);
        e.aluRR(MOV, true, RAX, RCX);
        epilogue();
        e.bind(budgetExit);
        e.storeImm32(STATE, NativeState.EXIT_REASON, EXIT_BUDGET);
        e.storeImm32(STATE, NativeState.EXIT_COUNT, 0);
        e.movImm32(RAX, EXIT_BUDGET);
        epilogue();
        e.bind(chainBudget); // from the chain entry: flags in AX, RAX in its slot, no instruction of this block run
        e.restoreFlagsFromAx();
        e.movImm64(RAX, rip);
        e.store(STATE, NativeState.RIP, RAX);
        e.storeImm32(STATE, NativeState.EXIT_SITE, 0);
        e.movImm32(RAX, EXIT_BUDGET << COUNT_BITS);
        e.jmp(common);
    }

    // --- emustack: an exit to a RIP the block computed (RET) ---

    /**
     * Emits an exit path whose RIP the block has already stored in the state's RIP slot (a RET's popped address):
     * {@code count} instructions completed, for {@code reason}. Never chained (its target is not known when the
     * code is written): the exit site is recorded as 0, so that no earlier run's site is taken for this one.
     * Changes no flag before the common tail has stored them.
     */
    public void exitToStoredRip(int count, int reason) {
        if (finished) throw new IllegalStateException("frame already finished");
        if (count <= 0 || count >= 1 << COUNT_BITS || reason < EXIT_BRANCH || reason > EXIT_STOP) {
            throw new IllegalArgumentException("exit after " + count + " for reason " + reason);
        }
        e.store(STATE, slot(RAX), RAX);
        e.storeImm32(STATE, NativeState.EXIT_SITE, 0);
        e.movImm32(RAX, reason << COUNT_BITS | count);
        e.jmp(common);
    }

    private void epilogue() {
        for (int i = SAVED.length - 1; i >= 0; i--) e.pop(SAVED[i]);
        e.ret();
    }
}
