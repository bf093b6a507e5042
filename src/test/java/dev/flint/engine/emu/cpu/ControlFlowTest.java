package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * Branches and calls: Jcc, JMP/CALL direct and indirect, RET, LOOPcc, JRCXZ.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class ControlFlowTest {
    @Test
    void matchesHardware() {
        check("clc; jc 1f; mov eax, 1; 1: nop", "f87205b80100000090", regs(), 0x202, D,
                regs(RAX, 0x1L), 0x0, 0xcd5, D);
        check("cmp rax, rbx; jl 1f; mov eax, 1; 1: nop", "4839d87c05b80100000090", regs(RAX, 0xffffffffffffffffL, RBX, 0x1L), 0x202, D,
                regs(), 0x80, 0xcd5, D);
        check("cmp eax, ebx; jbe 1f; mov ecx, 7; 1: nop", "39d87605b90700000090", regs(RAX, 0xffffffffffffffffL, RBX, 0x1L), 0x202, D,
                regs(RCX, 0x7L), 0x80, 0xcd5, D);
        check("mov ecx, 3; 1: add eax, 2; loop 1b", "b90300000083c002e2fb", regs(), 0x202, D,
                regs(RAX, 0x6L), 0x4, 0xcd5, D);
        check("call 1f; 1: pop rax", "e80000000058", regs(), 0x202, D,
                regs(RAX, 0x100005L), 0x0, 0xcd5, D);
        check("lea rbx, [rip+2f]; call rbx; jmp 3f; 2: mov ecx, 9; ret; 3: nop", "488d1d04000000ffd3eb06b909000000c390", regs(), 0x202, D,
                regs(RCX, 0x9L, RBX, 0x10000bL), 0x0, 0xcd5, D);
        check("mov rcx, 0; jrcxz 1f; inc eax; 1: nop", "48c7c100000000e302ffc090", regs(), 0x202, D,
                regs(), 0x0, 0xcd5, D);
        check("mov ecx, 5; 1: dec edx; loopnz 1b", "b905000000ffcae0fc", regs(RDX, 0x3L), 0x202, D,
                regs(RCX, 0x2L, RDX, 0x0L), 0x44, 0xcd5, D);
        check("lea rax, [rip+1f]; jmp rax; mov ebx, 1; 1: nop", "488d0507000000ffe0bb0100000090", regs(), 0x202, D,
                regs(RAX, 0x10000eL), 0x0, 0xcd5, D);
        check("push 0; lea rax, [rip+1f]; mov [rsp], rax; ret; ud2; 1: nop", "6a00488d050700000048890424c30f0b90", regs(), 0x202, D,
                regs(RAX, 0x100010L), 0x0, 0xcd5, D);
        check("lea rax, [rip+1f]; push rax; ret 0; 1: nop", "488d050400000050c2000090", regs(), 0x202, D,
                regs(RAX, 0x10000bL), 0x0, 0xcd5, D);
        check("xor eax, eax; jz 1f; .byte 0xff, 0xff; 1: jmp 2f; 2: nop", "31c07402ffffeb0090", regs(), 0x202, D,
                regs(), 0x44, 0xcd5, D);
    }
}
