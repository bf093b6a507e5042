package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.NativeState;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The indirect-jump table's size (docs/emu-native.md, "emuexit2"): the bench guest's RET misses were mostly a slot
 * holding another RIP's entry (1,024 slots indexed by the RIP's low bits). Two call sites whose return addresses lie
 * 4 KiB apart shared a slot: each RET evicted the other's entry and every return went back to Java. With the larger
 * table they have slots of their own and every RET of a warm run is a table hit.
 */
class NativeTableSizeTest {
    /** Offsets in the code: the two call sites' return addresses are {@code 0x00a} and {@code 0x100a}. */
    private static final int SITE2 = 0x1005, F = 0x1100;

    /**
     * {@code mov ecx, 1000; L: call F; jmp S2; ... S2 (0x1005): call F; dec ecx; jnz L; jmp end; ... F: add rax, 1; ret;
     * end: hlt}.
     */
    private static byte[] code() {
        ByteBuffer b = ByteBuffer.allocate(F + 6).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0xB9).putInt(1000);                              // 0x000 mov ecx, 1000
        b.put((byte) 0xE8).putInt(F - 0x00a);                         // 0x005 L: call F (returns to 0x00a)
        b.put((byte) 0xE9).putInt(SITE2 - 0x00f);                     // 0x00a jmp S2
        while (b.position() < SITE2) b.put((byte) 0xCC);
        b.put((byte) 0xE8).putInt(F - (SITE2 + 5));                   // 0x1005 S2: call F (returns to 0x100a)
        b.put((byte) 0xFF).put((byte) 0xC9);                          // 0x100a dec ecx
        b.put((byte) 0x0F).put((byte) 0x85).putInt(0x005 - (SITE2 + 13)); // 0x100c jnz L
        b.put((byte) 0xE9).putInt(F + 5 - (SITE2 + 18));              // 0x1012 jmp end
        while (b.position() < F) b.put((byte) 0xCC);
        b.put((byte) 0x48).put((byte) 0x83).put((byte) 0xC0).put((byte) 0x01).put((byte) 0xC3); // F: add rax, 1; ret
        b.put((byte) 0xF4);                                           // end: hlt
        return b.array();
    }

    @Test
    void returnsTo4KiBApartSitesHitTheTableInAWarmRun() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        assumeTrue(NativeState.IJT_BYTES / 32 > 4096, "the table has more slots than 4 KiB of RIPs");
        byte[] code = code();
        long[] gpr = new long[16];
        gpr[4] = EmuTestRig.STACK_TOP; // rsp
        EmuTestRig.State initial = EmuTestRig.State.of(gpr, 2);
        new EmuTestRig().nativeTier(true).session(code, initial, 0, s -> {
            long end = EmuTestRig.CODE_BASE + code.length; // after the HLT
            long warm = 0;
            for (int run = 0; run < 4; run++) {
                EmuTestRig.reset(s, initial, 0);
                long before = s.cpu().statistics().linkedEntries() + s.cpu().statistics().lookups();
                s.state().halted = false;
                for (int i = 0; i < 100_000 && !s.cpu().halted(); i++) s.cpu().execute(1_000);
                assertEquals(end, s.state().rip, "run " + run + " reached the HLT at the end");
                assertEquals(2000, s.state().gpr[0], "run " + run + ": two calls of F a pass");
                warm = s.cpu().statistics().linkedEntries() + s.cpu().statistics().lookups() - before;
            }
            assertTrue(warm < 50, "Java block entries in a warm run (2,000 RETs through the table): " + warm);
            return null;
        });
    }
}
