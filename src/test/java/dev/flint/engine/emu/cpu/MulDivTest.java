package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * MUL IMUL DIV IDIV in all operand sizes, including 128-by-64-bit division.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class MulDivTest {
    @Test
    void matchesHardware() {
        check("mul rbx", "48f7e3", regs(RAX, 0xfedcba9876543210L, RBX, 0x123456789L), 0x202, D,
                regs(RAX, 0xcccccccce1833a90L, RDX, 0x121fa00acL), 0x801, 0x801, D);
        check("imul rbx", "48f7eb", regs(RAX, 0xfedcba9876543210L, RBX, 0x123456789L), 0x202, D,
                regs(RAX, 0xcccccccce1833a90L, RDX, 0xfffffffffeb49923L), 0x801, 0x801, D);
        check("mul ebx", "f7e3", regs(RAX, 0x80000000L, RBX, 0xffffffffL), 0x202, D,
                regs(RDX, 0x7fffffffL), 0x801, 0x801, D);
        check("imul ebx", "f7eb", regs(RAX, 0x80000000L, RBX, 0xffffffffL), 0x202, D,
                regs(), 0x801, 0x801, D);
        check("mul bl", "f6e3", regs(RAX, 0x80L, RBX, 0xffL), 0x202, D,
                regs(RAX, 0x7f80L), 0x801, 0x801, D);
        check("imul bl", "f6eb", regs(RAX, 0x80L, RBX, 0xffL), 0x202, D,
                regs(), 0x801, 0x801, D);
        check("mul bx", "66f7e3", regs(RAX, 0x1234L, RBX, 0x5678L), 0x202, D,
                regs(RAX, 0x60L, RDX, 0x626L), 0x801, 0x801, D);
        check("imul bx", "66f7eb", regs(RAX, 0x1234L, RBX, 0x5678L), 0x202, D,
                regs(RAX, 0x60L, RDX, 0x626L), 0x801, 0x801, D);
        check("imul rax, rbx, -3", "486bc3fd", regs(RBX, 0x4000000000000000L), 0x202, D,
                regs(RAX, 0x4000000000000000L), 0x801, 0x801, D);
        check("imul ecx, edx", "0fafca", regs(RCX, 0x10000L, RDX, 0x10000L), 0x202, D,
                regs(RCX, 0x0L), 0x801, 0x801, D);
        check("div rcx", "48f7f1", regs(RAX, 0x123456789abcdef0L, RDX, 0x5L, RCX, 0x1000000007L), 0x202, D,
                regs(RAX, 0x51234567L, RDX, 0x662c5f91fL), 0x0, 0x0, D);
        check("idiv rcx", "48f7f9", regs(RAX, 0xfffffffffffffff9L, RDX, 0xffffffffffffffffL, RCX, 0x2L), 0x202, D,
                regs(RAX, 0xfffffffffffffffdL), 0x0, 0x0, D);
        check("idiv rcx", "48f7f9", regs(RAX, 0x0L, RDX, 0xfffffffffffffff0L, RCX, 0x7000000000000000L), 0x202, D,
                regs(RAX, 0xffffffffffffffdcL, RDX, 0xc000000000000000L), 0x0, 0x0, D);
        check("div ecx", "f7f1", regs(RAX, 0xffffffffL, RDX, 0x3L, RCX, 0x10L), 0x202, D,
                regs(RAX, 0x3fffffffL, RDX, 0xfL), 0x0, 0x0, D);
        check("idiv cl", "f6f9", regs(RAX, 0xff85L, RCX, 0x7L), 0x202, D,
                regs(RAX, 0xfcefL), 0x0, 0x0, D);
        check("div bx", "66f7f3", regs(RAX, 0x1234L, RDX, 0x12L, RBX, 0x100L), 0x202, D,
                regs(RAX, 0x1212L, RDX, 0x34L), 0x0, 0x0, D);
    }
}
