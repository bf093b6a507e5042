package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Guest loads and stores inlined into compiled blocks check less on a TLB hit than the interpreter
 * does (Mmu's fixed-size accessors with a fault): one tag compare, made on the page of the access's
 * last byte, rules out an access crossing into the next page, and canonicality is checked only on a
 * miss (only canonical pages are ever cached). These loops run compiled (the rig's replays compile at
 * the first entry and compare with the interpreter) until the access they repeat crosses a page end or
 * leaves the canonical range; each must then fault exactly as the interpreter does.
 */
class CompiledMemoryAccessTest {
    /** The rig's RAM ends at 4 MiB, where its page tables map nothing: a crossing access faults there. */
    private static final long RAM_END = 0x40_0000L;

    @Test
    void aLoadOrStoreCrossingIntoAnUnmappedPageFaultsInCompiledCodeAsInTheInterpreter() {
        // L: ACCESS [rbx]; inc rbx; jmp L, from 64 bytes below the end of RAM: every pass before the
        // crossing one hits the TLB entry of the last page; the crossing one must miss it and fault on the
        // next page (#PF) with nothing written. Were the crossing not seen, the hit would reach past the
        // page, here past the end of guest RAM.
        String[][] accesses = {
            {"488b03", "8"}, {"8b03", "4"}, {"0fb703", "2"},      // mov rax,[rbx]; mov eax,[rbx]; movzx eax,word [rbx]
            {"488913", "8"}, {"8913", "4"}, {"668913", "2"},      // mov [rbx],rdx; mov [rbx],edx; mov [rbx],dx
            {"480303", "8"}, {"0303", "4"},                       // add rax,[rbx]; add eax,[rbx]
        };
        for (String[] access : accesses) {
            int size = Integer.parseInt(access[1]);
            int loop = access[0].length() / 2 + 3 + 2;
            String code = access[0] + "48ffc3" + String.format("eb%02x", 256 - loop);
            long[] gpr = new long[16];
            gpr[3] = RAM_END - 64;
            gpr[2] = 0x1122_3344_5566_7788L;
            EmuTestRig rig = new EmuTestRig().replays(true);
            EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 2),
                    new byte[0], 0, 100_000);
            assertEquals(EmuTestRig.Stop.FAULT, r.stop(), access[0]);
            assertEquals(GuestFault.PF, r.faultVector(), access[0]);
            assertEquals(RAM_END - size + 1, r.state().gpr()[3], access[0] + ": the first access that crosses faults");
            assertEquals(EmuTestRig.CODE_BASE, r.state().rip(), access[0]);
            assertTrue(DecodedBlockTest.OUTCOME_ONLY || rig.statistics().compiledInstructions() > 100, access[0] + " ran compiled");
        }
    }

    @Test
    void aNonCanonicalAddressFaultsInCompiledCodeEvenWhenItsLowBitsNameACachedPage() {
        // L: ACCESS [rbx or rbp]; add rbx/rbp, rcx; jmp L. The first pass uses the data page (now in the
        // TLB); the second adds bit 63, an address whose low 48 bits still name that page: #GP, or #SS
        // through RBP (the stack segment), with the base register as the first pass left it.
        long bad = 0x8000_0000_0000_0000L;
        String[][] accesses = {
            {"488b03", "4801cb", "3", "GP"},       // mov rax,[rbx]
            {"488903", "4801cb", "3", "GP"},       // mov [rbx],rax
            {"0fb603", "4801cb", "3", "GP"},       // movzx eax,byte [rbx]
            {"488b4500", "4801cd", "5", "SS"},     // mov rax,[rbp+0]
            {"48894500", "4801cd", "5", "SS"},     // mov [rbp+0],rax
            {"8b4500", "4801cd", "5", "SS"},       // mov eax,[rbp+0]
        };
        for (String[] access : accesses) {
            int loop = access[0].length() / 2 + 3 + 2;
            String code = access[0] + access[1] + String.format("eb%02x", 256 - loop);
            int base = Integer.parseInt(access[2]);
            long[] gpr = new long[16];
            gpr[base] = EmuTestRig.DATA_BASE + 8;
            gpr[1] = bad;
            EmuTestRig rig = new EmuTestRig().replays(true);
            EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 2),
                    new byte[EmuTestRig.DATA_SIZE], 0, 1_000);
            assertEquals(EmuTestRig.Stop.FAULT, r.stop(), access[0]);
            assertEquals(access[3].equals("SS") ? GuestFault.SS : GuestFault.GP, r.faultVector(), access[0]);
            assertEquals(bad + EmuTestRig.DATA_BASE + 8, r.state().gpr()[base], access[0] + ": the second pass faults");
            assertTrue(rig.statistics().blocksCompiled() >= 1, access[0] + ": the loop was compiled");
        }
    }

    @Test
    void aStoreIntoCodeThatEndsARegionMemberTakesEffectBeforeTheRegionGoesOn() {
        // L: cmp rax, rcx; mov [rbx], edx; S: cmp rdx, rsi; nop; test r8, r8; jnz END; dec r10d;
        // cmovz edx, r9d; jmp L; END. Each pass stores S's own bytes over S (the store ends its block);
        // once R10D is 0 it writes pushfq; pop r8; nop there, whose R8 ends the loop at once (R10 = 0).
        // Compiled, the store is the last instruction of a member of the region at S; the region must leave
        // after it as after any store into code, not go on into S as decoded (it ran the old S until its
        // slice ended: R10 -7 with slices of 64 instructions).
        long[] gpr = new long[16];
        gpr[1] = 0x8000_0000_0000_0000L;
        gpr[2] = 0x90F2_3948L;              // 48 39 f2 90: S as it is
        gpr[3] = EmuTestRig.CODE_BASE + 5;  // S
        gpr[4] = EmuTestRig.STACK_TOP;
        gpr[6] = 1;
        gpr[9] = 0x9058_419CL;              // 9c 41 58 90: pushfq; pop r8; nop
        gpr[10] = 30;
        String code = "4839c8" + "8913" + "4839f290" + "4d85c0" + "7509" + "41ffca" + "410f44d1" + "ebe9";
        EmuTestRig rig = new EmuTestRig().replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 2), new byte[0], 0, 10_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        assertEquals(0, r.state().gpr()[10], "the rewritten S ran on the pass that rewrote it");
        assertTrue(rig.statistics().blocksCompiled() >= 1, "blocks were compiled");
    }

    @Test
    void loadsAndStoresToAnMmioPageFromCompiledCodeReachTheDeviceOnEveryPass() {
        // L: mov eax, [rbx]; add rcx, rax; mov [rbx+8], ecx; movzx esi, byte [rbx+3]; add rcx, rsi;
        // dec edx; jnz L, with RBX on a device page past RAM. Compiled code's TLB hit path goes straight to
        // the RAM segment, so a page that is not RAM must never hit there: every load has to return the
        // device's value and every store reach it (had the page hit, with its host offset of -1, the loads
        // would read RAM below, or past, the segment and the stores never reach the device).
        int passes = 200;
        java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();
        java.util.List<Long> written = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        dev.flint.machine.bus.BusDevice device = new dev.flint.machine.bus.BusDevice() {
            @Override
            public long read(long offset, int size) {
                reads.incrementAndGet();
                return (0x0102_0304_0506_0708L >>> (8 * (offset & 7))) & (size == 8 ? -1L : (1L << (8 * size)) - 1);
            }

            @Override
            public void write(long offset, int size, long value) {
                written.add(offset << 40 | (long) size << 32 | value);
            }
        };
        long[] gpr = new long[16];
        gpr[3] = EmuTestRig.MMIO_BASE + 0x10;
        gpr[2] = passes;
        String code = "8b03" + "4801c1" + "894b08" + "0fb67303" + "4801f1" + "ffca" + "75ed";
        EmuTestRig rig = new EmuTestRig().mmioDevice(0, 4096, device).replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 2), new byte[0], 0, 100_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        long perPass = 0x0506_0708L + 0x05; // the dword at 0x10, the byte at 0x13
        assertEquals(passes * perPass, r.state().gpr()[1], "every load returned the device's value");
        // four runs (the rig's interpreter reference, then three with blocks: built, replayed, compiled)
        assertEquals(4L * 2 * passes, reads.get(), "every load reached the device");
        assertEquals(4 * passes, written.size(), "every store reached the device");
        assertEquals(0x18L << 40 | 4L << 32 | ((passes * perPass - 5) & 0xFFFF_FFFFL), (long) written.get(written.size() - 1),
                "the last store: ECX after the last load of the word, at offset 0x18");
        assertTrue(DecodedBlockTest.OUTCOME_ONLY || rig.statistics().compiledInstructions() > passes, "the loop ran compiled");
    }
}
