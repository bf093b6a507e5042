package dev.flint.engine.emu.nativecode;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs real x86-64 code out of a {@link CodeCache}: functions emitted with {@link X64Emitter}, entered through
 * the cache's downcall handles with the System V convention (arguments in RDI, RSI; result in RAX).
 */
class CodeCacheTest {
    private static final FunctionDescriptor LONG_OF_LONG = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG);
    private static final FunctionDescriptor LONG_OF_2_LONGS = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG);

    private CodeCache cache;

    @BeforeEach
    void open() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        cache = CodeCache.create(64 * 1024);
    }

    @AfterEach
    void close() {
        if (cache != null) cache.close();
    }

    private static long call(MethodHandle h, long a) throws Throwable {
        return (long) h.invokeExact(a);
    }

    private static long call(MethodHandle h, long a, long b) throws Throwable {
        return (long) h.invokeExact(a, b);
    }

    /** mov eax, imm32; ret: a function returning {@code value}. */
    private static X64Emitter returning(int value) {
        X64Emitter e = new X64Emitter();
        e.movImm32(RAX, value);
        e.ret();
        return e;
    }

    @Test
    void addsItsTwoArguments() throws Throwable {
        X64Emitter e = new X64Emitter();
        e.aluRR(MOV, true, RAX, RDI);
        e.aluRR(ADD, true, RAX, RSI);
        e.ret();
        MethodHandle add = cache.entry(cache.install(e), LONG_OF_2_LONGS);
        assertEquals(42, call(add, 40, 2));
        assertEquals(0, call(add, -1, 1));
        assertEquals(Long.MIN_VALUE, call(add, Long.MAX_VALUE, 1));
    }

    @Test
    void loadsAndStoresThroughABaseRegister() throws Throwable {
        X64Emitter e = new X64Emitter();
        e.load(RAX, RDI, 0);            // rax = p[0]
        e.load(RCX, RDI, 8);            // rcx = p[1]
        e.aluRR(ADD, true, RAX, RCX);
        e.store(RDI, 16, RAX);          // p[2] = p[0] + p[1]
        e.movImm32(RDX, 24);
        e.loadIndexed(R8, RDI, RDX);    // r8 = p[3]
        e.shift(EXT_SHL, R8, 4);
        e.storeIndexed(RDI, RDX, R8);   // p[3] <<= 4
        e.storeImm32(RDI, 32, -7);      // p[4] = -7
        e.ret();
        MethodHandle f = cache.entry(cache.install(e), LONG_OF_LONG);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(40, 8);
            p.setAtIndex(JAVA_LONG, 0, 0x1234_5678_9ABCL);
            p.setAtIndex(JAVA_LONG, 1, 0x1111_0000_0001L);
            p.setAtIndex(JAVA_LONG, 3, 0x0F00_0000_0000_0003L);
            assertEquals(0x2345_5678_9ABDL, call(f, p.address()));
            assertEquals(0x2345_5678_9ABDL, p.getAtIndex(JAVA_LONG, 2));
            assertEquals(0xF000_0000_0000_0030L, p.getAtIndex(JAVA_LONG, 3), "shifted left by 4, the top nibble out");
            assertEquals(-7L, p.getAtIndex(JAVA_LONG, 4));
        }
    }

    @Test
    void runsALoopWithABackwardJump() throws Throwable {
        X64Emitter e = new X64Emitter();
        e.aluRR(MOV, false, RCX, RDI);  // ecx = n (n >= 1)
        e.aluRR(XOR, false, RAX, RAX);
        Label loop = new Label();
        e.bind(loop);
        e.aluRR(ADD, true, RAX, RCX);
        e.dec32(RCX);
        e.jcc(CC_NZ, loop);
        e.ret();
        MethodHandle sum = cache.entry(cache.install(e), LONG_OF_LONG);
        assertEquals(1, call(sum, 1));
        assertEquals(5050, call(sum, 100));
        assertEquals(5_000_050_000L, call(sum, 100_000));
    }

    @Test
    void aJumpChainsFromOneInstalledBlockIntoAnother() throws Throwable {
        X64Emitter tail = new X64Emitter();
        tail.lea(RAX, RDI, 1000);
        tail.ret();
        long tailAt = cache.install(tail);

        X64Emitter head = new X64Emitter();
        head.shift(EXT_SHL, RDI, 1);
        head.jmpTo(tailAt);
        long headAt = cache.install(head);
        assertNotEquals(tailAt, headAt);

        assertEquals(1005, call(cache.entry(tailAt, LONG_OF_LONG), 5));
        assertEquals(1010, call(cache.entry(headAt, LONG_OF_LONG), 5), "head doubles, then the tail adds 1000");
    }

    @Test
    void aPatchedJumpRedirectsCodeThatAlreadyRan() throws Throwable {
        long one = cache.install(returning(1));
        long two = cache.install(returning(2));
        X64Emitter head = new X64Emitter();
        head.jmpTo(one);
        long headAt = cache.install(head);
        MethodHandle h = cache.entry(headAt, LONG_OF_LONG);
        assertEquals(1, call(h, 0));

        // Chaining after the fact: the jump's rel32 rewritten to the other block, through the writable view.
        X64Emitter relinked = new X64Emitter();
        relinked.jmpTo(two);
        cache.write(headAt, relinked.linkedAt(headAt));
        assertEquals(2, call(h, 0));
    }

    @Test
    void oneEntryStubRunsAnyBlock() throws Throwable {
        // How a tier enters translated code without a downcall handle per block: the cache's stub jumps to it.
        X64Emitter doubled = new X64Emitter();
        doubled.lea(RAX, RDI, 0);
        doubled.aluRR(ADD, true, RAX, RDI);
        doubled.ret();
        long twice = cache.install(doubled);
        long seven = cache.install(returning(7));
        assertEquals(42, cache.enter(twice, 21));
        assertEquals(7, cache.enter(seven, 21));
        assertThrows(IndexOutOfBoundsException.class, () -> cache.enter(0, 1), "the stub itself");
        assertThrows(IndexOutOfBoundsException.class, () -> cache.enter(seven + 16, 1), "past installed code");
    }

    @Test
    void codeRewrittenAfterEntryRunsItsNewBytes() throws Throwable {
        long at = cache.install(returning(7));
        MethodHandle h = cache.entry(at, LONG_OF_LONG);
        assertEquals(7, call(h, 0));
        cache.write(at, returning(8).bytes());
        assertEquals(8, call(h, 0));
    }

    @Test
    void theFlagKeepingIdiomKeepsAllSixArithmeticFlags() {
        // What a translation does around its own checks (round eleven): LAHF; SETO AL ... ADD AL, 7FH; SAHF. Run on
        // the host for every combination of CF PF AF ZF SF OF, with the flags clobbered in between.
        long arith = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x800;
        X64Emitter e = new X64Emitter();
        e.popfqFrom(RDI);               // host flags = the argument (bit 1 set, nothing else outside arith)
        e.saveFlagsToAx();
        e.aluRR(XOR, false, RCX, RCX);  // a check's flags: ZF PF set, CF OF SF AF cleared
        e.restoreFlagsFromAx();
        e.pushfq();
        e.pop(RAX);
        e.aluRI(EXT_AND, RAX, (int) arith);
        e.ret();
        long at = cache.install(e);
        for (int combo = 0; combo < 64; combo++) {
            long flags = 2;
            for (int bit = 0, k = 0; bit < 12; bit++) {
                if ((arith >> bit & 1) != 0 && (combo >> k++ & 1) != 0) flags |= 1L << bit;
            }
            assertEquals(flags & arith, cache.enter(at, flags), "flags " + Long.toHexString(flags));
        }
    }

    @Test
    void installedCodeIsSixteenByteAligned() {
        for (int n = 1; n <= 20; n++) {
            X64Emitter e = new X64Emitter();
            for (int i = 0; i < n; i++) e.push(RAX); // n bytes, odd sizes included
            long at = cache.install(e);
            assertEquals(0, at % CodeCache.ALIGNMENT, "offset " + at);
        }
    }

    @Test
    void aFullCacheFlushesAndReusesItsSpace() throws Throwable {
        try (CodeCache small = CodeCache.create(4096)) {
            assertEquals(4096, small.capacity());
            long first = small.install(returning(100));
            assertEquals(CodeCache.FIRST_CODE, first);
            long last = first;
            int installed = 1;
            while (small.generation() == 0) {
                last = small.install(returning(100 + installed));
                installed++;
            }
            assertEquals((4096 - CodeCache.FIRST_CODE) / CodeCache.ALIGNMENT + 1, installed, "every 16-byte slot used before the flush");
            assertEquals(CodeCache.FIRST_CODE, last, "the flush starts over at the first code offset");
            assertEquals(1, small.flushes());
            // That offset now holds the newest code, not the first function's; the entry stub survived the flush.
            assertEquals(100 + installed - 1, call(small.entry(last, LONG_OF_LONG), 0));
            assertEquals(100 + installed - 1, small.enter(last, 0));
        }
    }

    @Test
    void codeThatJumpsIntoFlushedCodeIsNotInstalled() {
        try (CodeCache small = CodeCache.create(4096)) {
            long target = small.install(returning(1));
            small.reserve(4096 - 80);
            X64Emitter big = new X64Emitter();
            for (int i = 0; i < 100; i++) big.push(RAX);
            big.jmpTo(target);
            assertEquals(-1, small.install(big));
            assertEquals(1, small.generation());
            assertEquals(CodeCache.FIRST_CODE, small.used(), "nothing was written, the room is free again");
        }
    }

    @Test
    void refusesCodeLargerThanTheWholeCache() {
        try (CodeCache small = CodeCache.create(4096)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> small.reserve(4097));
            assertTrue(e.getMessage().contains("does not fit a code cache of 4096 bytes"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> small.reserve(4096 - CodeCache.FIRST_CODE + 1));
            assertEquals(CodeCache.FIRST_CODE, small.reserve(4096 - CodeCache.FIRST_CODE), "the largest code that fits");
            assertEquals(0, small.generation(), "a refused reservation flushes nothing");
        }
        assertThrows(IllegalArgumentException.class, () -> CodeCache.create(CodeCache.MAX_CAPACITY + 1));
    }

    @Test
    void writesOutsideReservedSpaceAreRefused() {
        long at = cache.install(returning(1));
        assertThrows(IndexOutOfBoundsException.class, () -> cache.write(at + 16, new byte[] {(byte) 0xC3}));
        assertThrows(IndexOutOfBoundsException.class, () -> cache.write(-1, new byte[] {(byte) 0xC3}));
        assertThrows(IndexOutOfBoundsException.class, () -> cache.entry(at + 16, LONG_OF_LONG));
    }

    @Test
    void closingUnmapsBothViews() throws IOException {
        long at = cache.install(returning(1));
        String exec = Long.toHexString(cache.address(at) - at) + "-"; // where the executable view starts
        assertTrue(mapsLineStartingWith(exec).contains("r-xs"), "executable view mapped read+execute, shared");
        assertTrue(mapsLineStartingWith(exec).contains("/memfd:flint-code"));
        assertTrue(Files.readString(Path.of("/proc/self/maps")).lines()
                .anyMatch(l -> l.contains("rw-s") && l.contains("/memfd:flint-code")), "writable view mapped read+write, shared");
        cache.close();
        assertEquals("", mapsLineStartingWith(exec));
        assertThrows(IllegalStateException.class, () -> cache.write(at, new byte[] {(byte) 0xC3}));
        cache.close(); // idempotent
        cache = null;
    }

    private static String mapsLineStartingWith(String prefix) throws IOException {
        return Files.readString(Path.of("/proc/self/maps")).lines().filter(l -> l.startsWith(prefix)).findFirst().orElse("");
    }

    @Test
    void otherHostsAreReportedUnavailableInOneLine() {
        assertEquals("native code cache: needs Linux (memfd), host OS is mac os x",
                CodeCache.unavailableReason("Mac OS X", "x86_64").orElseThrow());
        assertEquals("native code cache: needs an x86-64 host, host architecture is aarch64",
                CodeCache.unavailableReason("Linux", "aarch64").orElseThrow());
        assertTrue(CodeCache.unavailableReason("Linux", "amd64").isEmpty());
    }
}
