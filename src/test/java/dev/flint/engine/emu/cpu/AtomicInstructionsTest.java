package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;

/**
 * Atomic read-modify-write: LOCK-prefixed ALU ops, XADD, CMPXCHG (incl. unaligned), CMPXCHG8B/16B.
 * Expected values were taken from the same snippets run natively on an x86-64 host (undefined flags
 * masked out); see {@link RigCases}.
 */
class AtomicInstructionsTest {
    @Test
    void matchesHardware() {
        check("lock xadd qword ptr [0x200008], rax", "f0480fc1042508002000", regs(RAX, 0x3L), 0x202, D,
                regs(RAX, 0xffeeddccbbaa9988L), 0x84, 0xcd5, "00112233445566778b99aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("xadd ecx, edx", "0fc1d1", regs(RCX, 0x1L, RDX, 0x2L), 0x202, D,
                regs(RCX, 0x3L, RDX, 0x1L), 0x4, 0xcd5, D);
        check("lock cmpxchg qword ptr [0x200010], rcx", "f0480fb10c2510002000", regs(RAX, 0xf0e0d0c0b0a09080L, RCX, 0x7L), 0x202, D,
                regs(), 0x44, 0xcd5, "00112233445566778899aabbccddeeff07000000000000000102030405060708");
        check("lock cmpxchg qword ptr [0x200010], rcx", "f0480fb10c2510002000", regs(RAX, 0x1L, RCX, 0x7L), 0x202, D,
                regs(RAX, 0xf0e0d0c0b0a09080L), 0x5, 0xcd5, D);
        check("cmpxchg ebx, ecx", "0fb1cb", regs(RAX, 0x5L, RBX, 0x5L, RCX, 0x9L), 0x202, D,
                regs(RBX, 0x9L), 0x44, 0xcd5, D);
        check("cmpxchg bl, cl", "0fb0cb", regs(RAX, 0x5L, RBX, 0x6L, RCX, 0x9L), 0x202, D,
                regs(RAX, 0x6L), 0x95, 0xcd5, D);
        check("lock cmpxchg word ptr [0x200001], cx", "66f00fb10c2501002000", regs(RAX, 0x3322L, RCX, 0xbeefL), 0x202, D,
                regs(RAX, 0x2211L), 0x4, 0xcd5, D);
        check("lock cmpxchg8b qword ptr [0x200000]", "f00fc70c2500002000", regs(RAX, 0x33221100L, RDX, 0x77665544L, RBX, 0x1L, RCX, 0x2L), 0x202, D,
                regs(), 0x40, 0xcd5, "01000000020000008899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("cmpxchg8b qword ptr [0x200008]", "0fc70c2508002000", regs(RAX, 0x1L, RDX, 0x2L), 0x202, D,
                regs(RAX, 0xbbaa9988L, RDX, 0xffeeddccL), 0x0, 0xcd5, D);
        check("lock cmpxchg16b xmmword ptr [0x200000]", "f0480fc70c2500002000",
                regs(RAX, 0x7766554433221100L, RDX, 0xffeeddccbbaa9988L, RBX, 0x1L, RCX, 0x2L), 0x202, D,
                regs(), 0x40, 0xcd5, "010000000000000002000000000000008090a0b0c0d0e0f00102030405060708");
        check("cmpxchg16b xmmword ptr [0x200010]", "480fc70c2510002000", regs(RAX, 0xf0e0d0c0b0a09080L, RDX, 0x2L), 0x242, D,
                regs(RDX, 0x0807060504030201L), 0x0, 0xcd5, D);
        check("lock or byte ptr [0x200005], 0x11", "f0800c250500200011", regs(), 0x202, D,
                regs(), 0x4, 0xcd5, D);
        check("lock and word ptr [0x200006], bx", "66f0211c2506002000", regs(RBX, 0xf0f0L), 0x202, D,
                regs(), 0x4, 0xcd5, "00112233445560708899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("lock sub dword ptr [0x200004], 9", "f0832c250400200009", regs(), 0x202, D,
                regs(), 0x10, 0xcd5, "001122333b5566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("lock inc qword ptr [0x200000]", "f048ff042500002000", regs(), 0x203, D,
                regs(), 0x1, 0xcd5, "01112233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("lock neg byte ptr [0x200001]", "f0f61c2501002000", regs(), 0x202, D,
                regs(), 0x91, 0xcd5, "00ef2233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("lock bts qword ptr [0x200000], 9", "f0480fba2c250000200009", regs(), 0x202, D,
                regs(), 0x0, 0x1, "00132233445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
        check("lock dec dword ptr [0x200003]", "f0ff0c2503002000", regs(), 0x202, D,
                regs(), 0x0, 0xcd5, "00112232445566778899aabbccddeeff8090a0b0c0d0e0f00102030405060708");
    }
}
