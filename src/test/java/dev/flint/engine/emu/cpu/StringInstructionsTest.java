package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * String instructions with and without REP/REPE/REPNE, both directions, overlapping copies.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class StringInstructionsTest {
    @Test
    void matchesHardware() {
        check("mov ecx, 5; mov rsi, 0x200000; mov rdi, 0x200010; rep movsb", "b90500000048c7c60000200048c7c710002000f3a4", regs(), 0x202, D,
                regs(RSI, 0x200005L, RDI, 0x200015L), 0x0, 0xcd5, "00112233445566778899aabbccddeeff0011223344d0e0f00102030405060708");
        check("mov ecx, 3; mov rdi, 0x200000; mov rax, 0x1122334455667788; rep stosq", "b90300000048c7c70000200048b88877665544332211f348ab", regs(), 0x202, D,
                regs(RAX, 0x1122334455667788L, RDI, 0x200018L), 0x0, 0xcd5, "8877665544332211887766554433221188776655443322110102030405060708");
        check("mov ecx, 8; mov rsi, 0x200000; mov rdi, 0x200010; repe cmpsb", "b90800000048c7c60000200048c7c710002000f3a6", regs(), 0x202, D,
                regs(RCX, 0x7L, RSI, 0x200001L, RDI, 0x200011L), 0x881, 0xcd5, D);
        check("mov ecx, 8; mov rsi, 0x200000; mov rdi, 0x200000; repe cmpsb", "b90800000048c7c60000200048c7c700002000f3a6", regs(), 0x202, D,
                regs(RSI, 0x200008L, RDI, 0x200008L), 0x44, 0xcd5, D);
        check("mov ecx, 20; mov rdi, 0x200000; mov al, 0x99; repne scasb", "b91400000048c7c700002000b099f2ae", regs(), 0x202, D,
                regs(RAX, 0x99L, RCX, 0xaL, RDI, 0x20000aL), 0x44, 0xcd5, D);
        check("mov rsi, 0x200000; lodsd", "48c7c600002000ad", regs(), 0x202, D,
                regs(RAX, 0x33221100L, RSI, 0x200004L), 0x0, 0xcd5, D);
        check("mov rdi, 0x200004; mov ax, 0x7766; scasw", "48c7c70400200066b8667766af", regs(), 0x202, D,
                regs(RAX, 0x7766L, RDI, 0x200006L), 0x4, 0xcd5, D);
        check("mov rsi, 0x200002; mov rdi, 0x200012; std; movsw; movsw; cld", "48c7c60200200048c7c712002000fd66a566a5fc", regs(), 0x202, D,
                regs(RSI, 0x1ffffeL, RDI, 0x20000eL), 0x0, 0xcd5, "00112233445566778899aabbccddeeff00112233c0d0e0f00102030405060708");
        check("mov ecx, 2; mov rsi, 0x200000; mov rdi, 0x200001; rep movsq", "b90200000048c7c60000200048c7c701002000f348a5", regs(), 0x202, D,
                regs(RSI, 0x200010L, RDI, 0x200011L), 0x0, 0xcd5, "0000112233445566777799aabbccddeeff90a0b0c0d0e0f00102030405060708");
        check("mov ecx, 0x18; mov rsi, 0x200000; mov rdi, 0x200002; rep movsb", "b91800000048c7c60000200048c7c702002000f3a4", regs(), 0x202, D,
                regs(RSI, 0x200018L, RDI, 0x20001aL), 0x0, 0xcd5, "0011001100110011001100110011001100110011001100110011030405060708");
        check("mov ecx, 0x1c; mov rsi, 0x200000; mov rdi, 0x200003; rep movsb", "b91c00000048c7c60000200048c7c703002000f3a4", regs(), 0x202, D,
                regs(RSI, 0x20001cL, RDI, 0x20001fL), 0x0, 0xcd5, "0011220011220011220011220011220011220011220011220011220011220008");
        check("mov ecx, 0x1f; mov rdi, 0x200001; mov al, 0x5a; rep stosb", "b91f00000048c7c701002000b05af3aa", regs(), 0x202, D,
                regs(RAX, 0x5aL, RDI, 0x200020L), 0x0, 0xcd5, "005a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
        check("mov ecx, 0; mov rdi, 0x200001; rep stosb", "b90000000048c7c701002000f3aa", regs(), 0x202, D,
                regs(RDI, 0x200001L), 0x0, 0xcd5, D);
        check("mov ecx, 3; mov esi, 0x200000; mov edi, 0x200010; addr32 rep movsd", "b903000000be00002000bf1000200067f3a5", regs(), 0x202, D,
                regs(RSI, 0x20000cL, RDI, 0x20001cL), 0x0, 0xcd5, "00112233445566778899aabbccddeeff00112233445566778899aabb05060708");
        check("mov ecx, 2; mov rsi, 0x200000; mov rdi, 0x200010; rep movsq", "b90200000048c7c60000200048c7c710002000f348a5", regs(), 0x202, D,
                regs(RSI, 0x200010L, RDI, 0x200020L), 0x0, 0xcd5, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        check("mov ecx, 8; mov rsi, 0x200000; mov rdi, 0x200010; rep movsw", "b90800000048c7c60000200048c7c71000200066f3a5", regs(), 0x202, D,
                regs(RSI, 0x200010L, RDI, 0x200020L), 0x0, 0xcd5, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        check("mov ecx, 4; mov rdi, 0x200004; mov eax, 0xa5a5a5a5; rep stosd", "b90400000048c7c704002000b8a5a5a5a5f3ab", regs(), 0x202, D,
                regs(RAX, 0xa5a5a5a5L, RDI, 0x200014L), 0x0, 0xcd5, "00112233a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5c0d0e0f00102030405060708");
    }
}
