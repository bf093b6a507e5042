package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hardware task switches on the emu engine (Intel SDM vol. 3, chapter 7), with a Multiboot kernel of
 * cases ({@link ProtectedModeKernel}) whose output must be the same as under QEMU's TCG: JMP and CALL to a
 * TSS, CALL through a task gate in the GDT, INT and an exception through task gates in the IDT, IRET with
 * NT back to the caller, the busy bits, the back link, NT, CR0.TS and #NM, and the faults of bad switches.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class TaskSwitchTest {
    @TempDir Path tmp;

    /** A 32-bit TSS at {@code name} that starts at {@code entry} on its own stack, EAX = {@code eax}, DS = {@code ds}, the rest flat. */
    private static String tss(String name, String entry, int eax, int ds) {
        return """
                .align 8
                %1$s: .long 0, 0, 0, 0, 0, 0, 0, 0
                        .long %2$s, 0x2, 0x%3$x, 0, 0, 0, %1$s_stack_top, 0, 0, 0
                        .long 0x10, 0x08, 0x10, 0x%4$x, 0x10, 0x10, 0
                        .word 0, 104
                        .skip 1024
                %1$s_stack_top:
                """.formatted(name, entry, eax, ds);
    }

    private static ProtectedModeKernel kernel() {
        ProtectedModeKernel k = new ProtectedModeKernel();
        int main = k.gdtSystem("tss_main", 0x67, 0x89);
        int a = k.gdtSystem("tss_a", 0x67, 0x89);
        int b = k.gdtSystem("tss_b", 0x67, 0x89);
        int c = k.gdtSystem("tss_c", 0x67, 0x89);
        int d = k.gdtSystem("tss_d", 0x67, 0x89);
        int shortTss = k.gdtSystem("tss_a", 0x60, 0x89);
        int gateToB = k.gdt((long) b << 16 | 0x85L << 40);
        int execOnly = k.gdt(ProtectedModeKernel.descriptor(0, 0xFFFFF, 0x98, 0xC));
        int e = k.gdtSystem("tss_e", 0x67, 0x89);
        int t16 = k.gdtSystem("tss16", 0x2B, 0x81);
        int code16 = k.gdtSystem("task16", 0xFFFF, 0x9A);
        int stack16 = k.gdtSystem("tss16_stack", 0xFFFF, 0x92);
        k.idt(0x40, "(" + c + " << 16)", "0x8500");
        // Busy bits: the access byte of a GDT entry (bit 1 of its type).
        String busy = "movzbl gdt+%d+5, %%eax\n and $2, %%eax\n call show\n";
        return k
                .add("ltr", "mov $" + main + ", %ax\n ltr %ax\n str %eax\n call show\n" + busy.formatted(main))
                .add("jmp-to-tss", "ljmp $" + a + ", $0\n" + busy.formatted(main) + busy.formatted(a) + "str %eax\n call show")
                .add("call-to-tss", "lcall $" + b + ", $0\n" + busy.formatted(main) + busy.formatted(b)
                        + "mov %cr0, %eax\n and $8, %eax\n call show\n clts")
                .add("call-through-gdt-task-gate", "lcall $" + gateToB + ", $0\n str %eax\n call show")
                .add("int-through-task-gate", "mov $0x1234, %eax\n int $0x40\n call show\n" + busy.formatted(c))
                .add("exception-through-task-gate", """
                        mov idt+13*8, %%eax
                        mov %%eax, saved_gate
                        mov idt+13*8+4, %%eax
                        mov %%eax, saved_gate+4
                        movl $%d, idt+13*8
                        movl $0x8500, idt+13*8+4
                        mov $0x3f8, %%ax
                        mov %%ax, %%ds""".formatted(d << 16))
                .add("ts-flag-then-nm", "lcall $" + b + ", $0\n fninit")
                // A 16-bit TSS: its task (16-bit code) sets BX and returns; the 16-bit TSS then holds BX and the back link.
                .add("call-to-16-bit-tss", "lcall $" + t16 + ", $0\n movzwl tss16+0x18, %eax\n call show\n"
                        + "movzwl tss16, %eax\n call show\n" + busy.formatted(t16) + "str %eax\n call show")
                .add("jmp-to-busy-tss", "ljmp $" + main + ", $0")
                .add("jmp-to-short-tss", "ljmp $" + shortTss + ", $0")
                .add("iret-nt-without-link", "pushf\n orl $0x4000, (%esp)\n popf\n iret")
                // The new task's DS is execute-only code: #TS(DS) in the new task, at its first instruction
                // (the offset printed is from task_a, where task E starts).
                .add("call-to-task-with-bad-ds", "movl $task_a, case_start\n lcall $" + e + ", $0")
                // Task A: shows its EAX, NT and back link, then jumps back to the main task.
                .extra("""
                        task_a: call show
                                pushf
                                pop %eax
                                and $0x4000, %eax
                                call show
                                movzwl tss_a, %eax
                                call show
                                ljmp $MAIN, $0
                                jmp task_a
                        # Task B: shows NT, its back link and TR, then returns with IRET.
                        task_b: pushf
                                pop %eax
                                and $0x4000, %eax
                                call show
                                movzwl tss_b, %eax
                                call show
                                str %eax
                                call show
                                iret
                                jmp task_b
                        # Task C (INT 0x40): shows its own EAX and NT, returns.
                        task_c: call show
                                pushf
                                pop %eax
                                and $0x4000, %eax
                                call show
                                iret
                                jmp task_c
                        # Task D (#GP): shows the error code on its stack and its back link, puts the reporting
                        # gate back, returns; the faulting instruction then runs again and faults through it.
                        task_d: pop %eax
                                call show
                                movzwl tss_d, %eax
                                call show
                                mov saved_gate, %eax
                                mov %eax, idt+13*8
                                mov saved_gate+4, %eax
                                mov %eax, idt+13*8+4
                                iret
                                jmp task_d
                                .code16
                        task16: mov $0x1616, %bx
                                iret
                                jmp task16
                                .code32
                        """.replace("MAIN", Integer.toString(main)))
                .data(".align 8\ntss_main: .skip 104\nsaved_gate: .long 0, 0")
                .data(tss("tss_a", "task_a", 0xA, 0x10))
                .data(tss("tss_b", "task_b", 0xB, 0x10))
                .data(tss("tss_c", "task_c", 0xC, 0x10))
                .data(tss("tss_d", "task_d", 0xD, 0x10))
                .data(tss("tss_e", "task_a", 0xE, execOnly))
                // 16-bit TSS: IP 0 in the 16-bit code segment at task16, FLAGS 2, SP 0x400 in its own stack segment.
                .data(".align 8\ntss16: .word 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0x400, 0, 0, 0\n"
                        + ".word 0x10, " + code16 + ", " + stack16 + ", 0x10, 0\n.align 16\ntss16_stack: .skip 1024");
    }

    @Test
    void taskSwitchesBehaveAsUnderQemu() throws Exception {
        Path kernel = kernel().build(tmp);
        ProtectedModeKernel.Run flint = ProtectedModeKernel.runFlint(kernel);
        List<String> lines = flint.lines();
        assertEquals((ProtectedModeKernel.DONE << 1) | 1, flint.exitCode(), flint.stderr() + lines);
        // What the SDM says, spelled out (selectors: main 0x18, A 0x20, B 0x28, C 0x30, D 0x38, gate 0x48, E 0x58):
        assertEquals("ltr 00000018 00000002 ok", lines.get(0));
        // JMP: A sees NT clear and no back link; back in main, main busy again and A not busy.
        assertEquals("jmp-to-tss 0000000A 00000000 00000000 00000002 00000000 00000018 ok", lines.get(1));
        // CALL: B sees NT and the back link to main; after its IRET, B is free, main busy, CR0.TS set.
        assertEquals("call-to-tss 00004000 00000018 00000028 00000002 00000000 00000008 ok", lines.get(2));
        assertEquals("call-through-gdt-task-gate 00004000 00000018 00000028 00000018 ok", lines.get(3));
        assertEquals("int-through-task-gate 0000000C 00004000 00001234 00000000 ok", lines.get(4));
        assertEquals("exception-through-task-gate 000003F8 00000018 #0D 03F8 @002C", lines.get(5));
        assertEquals("ts-flag-then-nm 00004000 00000018 00000028 #07 0000 @0007", lines.get(6));
        assertEquals("call-to-16-bit-tss 00001616 00000018 00000000 00000018 ok", lines.get(7));
        assertEquals("jmp-to-busy-tss #0D 0018 @0000", lines.get(8));
        assertEquals("jmp-to-short-tss #0A 0040 @0000", lines.get(9));
        assertEquals("iret-nt-without-link #0A 0000 @0009", lines.get(10));
        assertEquals("call-to-task-with-bad-ds #0A 0050 @0000", lines.get(11));
        assertEquals(12, lines.size(), lines.toString());
        assumeTrue(ProtectedModeKernel.qemuAvailable(), "qemu-system-x86_64 is not installed");
        ProtectedModeKernel.Run qemu = ProtectedModeKernel.runQemu(kernel, tmp);
        assertEquals(qemu.exitCode(), flint.exitCode(), "QEMU: " + qemu.stderr());
        assertEquals(qemu.lines().size(), lines.size(), "QEMU: " + qemu.lines());
        // Every line as under QEMU, but for the EIP of a fault after the switch committed: QEMU's TCG reports
        // the CALL that switched (it rolls EIP back to the instruction), the SDM and Flint the new task's
        // first instruction. The fault itself (#TS with DS's selector, in the new task) is the same.
        assertEquals(qemu.lines().subList(0, 11), lines.subList(0, 11), "QEMU: " + qemu.stderr());
        assertTrue(qemu.lines().get(11).startsWith("call-to-task-with-bad-ds #0A 0050 @"), qemu.lines().get(11));
    }

    private static void assertTrue(boolean condition, String message) {
        org.junit.jupiter.api.Assertions.assertTrue(condition, message);
    }
}
