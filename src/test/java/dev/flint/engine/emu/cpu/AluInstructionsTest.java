package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * ALU instructions: ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT in all sizes.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class AluInstructionsTest {
    @Test
    void matchesHardware() {
        check("add rax, rbx", "4801d8", regs(RAX, 0x7fffffffffffffffL, RBX, 0x1L), 0x203, D,
                regs(RAX, 0x8000000000000000L), 0x894, 0xcd5, D);
        check("add eax, ebx", "01d8", regs(RAX, 0xffffffff00000005L, RBX, 0x7L), 0x202, D,
                regs(RAX, 0xcL), 0x4, 0xcd5, D);
        check("add al, 0x7f", "047f", regs(RAX, 0x80L), 0x203, D,
                regs(RAX, 0xffL), 0x84, 0xcd5, D);
        check("add ah, bl", "00dc", regs(RAX, 0xff00L, RBX, 0x1L), 0x202, D,
                regs(RAX, 0x0L), 0x55, 0xcd5, D);
        check("add qword ptr [0x200000], rcx", "48010c2500002000", regs(RCX, 0x1122334455667788L), 0x203, D,
                regs(), 0x884, 0xcd5, "88888888888888888899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("adc rax, rbx", "4811d8", regs(RAX, 0x7fffffffffffffffL, RBX, 0x1L), 0x203, D,
                regs(RAX, 0x8000000000000001L), 0x890, 0xcd5, D);
        check("adc eax, ebx", "11d8", regs(RAX, 0xffffffff00000005L, RBX, 0x7L), 0x202, D,
                regs(RAX, 0xcL), 0x4, 0xcd5, D);
        check("adc al, 0x7f", "147f", regs(RAX, 0x80L), 0x203, D,
                regs(RAX, 0x0L), 0x55, 0xcd5, D);
        check("adc ah, bl", "10dc", regs(RAX, 0xff00L, RBX, 0x1L), 0x202, D,
                regs(RAX, 0x0L), 0x55, 0xcd5, D);
        check("adc qword ptr [0x200000], rcx", "48110c2500002000", regs(RCX, 0x1122334455667788L), 0x203, D,
                regs(), 0x880, 0xcd5, "89888888888888888899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("sub rax, rbx", "4829d8", regs(RAX, 0x7fffffffffffffffL, RBX, 0x1L), 0x203, D,
                regs(RAX, 0x7ffffffffffffffeL), 0x0, 0xcd5, D);
        check("sub eax, ebx", "29d8", regs(RAX, 0xffffffff00000005L, RBX, 0x7L), 0x202, D,
                regs(RAX, 0xfffffffeL), 0x91, 0xcd5, D);
        check("sub al, 0x7f", "2c7f", regs(RAX, 0x80L), 0x203, D,
                regs(RAX, 0x1L), 0x810, 0xcd5, D);
        check("sub ah, bl", "28dc", regs(RAX, 0xff00L, RBX, 0x1L), 0x202, D,
                regs(RAX, 0xfe00L), 0x80, 0xcd5, D);
        check("sub qword ptr [0x200000], rcx", "48290c2500002000", regs(RCX, 0x1122334455667788L), 0x203, D,
                regs(), 0x14, 0xcd5, "7899bbddff2144668899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("sbb rax, rbx", "4819d8", regs(RAX, 0x7fffffffffffffffL, RBX, 0x1L), 0x203, D,
                regs(RAX, 0x7ffffffffffffffdL), 0x0, 0xcd5, D);
        check("sbb eax, ebx", "19d8", regs(RAX, 0xffffffff00000005L, RBX, 0x7L), 0x202, D,
                regs(RAX, 0xfffffffeL), 0x91, 0xcd5, D);
        check("sbb al, 0x7f", "1c7f", regs(RAX, 0x80L), 0x203, D,
                regs(RAX, 0x0L), 0x854, 0xcd5, D);
        check("sbb ah, bl", "18dc", regs(RAX, 0xff00L, RBX, 0x1L), 0x202, D,
                regs(RAX, 0xfe00L), 0x80, 0xcd5, D);
        check("sbb qword ptr [0x200000], rcx", "48190c2500002000", regs(RCX, 0x1122334455667788L), 0x203, D,
                regs(), 0x14, 0xcd5, "7799bbddff2144668899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("cmp rax, rbx", "4839d8", regs(RAX, 0x7fffffffffffffffL, RBX, 0x1L), 0x203, D,
                regs(), 0x0, 0xcd5, D);
        check("cmp eax, ebx", "39d8", regs(RAX, 0xffffffff00000005L, RBX, 0x7L), 0x202, D,
                regs(), 0x91, 0xcd5, D);
        check("cmp al, 0x7f", "3c7f", regs(RAX, 0x80L), 0x203, D,
                regs(), 0x810, 0xcd5, D);
        check("cmp ah, bl", "38dc", regs(RAX, 0xff00L, RBX, 0x1L), 0x202, D,
                regs(), 0x80, 0xcd5, D);
        check("cmp qword ptr [0x200000], rcx", "48390c2500002000", regs(RCX, 0x1122334455667788L), 0x203, D,
                regs(), 0x14, 0xcd5, D);
        check("and rax, rbx", "4821d8", regs(RAX, 0xf0f0f0f0f0f0f0f0L, RBX, 0x8f0fL), 0x203, D,
                regs(RAX, 0x8000L), 0x4, 0xcc5, D);
        check("and word ptr [0x200002], 0x8001", "66812425020020000180", regs(), 0x202, D,
                regs(), 0x44, 0xcc5, "00110000445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("or rax, rbx", "4809d8", regs(RAX, 0xf0f0f0f0f0f0f0f0L, RBX, 0x8f0fL), 0x203, D,
                regs(RAX, 0xf0f0f0f0f0f0ffffL), 0x84, 0xcc5, D);
        check("or word ptr [0x200002], 0x8001", "66810c25020020000180", regs(), 0x202, D,
                regs(), 0x80, 0xcc5, "001123b3445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("xor rax, rbx", "4831d8", regs(RAX, 0xf0f0f0f0f0f0f0f0L, RBX, 0x8f0fL), 0x203, D,
                regs(RAX, 0xf0f0f0f0f0f07fffL), 0x84, 0xcc5, D);
        check("xor word ptr [0x200002], 0x8001", "66813425020020000180", regs(), 0x202, D,
                regs(), 0x80, 0xcc5, "001123b3445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("test rax, rbx", "4885d8", regs(RAX, 0xf0f0f0f0f0f0f0f0L, RBX, 0x8f0fL), 0x203, D,
                regs(), 0x4, 0xcc5, D);
        check("test word ptr [0x200002], 0x8001", "66f70425020020000180", regs(), 0x202, D,
                regs(), 0x44, 0xcc5, D);
        check("inc rax", "48ffc0", regs(RAX, 0x7fffffffffffffffL), 0x203, D,
                regs(RAX, 0x8000000000000000L), 0x895, 0xcd5, D);
        check("inc byte ptr [0x200001]", "fe042501002000", regs(), 0x202, D,
                regs(), 0x4, 0xcd5, "00122233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("inc ecx", "ffc1", regs(RCX, 0xffffffff00000000L), 0x202, D,
                regs(RCX, 0x1L), 0x0, 0xcd5, D);
        check("dec rax", "48ffc8", regs(RAX, 0x7fffffffffffffffL), 0x203, D,
                regs(RAX, 0x7ffffffffffffffeL), 0x1, 0xcd5, D);
        check("dec byte ptr [0x200001]", "fe0c2501002000", regs(), 0x202, D,
                regs(), 0x0, 0xcd5, "00102233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("dec ecx", "ffc9", regs(RCX, 0xffffffff00000000L), 0x202, D,
                regs(RCX, 0xffffffffL), 0x94, 0xcd5, D);
        check("neg rax", "48f7d8", regs(RAX, 0x7fffffffffffffffL), 0x203, D,
                regs(RAX, 0x8000000000000001L), 0x91, 0xcd5, D);
        check("neg byte ptr [0x200001]", "f61c2501002000", regs(), 0x202, D,
                regs(), 0x91, 0xcd5, "00ef2233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("neg ecx", "f7d9", regs(RCX, 0xffffffff00000000L), 0x202, D,
                regs(RCX, 0x0L), 0x44, 0xcd5, D);
        check("not rax", "48f7d0", regs(RAX, 0x7fffffffffffffffL), 0x203, D,
                regs(RAX, 0x8000000000000000L), 0x1, 0xcd5, D);
        check("not byte ptr [0x200001]", "f6142501002000", regs(), 0x202, D,
                regs(), 0x0, 0xcd5, "00ee2233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("not ecx", "f7d1", regs(RCX, 0xffffffff00000000L), 0x202, D,
                regs(RCX, 0xffffffffL), 0x0, 0xcd5, D);
    }
}
