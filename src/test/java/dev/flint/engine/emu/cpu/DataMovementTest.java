package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * Data movement: MOV forms incl. high-byte and REX byte registers, MOVSX/MOVZX/MOVSXD, LEA (incl. RIP-relative), XCHG, PUSH/POP/PUSHF/POPF, ENTER/LEAVE, CBW..CQO, LAHF/SAHF, SETcc, CMOVcc.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class DataMovementTest {
    @Test
    void matchesHardware() {
        check("movsx rax, byte ptr [0x200008]", "480fbe042508002000", regs(), 0x202, D,
                regs(RAX, 0xffffffffffffff88L), 0x0, 0xcd5, D);
        check("movzx ecx, word ptr [0x200008]", "0fb70c2508002000", regs(RCX, 0xffffffffffffffffL), 0x202, D,
                regs(RCX, 0x9988L), 0x0, 0xcd5, D);
        check("movsxd rax, ebx", "4863c3", regs(RBX, 0x80000000L), 0x202, D,
                regs(RAX, 0xffffffff80000000L), 0x0, 0xcd5, D);
        check("movsx eax, bx", "0fbfc3", regs(RBX, 0x8000L, RAX, 0xffffffffffffffffL), 0x202, D,
                regs(RAX, 0xffff8000L), 0x0, 0xcd5, D);
        check("cdqe", "4898", regs(RAX, 0x80000000L), 0x202, D,
                regs(RAX, 0xffffffff80000000L), 0x0, 0xcd5, D);
        check("cqo", "4899", regs(RAX, 0xfffffffffffffffbL), 0x202, D,
                regs(RDX, 0xffffffffffffffffL), 0x0, 0xcd5, D);
        check("cwd", "6699", regs(RAX, 0x8000L, RDX, 0xffffffffffffffffL), 0x202, D,
                regs(), 0x0, 0xcd5, D);
        check("cbw", "6698", regs(RAX, 0x1234ffL), 0x202, D,
                regs(RAX, 0x12ffffL), 0x0, 0xcd5, D);
        check("cwde", "98", regs(RAX, 0xffff00008000L), 0x202, D,
                regs(RAX, 0xffff8000L), 0x0, 0xcd5, D);
        check("cdq", "99", regs(RAX, 0x80000000L, RDX, 0xffffffffffffffffL), 0x202, D,
                regs(RDX, 0xffffffffL), 0x0, 0xcd5, D);
        check("lahf", "9f", regs(RAX, 0x0L), 0x2d7, D,
                regs(RAX, 0xd700L), 0xd5, 0xcd5, D);
        check("sahf", "9e", regs(RAX, 0xd500L), 0x202, D,
                regs(), 0xd5, 0xcd5, D);
        check("mov ah, bh", "88fc", regs(RAX, 0x1111L, RBX, 0xabcdL), 0x202, D,
                regs(RAX, 0xab11L), 0x0, 0xcd5, D);
        check("mov spl, 1", "40b401", regs(), 0x202, D,
                regs(RSP, 0x2ff001L), 0x0, 0xcd5, D);
        check("mov dil, sil", "4088f7", regs(RSI, 0x77L, RDI, 0xffffffffffffffffL), 0x202, D,
                regs(RDI, 0xffffffffffffff77L), 0x0, 0xcd5, D);
        check("movabs rax, 0x123456789abcdef0", "48b8f0debc9a78563412", regs(), 0x202, D,
                regs(RAX, 0x123456789abcdef0L), 0x0, 0xcd5, D);
        check("mov eax, -1", "b8ffffffff", regs(RAX, 0x1234567800000000L), 0x202, D,
                regs(RAX, 0xffffffffL), 0x0, 0xcd5, D);
        check("mov ax, -1", "66b8ffff", regs(), 0x202, D,
                regs(RAX, 0xffffL), 0x0, 0xcd5, D);
        check("lea rax, [rbx+rcx*4+8]", "488d448b08", regs(RBX, 0x1000L, RCX, 0x3L), 0x202, D,
                regs(RAX, 0x1014L), 0x0, 0xcd5, D);
        check("lea eax, [rbx+rcx*8-1]", "8d44cbff", regs(RBX, 0xffffffffffffffffL, RCX, 0x1L), 0x202, D,
                regs(RAX, 0x6L), 0x0, 0xcd5, D);
        check("lea ax, [rbx+rcx]", "668d040b", regs(RBX, 0xffffL, RCX, 0x2L), 0x202, D,
                regs(RAX, 0x1L), 0x0, 0xcd5, D);
        check("lea rax, [rip+0x10]", "488d0510000000", regs(), 0x202, D,
                regs(RAX, 0x100017L), 0x0, 0xcd5, D);
        check("mov rax, [rip+0x100000-7]", "488b05f9ff0f00", regs(), 0x202, D,
                regs(RAX, 0x7766554433221100L), 0x0, 0xcd5, D);
        check("xchg rax, rbx", "4893", regs(RAX, 0x1L, RBX, 0x2L), 0x202, D,
                regs(RAX, 0x2L, RBX, 0x1L), 0x0, 0xcd5, D);
        check("xchg al, bh", "86f8", regs(RAX, 0x11L, RBX, 0x2200L), 0x202, D,
                regs(RAX, 0x22L, RBX, 0x1100L), 0x0, 0xcd5, D);
        check("xchg r8, rax", "4990", regs(R8, 0x5L, RAX, 0x6L), 0x202, D,
                regs(RAX, 0x5L, R8, 0x6L), 0x0, 0xcd5, D);
        check("xchg qword ptr [0x200000], rax", "4887042500002000", regs(RAX, 0x55L), 0x202, D,
                regs(RAX, 0x7766554433221100L), 0x0, 0xcd5, "55000000000000008899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("push rbx; pop rax", "5358", regs(RBX, 0x1234L), 0x202, D,
                regs(RAX, 0x1234L), 0x0, 0xcd5, D);
        check("push 0x80; pop rcx", "688000000059", regs(), 0x202, D,
                regs(RCX, 0x80L), 0x0, 0xcd5, D);
        check("push -1; pop cx", "6aff6659", regs(), 0x202, D,
                regs(RCX, 0xffffL, RSP, 0x2feffaL), 0x0, 0xcd5, D);
        check("pushfq; pop rax", "9c58", regs(), 0x2d7, D,
                regs(RAX, 0x2d7L), 0xd5, 0xcd5, D);
        check("push rbx; popfq", "539d", regs(RBX, 0x8d5L), 0x202, D,
                regs(), 0x8d5, 0xcd5, D);
        check("enter 16, 0; mov rax, rsp; leave", "c81000004889e0c9", regs(RBP, 0x1234L), 0x202, D,
                regs(RAX, 0x2fefe8L), 0x0, 0xcd5, D);
        check("enter 8, 2; mov rax, rsp; mov rbx, [rsp+8]; leave", "c80800024889e0488b5c2408c9", regs(RBP, 0x2fe000L), 0x202, D,
                regs(RAX, 0x2fefe0L, RBX, 0x2feff8L), 0x0, 0xcd5, D);
        check("setz al", "0f94c0", regs(RAX, 0x1234L), 0x242, D,
                regs(RAX, 0x1201L), 0x40, 0xcd5, D);
        check("setl bl", "0f9cc3", regs(), 0xa02, D,
                regs(RBX, 0x1L), 0x800, 0xcd5, D);
        check("setbe cl", "0f96c1", regs(), 0x203, D,
                regs(RCX, 0x1L), 0x1, 0xcd5, D);
        check("setnp dl", "0f9bc2", regs(RDX, 0xffffffffffffffffL), 0x206, D,
                regs(RDX, 0xffffffffffffff00L), 0x4, 0xcd5, D);
        check("cmovnz rax, rbx", "480f45c3", regs(RAX, 0x1L, RBX, 0x2L), 0x242, D,
                regs(), 0x40, 0xcd5, D);
        check("cmovz eax, ebx", "0f44c3", regs(RAX, 0xffffffffffffffffL, RBX, 0x2L), 0x202, D,
                regs(RAX, 0xffffffffL), 0x0, 0xcd5, D);
        check("cmovg ecx, edx", "0f4fca", regs(RCX, 0x1L, RDX, 0x2L), 0x202, D,
                regs(RCX, 0x2L), 0x0, 0xcd5, D);
        check("stc; cmc", "f9f5", regs(), 0x202, D,
                regs(), 0x0, 0xcd5, D);
        check("std; cld", "fdfc", regs(), 0x202, D,
                regs(), 0x0, 0xcd5, D);
        check("stc", "f9", regs(), 0x202, D,
                regs(), 0x1, 0xcd5, D);
    }
}
