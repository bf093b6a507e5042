package dev.flint.engine.emu.nativecode;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.function.Consumer;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Each encoding family against bytes derived by hand from the Intel SDM volume 2 (chapter 2's REX / ModRM / SIB
 * layout and the opcode tables of chapter 3-5). The comment on each line is the derivation: REX = 0100WRXB,
 * ModRM = mod(2) reg(3) rm(3), SIB = scale(2) index(3) base(3), immediates and displacements little-endian.
 */
class X64EmitterTest {
    private static String emit(Consumer<X64Emitter> body) {
        X64Emitter e = new X64Emitter();
        body.accept(e);
        return HexFormat.ofDelimiter(" ").formatHex(e.bytes());
    }

    @Test
    void registerToRegisterAlu() {
        // add rax, rcx: REX.W 48, 01 /r, ModRM 11 001(rcx) 000(rax) = C8
        assertEquals("48 01 c8", emit(e -> e.aluRR(ADD, true, RAX, RCX)));
        // xor r8d, edx: REX.B 41 (rm = r8), 31 /r, ModRM 11 010 000 = D0
        assertEquals("41 31 d0", emit(e -> e.aluRR(XOR, false, R8, RDX)));
        // mov r15, r9: REX.WRB 4D, 89 /r, ModRM 11 001 111 = CF
        assertEquals("4d 89 cf", emit(e -> e.aluRR(MOV, true, R15, R9)));
        // cmp ebx, eax: no REX, 39 /r, ModRM 11 000 011 = C3
        assertEquals("39 c3", emit(e -> e.aluRR(CMP, false, RBX, RAX)));
    }

    @Test
    void registerImmediateAlu() {
        // sub rbx, 0x12345678: 48, 81 /5 id, ModRM 11 101 011 = EB
        assertEquals("48 81 eb 78 56 34 12", emit(e -> e.aluRI(EXT_SUB, RBX, 0x12345678)));
        // cmp r12, -1: REX.WB 49, 81 /7, ModRM 11 111 100 = FC
        assertEquals("49 81 fc ff ff ff ff", emit(e -> e.aluRI(EXT_CMP, R12, -1)));
        // and rax, 0xfff: 48 81 /4, ModRM 11 100 000 = E0
        assertEquals("48 81 e0 ff 0f 00 00", emit(e -> e.aluRI(EXT_AND, RAX, 0xFFF)));
    }

    @Test
    void loadsAndStoresAtBasePlusDisplacement() {
        // mov rax, [rdi+8]: 48 8B /r, ModRM 10 000 111 = 87, disp32
        assertEquals("48 8b 87 08 00 00 00", emit(e -> e.load(RAX, RDI, 8)));
        // mov r11, [rsp+0x10]: REX.WR 4C, ModRM 10 011 100 = 9C, SIB 00 100(none) 100(rsp) = 24
        assertEquals("4c 8b 9c 24 10 00 00 00", emit(e -> e.load(R11, RSP, 0x10)));
        // mov rcx, [r12+4]: REX.WB 49, ModRM 10 001 100 = 8C, SIB 24 (r12's low bits are rsp's)
        assertEquals("49 8b 8c 24 04 00 00 00", emit(e -> e.load(RCX, R12, 4)));
        // mov rdx, [r13+0]: REX.WB 49, ModRM 10 010 101 = 95 (mod 10: r13 is a base, not RIP-relative)
        assertEquals("49 8b 95 00 00 00 00", emit(e -> e.load(RDX, R13, 0)));
        // mov [rsi-8], rdx: 48 89 /r, ModRM 10 010 110 = 96
        assertEquals("48 89 96 f8 ff ff ff", emit(e -> e.store(RSI, -8, RDX)));
        // mov qword [rdi+16], 7: 48 C7 /0 id, ModRM 10 000 111 = 87
        assertEquals("48 c7 87 10 00 00 00 07 00 00 00", emit(e -> e.storeImm32(RDI, 16, 7)));
        // lea rax, [rbp-16]: 48 8D /r, ModRM 10 000 101 = 85
        assertEquals("48 8d 85 f0 ff ff ff", emit(e -> e.lea(RAX, RBP, -16)));
    }

    @Test
    void loadsAndStoresAtBasePlusIndex() {
        // mov rax, [rbx+rcx]: 48 8B, ModRM 01 000 100 = 44, SIB 00 001 011 = 0B, disp8 0
        assertEquals("48 8b 44 0b 00", emit(e -> e.loadIndexed(RAX, RBX, RCX)));
        // mov r8, [r13+r9]: REX.WRXB 4F, ModRM 44, SIB 00 001 101 = 0D, disp8 0
        assertEquals("4f 8b 44 0d 00", emit(e -> e.loadIndexed(R8, R13, R9)));
        // mov [rdi+rsi], rax: 48 89, ModRM 44, SIB 00 110 111 = 37
        assertEquals("48 89 44 37 00", emit(e -> e.storeIndexed(RDI, RSI, RAX)));
        // add rax, [rbx+rcx+0x100]: 48 03 /r, ModRM 10 000 100 = 84, SIB 0B, disp32
        assertEquals("48 03 84 0b 00 01 00 00", emit(e -> e.opIndexedDisp(ADD_LOAD, RAX, RBX, RCX, 0x100)));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().loadIndexed(RAX, RBX, RSP));
    }

    @Test
    void shiftsAndSingleRegisterForms() {
        // shr rax, 12: 48 C1 /5 ib, ModRM 11 101 000 = E8
        assertEquals("48 c1 e8 0c", emit(e -> e.shift(EXT_SHR, RAX, 12)));
        // shl r10, 3: REX.WB 49, C1 /4, ModRM 11 100 010 = E2
        assertEquals("49 c1 e2 03", emit(e -> e.shift(EXT_SHL, R10, 3)));
        // dec ecx: FF /1, ModRM 11 001 001 = C9; dec r10d: 41 FF CA
        assertEquals("ff c9", emit(e -> e.dec32(RCX)));
        assertEquals("41 ff ca", emit(e -> e.dec32(R10)));
        // test al, 1: F6 /0 ib; test sil, 0x80 needs a bare REX 40 (else 6 means DH); test r9b, 1: 41 F6 C1 01
        assertEquals("f6 c0 01", emit(e -> e.testByte(RAX, 1)));
        assertEquals("40 f6 c6 80", emit(e -> e.testByte(RSI, 0x80)));
        assertEquals("41 f6 c1 01", emit(e -> e.testByte(R9, 1)));
    }

    @Test
    void immediateMoves() {
        // mov eax, 5: B8+0 id; mov r9d, 1: 41 B9 id
        assertEquals("b8 05 00 00 00", emit(e -> e.movImm32(RAX, 5)));
        assertEquals("41 b9 01 00 00 00", emit(e -> e.movImm32(R9, 1)));
        // mov r14, 0x1122334455667788: REX.WB 49, B8+6 = BE, io
        assertEquals("49 be 88 77 66 55 44 33 22 11", emit(e -> e.movImm64(R14, 0x1122334455667788L)));
    }

    @Test
    void stackAndFlags() {
        // push rbx: 50+3; push r12: 41 54; pop r15: 41 5F; ret C3; pushfq 9C; push rax; popfq: 50 9D
        assertEquals("53 41 54 41 5f c3 9c 50 9d", emit(e -> {
            e.push(RBX);
            e.push(R12);
            e.pop(R15);
            e.ret();
            e.pushfq();
            e.popfqFrom(RAX);
        }));
        // lahf 9F; seto al: 0F 90 /0, ModRM 11 000 000 = C0; add al, 0x7f: 04 ib; sahf 9E
        assertEquals("9f 0f 90 c0 04 7f 9e", emit(e -> {
            e.saveFlagsToAx();
            e.restoreFlagsFromAx();
        }));
    }

    @Test
    void indirectJumpsAndCalls() {
        // jmp rdx: FF /4, ModRM 11 100 010 = E2; jmp r11: 41 FF E3; call rax: FF /2, ModRM 11 010 000 = D0
        assertEquals("ff e2", emit(e -> e.jmpReg(RDX)));
        assertEquals("41 ff e3", emit(e -> e.jmpReg(R11)));
        assertEquals("ff d0", emit(e -> e.callReg(RAX)));
        // jmp qword [rdi+8]: FF /4, ModRM 10 100 111 = A7; jmp qword [r14+0x20]: 41 FF A6
        assertEquals("ff a7 08 00 00 00", emit(e -> e.jmpMem(RDI, 8)));
        assertEquals("41 ff a6 20 00 00 00", emit(e -> e.jmpMem(R14, 0x20)));
    }

    @Test
    void labelJumpsAreRelativeToTheNextInstruction() {
        // A backward jcc: the label at 0, the jnz at 1 (after a nop-sized push), rel32 = 0 - (1 + 6) = -7.
        assertEquals("50 0f 85 f9 ff ff ff", emit(e -> {
            Label top = new Label();
            e.bind(top);
            e.push(RAX);
            e.jcc(CC_NZ, top);
        }));
        // A forward jmp patched when bound: E9 at 0, label at 6 (after ret), rel32 = 6 - 5 = 1.
        assertEquals("e9 01 00 00 00 c3 c3", emit(e -> {
            Label end = new Label();
            e.jmp(end);
            e.ret();
            e.bind(end);
            e.ret();
        }));
        // lea rax, [rip+label] with the label at 0: 48 8D, ModRM 00 000 101 = 05, rel32 = 0 - 7.
        assertEquals("48 8d 05 f9 ff ff ff", emit(e -> {
            Label here = new Label();
            e.bind(here);
            e.leaRip(RAX, here);
        }));
    }

    @Test
    void jumpsIntoTheCacheAreLinkedAtTheirPlace() {
        X64Emitter e = new X64Emitter();
        e.ret();
        e.jmpTo(0x40);
        // Installed at 0x100: the rel32 field ends at 0x100 + 1 + 5 = 0x106, so rel32 = 0x40 - 0x106 = -0xC6.
        assertEquals("c3 e9 3a ff ff ff", HexFormat.ofDelimiter(" ").formatHex(e.linkedAt(0x100)));
        assertEquals(0x40, e.jumpTargets()[0]);
        assertThrows(IllegalStateException.class, e::bytes, "position-dependent code has no position-free bytes");
    }

    @Test
    void wrongCodeIsRefusedRatherThanWritten() {
        X64Emitter unbound = new X64Emitter();
        unbound.jmp(new Label());
        assertThrows(IllegalStateException.class, unbound::bytes);

        X64Emitter twice = new X64Emitter();
        Label l = new Label();
        twice.bind(l);
        assertThrows(IllegalStateException.class, () -> twice.bind(l));
        assertThrows(IllegalArgumentException.class, () -> twice.push(16));
        assertThrows(IllegalArgumentException.class, () -> twice.jcc(16, l));
    }

    // --- emuntlb: sized accesses, memory-operand forms, the soft-TLB probe ---

    @Test
    void sizedLoadsZeroExtendFromBasePlusIndex() {
        // movzx eax, byte [rbx+rcx]: 0F B6 /r, ModRM 01 000 100 = 44, SIB 00 001 011 = 0B, disp8 0
        assertEquals("0f b6 44 0b 00", emit(e -> e.loadSized(1, RAX, RBX, RCX)));
        // movzx r10d, byte [r9+rcx]: REX.RB 45, 0F B6, ModRM 01 010 100 = 54, SIB 00 001 001 = 09
        assertEquals("45 0f b6 54 09 00", emit(e -> e.loadSized(1, R10, R9, RCX)));
        // movzx edx, word [rsi+rdi]: 0F B7, ModRM 01 010 100 = 54, SIB 00 111 110 = 3E
        assertEquals("0f b7 54 3e 00", emit(e -> e.loadSized(2, RDX, RSI, RDI)));
        // mov eax, [rbx+rcx]: 8B (32-bit: clears bits 63:32), ModRM 44, SIB 0B
        assertEquals("8b 44 0b 00", emit(e -> e.loadSized(4, RAX, RBX, RCX)));
        // mov r10, [r9+rcx]: REX.WRB 4D, 8B, ModRM 54, SIB 09
        assertEquals("4d 8b 54 09 00", emit(e -> e.loadSized(8, R10, R9, RCX)));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().loadSized(3, RAX, RBX, RCX));
    }

    @Test
    void sizedStoresAtBasePlusIndex() {
        // mov [rbx+rcx], sil: REX 40 (SIL, not DH), 88 /r, ModRM 01 110 100 = 74, SIB 0B
        assertEquals("40 88 74 0b 00", emit(e -> e.storeSized(1, RBX, RCX, RSI)));
        // mov [rbx+rcx], al: 88, ModRM 01 000 100 = 44, SIB 0B
        assertEquals("88 44 0b 00", emit(e -> e.storeSized(1, RBX, RCX, RAX)));
        // mov [r9+rcx], r10w: 66 (operand size) before REX.RB 45, 89, ModRM 54, SIB 09
        assertEquals("66 45 89 54 09 00", emit(e -> e.storeSized(2, R9, RCX, R10)));
        // mov [rdi+rsi], edx: 89, ModRM 01 010 100 = 54, SIB 00 110 111 = 37
        assertEquals("89 54 37 00", emit(e -> e.storeSized(4, RDI, RSI, RDX)));
        // mov [rbx+rcx], rax: REX.W 48, 89, ModRM 44, SIB 0B
        assertEquals("48 89 44 0b 00", emit(e -> e.storeSized(8, RBX, RCX, RAX)));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().storeSized(16, RBX, RCX, RAX));
    }

    @Test
    void memoryOperandForms() {
        // add rcx, [r8+8]: REX.WB 49, 03 /r, ModRM 10 001 000 = 88, disp32
        assertEquals("49 03 88 08 00 00 00", emit(e -> e.opLoad(ADD_LOAD, RCX, R8, 8)));
        // cmp r11, [rcx+0]: REX.WR 4C, 3B /r, ModRM 10 011 001 = 99, disp32 0
        assertEquals("4c 3b 99 00 00 00 00", emit(e -> e.opLoad(CMP_LOAD, R11, RCX, 0)));
        // lea r11, [r9+rcx]: REX.WRB 4D, 8D /r, ModRM 01 011 100 = 5C, SIB 00 001 001 = 09, disp8 0
        assertEquals("4d 8d 5c 09 00", emit(e -> e.leaIndexed(R11, R9, RCX)));
        // cmp byte [r11+0], 0: REX.B 41, 80 /7 ib, ModRM 10 111 011 = BB, disp32 0, imm8 0
        assertEquals("41 80 bb 00 00 00 00 00", emit(e -> e.cmpByteImm(R11, 0, 0)));
    }

    @Test
    void theLoadProbeSequence() {
        // An 8-byte load at [r9] through the TLB at r8 (row pointer at [r8+0], 1,024 entries), scratch r11 and rcx.
        String probe = emit(e -> {
            Label miss = new Label();
            e.tlbLoad(8, R10, R9, R8, 0, 1023, R11, RCX, false, miss);
            e.bind(miss);
        });
        assertEquals(String.join(" ",
                "4d 8d 99 07 00 00 00",   // lea r11, [r9+7]: the last byte
                "49 c1 eb 0c",            // shr r11, 12: its page number
                "4c 89 c9",               // mov rcx, r9
                "48 c1 e9 08",            // shr rcx, 8
                "48 81 e1 f0 3f 00 00",   // and rcx, 0x3ff0: index * 16
                "49 03 88 00 00 00 00",   // add rcx, [r8+0]: the entry
                "4c 3b 99 00 00 00 00",   // cmp r11, [rcx+0]: its page number
                "0f 85 0c 00 00 00",      // jne miss (past the 12 bytes below)
                "48 8b 89 08 00 00 00",   // mov rcx, [rcx+8]: the addend
                "4d 8b 54 09 00"),        // mov r10, [r9+rcx]
                probe);
    }

    @Test
    void theProbeRefusesRegistersItWouldClobber() {
        Label l = new Label();
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().tlbLoad(8, R10, R9, R9, 0, 1023, R11, RCX, false, l));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().tlbLoad(8, R10, R9, R8, 0, 1023, R11, R11, false, l));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().tlbLoad(8, R10, R9, R8, 0, 1023, R11, RSP, false, l));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().tlbLoad(8, RAX, R9, R8, 0, 1023, R11, RCX, true, l));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().tlbLoad(8, R10, R9, R8, 0, 1000, R11, RCX, false, l));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().tlbLoad(3, R10, R9, R8, 0, 1023, R11, RCX, false, l));
        assertThrows(IllegalArgumentException.class,
                () -> new X64Emitter().tlbStore(8, RCX, R9, R8, 8, 16, 1023, R11, RCX, false, l, l));
    }
}
