package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * Bit instructions: BT BTS BTR BTC (register and memory bit strings), BSF BSR POPCNT BSWAP.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class BitInstructionsTest {
    @Test
    void matchesHardware() {
        check("bt rax, rbx", "480fa3d8", regs(RAX, 0x8000000000000001L, RBX, 0x3fL), 0x202, D,
                regs(), 0x1, 0x1, D);
        check("bt qword ptr [0x200008], 65", "480fba24250800200041", regs(), 0x202, D,
                regs(), 0x0, 0x1, D);
        check("bt dword ptr [0x200000], ecx", "0fa30c2500002000", regs(RCX, 0x4dL), 0x202, D,
                regs(), 0x0, 0x1, D);
        check("bt dword ptr [0x200010], ecx", "0fa30c2510002000", regs(RCX, 0xfffffffffffffffdL), 0x202, D,
                regs(), 0x1, 0x1, D);
        check("bts rax, rbx", "480fabd8", regs(RAX, 0x8000000000000001L, RBX, 0x3fL), 0x202, D,
                regs(), 0x1, 0x1, D);
        check("bts qword ptr [0x200008], 65", "480fba2c250800200041", regs(), 0x202, D,
                regs(), 0x0, 0x1, "00112233445566778a99aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("bts dword ptr [0x200000], ecx", "0fab0c2500002000", regs(RCX, 0x4dL), 0x202, D,
                regs(), 0x0, 0x1, "001122334455667788b9aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("bts dword ptr [0x200010], ecx", "0fab0c2510002000", regs(RCX, 0xfffffffffffffffdL), 0x202, D,
                regs(), 0x1, 0x1, D);
        check("btr rax, rbx", "480fb3d8", regs(RAX, 0x8000000000000001L, RBX, 0x3fL), 0x202, D,
                regs(RAX, 0x1L), 0x1, 0x1, D);
        check("btr qword ptr [0x200008], 65", "480fba34250800200041", regs(), 0x202, D,
                regs(), 0x0, 0x1, D);
        check("btr dword ptr [0x200000], ecx", "0fb30c2500002000", regs(RCX, 0x4dL), 0x202, D,
                regs(), 0x0, 0x1, D);
        check("btr dword ptr [0x200010], ecx", "0fb30c2510002000", regs(RCX, 0xfffffffffffffffdL), 0x202, D,
                regs(), 0x1, 0x1, "00112233445566778899aabbccddeedf8090a0b0c0d0e0f00102030405060708");
        check("btc rax, rbx", "480fbbd8", regs(RAX, 0x8000000000000001L, RBX, 0x3fL), 0x202, D,
                regs(RAX, 0x1L), 0x1, 0x1, D);
        check("btc qword ptr [0x200008], 65", "480fba3c250800200041", regs(), 0x202, D,
                regs(), 0x0, 0x1, "00112233445566778a99aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("btc dword ptr [0x200000], ecx", "0fbb0c2500002000", regs(RCX, 0x4dL), 0x202, D,
                regs(), 0x0, 0x1, "001122334455667788b9aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("btc dword ptr [0x200010], ecx", "0fbb0c2510002000", regs(RCX, 0xfffffffffffffffdL), 0x202, D,
                regs(), 0x1, 0x1, "00112233445566778899aabbccddeedf8090a0b0c0d0e0f00102030405060708");
        check("bsf rax, rbx", "480fbcc3", regs(RBX, 0x1000L), 0x202, D,
                regs(RAX, 0xcL), 0x0, 0x40, D);
        check("bsr rcx, rdx", "480fbdca", regs(RDX, 0xf0000000000000L), 0x202, D,
                regs(RCX, 0x37L), 0x0, 0x40, D);
        check("bsf eax, ebx", "0fbcc3", regs(RAX, 0x55L, RBX, 0x0L), 0x202, D,
                regs(), 0x40, 0x40, D);
        check("popcnt rax, rbx", "f3480fb8c3", regs(RBX, 0xf0f0f0f0f0f0f0f1L), 0x203, D,
                regs(RAX, 0x21L), 0x0, 0xcd5, D);
        check("popcnt ecx, edx", "f30fb8ca", regs(RDX, 0x0L), 0x2c3, D,
                regs(), 0x40, 0xcd5, D);
        check("bswap eax", "0fc8", regs(RAX, 0xffffffff12345678L), 0x202, D,
                regs(RAX, 0x78563412L), 0x0, 0xcd5, D);
        check("bswap r9", "490fc9", regs(R9, 0x102030405060708L), 0x202, D,
                regs(R9, 0x807060504030201L), 0x0, 0xcd5, D);
    }
}
