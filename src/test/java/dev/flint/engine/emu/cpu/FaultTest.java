package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.RigCases.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Instructions that must fault, with the vector, error code and RIP hardware gives. */
class FaultTest {
    private static void assertFault(String code, int cpl, int vector, int errorCode, long rip, long... regs) {
        EmuTestRig.Result r = runFaulting(code, regs, cpl);
        assertEquals(EmuTestRig.Stop.FAULT, r.stop(), code);
        assertEquals(vector, r.faultVector(), code);
        assertEquals(errorCode, r.errorCode(), code);
        assertEquals(rip, r.state().rip(), code + ": RIP of the faulting instruction");
    }

    private static final long BASE = EmuTestRig.CODE_BASE;

    @Test
    void undefinedOpcodes() {
        assertFault("0f0b", 3, GuestFault.UD, 0, BASE);                   // ud2
        assertFault("f001d8", 3, GuestFault.UD, 0, BASE);                 // lock add eax, ebx (register destination)
        assertFault("0f01d0", 0, GuestFault.UD, 0, BASE);                 // xgetbv: no XSAVE
        assertFault("90f20f2ac0", 3, GuestFault.UD, 0, BASE + 1);         // SSE without FPU units
    }

    @Test
    void privilegedInstructionsAtCpl3() {
        assertFault("0f20c0", 3, GuestFault.GP, 0, BASE);                 // mov rax, cr0
        assertFault("f4", 3, GuestFault.GP, 0, BASE);                     // hlt
        assertFault("fa", 3, GuestFault.GP, 0, BASE);                     // cli (IOPL 0)
        assertFault("e480", 3, GuestFault.GP, 0, BASE);                   // in al, 0x80
        assertFault("0f30", 3, GuestFault.GP, 0, BASE);                   // wrmsr
        assertFault("0f01142500002000", 3, GuestFault.GP, 0, BASE);       // lgdt [0x200000]
    }

    @Test
    void trapFlagTrapsAfterTheFollowingInstruction() {
        // pushfq; or qword [rsp], 0x100; popfq; nop; nop: POPF sets TF, the first NOP then traps.
        EmuTestRig.Result r = runFaulting("9c48810c24000100009d9090", new long[0], 3);
        assertEquals(EmuTestRig.Stop.FAULT, r.stop());
        assertEquals(GuestFault.DB, r.faultVector());
        assertEquals(BASE + 11, r.state().rip(), "the trap reports the instruction after the first NOP");
    }

    @Test
    void arithmeticAndAddressFaults() {
        assertFault("48f7f1", 3, GuestFault.DE, 0, BASE);                 // div rcx, rcx = 0
        assertFault("48f7f1", 3, GuestFault.DE, 0, BASE, RDX, 1, RCX, 1); // quotient overflow
        assertFault("48b80000000000000080488b00", 3, GuestFault.GP, 0, BASE + 10); // non-canonical load
        assertFault("488b042500004000", 3, GuestFault.PF, 4, BASE);      // beyond the mapped 4 MiB: user read
        assertFault("66b830128ed8", 0, GuestFault.GP, 0x1230, BASE + 4); // mov ds, 0x1230 beyond the GDT limit
        assertFault("66b834128ed8", 0, GuestFault.GP, 0x1234, BASE + 4); // mov ds, 0x1234: no LDT loaded
        assertFault("0f32", 0, GuestFault.GP, 0, BASE, RCX, 0x12345);    // rdmsr of an unknown MSR
        assertFault("480fc70c2508002000", 3, GuestFault.GP, 0, BASE);    // cmpxchg16b [0x200008]: not 16-byte aligned
        assertFault("480fc7c9", 3, GuestFault.UD, 0, BASE);              // cmpxchg16b with a register operand
    }
}
