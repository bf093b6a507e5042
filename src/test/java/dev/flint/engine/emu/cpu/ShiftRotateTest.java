package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * Shifts and rotates: SHL SHR SAR ROL ROR RCL RCR SHLD SHRD, count 1, imm and CL.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class ShiftRotateTest {
    @Test
    void matchesHardware() {
        check("shl rax, 1", "48d1e0", regs(RAX, 0xc000000000000001L), 0x202, D,
                regs(RAX, 0x8000000000000002L), 0x81, 0xcc5, D);
        check("shl ebx, cl", "d3e3", regs(RBX, 0x80000001L, RCX, 0x1fL), 0x202, D,
                regs(RBX, 0x80000000L), 0x84, 0x4c5, D);
        check("shl dl, 3", "c0e203", regs(RDX, 0x85L), 0x203, D,
                regs(RDX, 0x28L), 0x4, 0x4c5, D);
        check("shr rax, 1", "48d1e8", regs(RAX, 0xc000000000000001L), 0x202, D,
                regs(RAX, 0x6000000000000000L), 0x805, 0xcc5, D);
        check("shr ebx, cl", "d3eb", regs(RBX, 0x80000001L, RCX, 0x1fL), 0x202, D,
                regs(RBX, 0x1L), 0x0, 0x4c5, D);
        check("shr dl, 3", "c0ea03", regs(RDX, 0x85L), 0x203, D,
                regs(RDX, 0x10L), 0x1, 0x4c5, D);
        check("sar rax, 1", "48d1f8", regs(RAX, 0xc000000000000001L), 0x202, D,
                regs(RAX, 0xe000000000000000L), 0x85, 0xcc5, D);
        check("sar ebx, cl", "d3fb", regs(RBX, 0x80000001L, RCX, 0x1fL), 0x202, D,
                regs(RBX, 0xffffffffL), 0x84, 0x4c5, D);
        check("sar dl, 3", "c0fa03", regs(RDX, 0x85L), 0x203, D,
                regs(RDX, 0xf0L), 0x85, 0x4c5, D);
        check("rol rax, 1", "48d1c0", regs(RAX, 0xc000000000000001L), 0x203, D,
                regs(RAX, 0x8000000000000003L), 0x1, 0x8d5, D);
        check("rol bl, 9", "c0c309", regs(RBX, 0x81L), 0x203, D,
                regs(RBX, 0x3L), 0x1, 0xd5, D);
        check("rol word ptr [0x200000], cl", "66d3042500002000", regs(RCX, 0x5L), 0x202, D,
                regs(), 0x0, 0xd5, "02202233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("ror rax, 1", "48d1c8", regs(RAX, 0xc000000000000001L), 0x203, D,
                regs(RAX, 0xe000000000000000L), 0x1, 0x8d5, D);
        check("ror bl, 9", "c0cb09", regs(RBX, 0x81L), 0x203, D,
                regs(RBX, 0xc0L), 0x1, 0xd5, D);
        check("ror word ptr [0x200000], cl", "66d30c2500002000", regs(RCX, 0x5L), 0x202, D,
                regs(), 0x0, 0xd5, "88002233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("rcl rax, 1", "48d1d0", regs(RAX, 0xc000000000000001L), 0x203, D,
                regs(RAX, 0x8000000000000003L), 0x1, 0x8d5, D);
        check("rcl bl, 9", "c0d309", regs(RBX, 0x81L), 0x203, D,
                regs(), 0x1, 0xd5, D);
        check("rcl word ptr [0x200000], cl", "66d3142500002000", regs(RCX, 0x5L), 0x202, D,
                regs(), 0x0, 0xd5, "01202233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("rcr rax, 1", "48d1d8", regs(RAX, 0xc000000000000001L), 0x203, D,
                regs(RAX, 0xe000000000000000L), 0x1, 0x8d5, D);
        check("rcr bl, 9", "c0db09", regs(RBX, 0x81L), 0x203, D,
                regs(), 0x1, 0xd5, D);
        check("rcr word ptr [0x200000], cl", "66d31c2500002000", regs(RCX, 0x5L), 0x202, D,
                regs(), 0x0, 0xd5, "88002233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("shld rax, rbx, 8", "480fa4d808", regs(RAX, 0x123456789abcdefL, RBX, 0xfedcba9876543210L), 0x202, D,
                regs(RAX, 0x23456789abcdeffeL), 0x1, 0xc5, D);
        check("shrd eax, ebx, cl", "0fadd8", regs(RAX, 0x12345678L, RBX, 0x9abcdef0L, RCX, 0xcL), 0x202, D,
                regs(RAX, 0xef012345L), 0x80, 0xc5, D);
        check("shrd ax, bx, 1", "660facd801", regs(RAX, 0x8001L, RBX, 0x1L), 0x202, D,
                regs(RAX, 0xc000L), 0x85, 0x8c5, D);
        check("shl ecx, cl", "d3e1", regs(RCX, 0xffffffff00000020L), 0x202, D,
                regs(RCX, 0x20L), 0x0, 0xcd5, D);
    }
}
