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
 * Segment-register loads and segment limit and access-rights checks outside 64-bit mode on the emu engine,
 * with a Multiboot kernel of cases ({@link ProtectedModeKernel}). The loads' checks (type, DPL/RPL, present,
 * table limit: #GP/#SS/#NP with the selector as error code) are compared line for line with QEMU's TCG. The
 * checks of every access against the limit and the rights are compared with what the Intel SDM specifies
 * (vol. 3, 5.3 and 5.7): QEMU's TCG does not make them, so it cannot be the reference there.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SegmentProtectionTest {
    @TempDir Path tmp;

    private static final long BASE = 0x200000; // 2 MiB: RAM nothing else uses

    /** Descriptor-load cases: both QEMU and Flint check these. */
    private static ProtectedModeKernel loads(ProtectedModeKernel k) {
        int roData = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFFFF, 0x90, 0xC));
        int execOnly = k.gdt(ProtectedModeKernel.descriptor(0, 0xFFFFF, 0x98, 0xC));
        int readCode = k.gdt(ProtectedModeKernel.descriptor(0, 0xFFFFF, 0x9A, 0xC));
        int absent = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFFFF, 0x12, 0xC));
        int dpl3 = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFFFF, 0xF2, 0xC));
        int tss = k.gdt(ProtectedModeKernel.descriptor(BASE, 0x67, 0x89, 0));
        int conforming = k.gdt(ProtectedModeKernel.descriptor(0, 0xFFFFF, 0x9E, 0xC));
        int ldt = k.gdtSymbolic("""
                mov $ldt_table, %eax
                shl $16, %eax
                or $0xF, %eax
                mov %eax, (%edi)
                mov $ldt_table, %eax
                mov %eax, %edx
                shr $16, %eax
                and $0xFF, %eax
                and $0xFF000000, %edx
                or %edx, %eax
                or $0x8200, %eax
                mov %eax, 4(%edi)""");
        return k
                .add("load-ds-read-only-data", "mov $" + roData + ", %ax\n mov %ax, %ds")
                .add("load-ds-exec-only-code", "mov $" + execOnly + ", %ax\n mov %ax, %ds")
                .add("load-ds-readable-code", "mov $" + readCode + ", %ax\n mov %ax, %ds")
                .add("load-ds-not-present", "mov $" + absent + ", %ax\n mov %ax, %es")
                .add("load-ds-rpl-above-dpl", "mov $" + (roData | 3) + ", %ax\n mov %ax, %ds")
                .add("load-fs-dpl3-from-cpl0", "mov $" + dpl3 + ", %ax\n mov %ax, %fs")
                .add("load-gs-conforming-rpl3", "mov $" + (conforming | 3) + ", %ax\n mov %ax, %gs")
                .add("load-ds-tss", "mov $" + tss + ", %ax\n mov %ax, %ds")
                .add("load-ds-beyond-gdt", "mov $0x3f8, %ax\n mov %ax, %ds")
                .add("load-ds-from-ldt", "mov $" + ldt + ", %ax\n lldt %ax\n mov $0x0f, %ax\n mov %ax, %ds")
                .add("load-ds-beyond-ldt", "mov $0x14, %ax\n mov %ax, %ds")
                .add("load-ds-null", "xor %eax, %eax\n mov %ax, %ds")
                .add("load-ss-null", "xor %eax, %eax\n mov %ax, %ss")
                .add("load-ss-read-only", "mov $" + roData + ", %ax\n mov %ax, %ss")
                .add("load-ss-code", "mov $" + readCode + ", %ax\n mov %ax, %ss")
                .add("load-ss-dpl3", "mov $" + (dpl3 | 3) + ", %ax\n mov %ax, %ss")
                .add("load-ss-not-present", "mov $" + absent + ", %ax\n mov %ax, %ss")
                .add("pop-ds-exec-only", "push $" + execOnly + "\n pop %ds")
                .add("lds-rpl-above-dpl", "movl $0, far_ptr\n movw $" + (roData | 2) + ", far_ptr+4\n lds far_ptr, %eax")
                .data("far_ptr: .long 0, 0")
                .data(".align 8\nldt_table: .quad 0, 0x" + Long.toHexString(ProtectedModeKernel.descriptor(BASE, 0xFFFFF, 0xF2, 0xC)));
    }

    /** Access cases: the SDM's limit and rights checks on every memory access. */
    private static ProtectedModeKernel accesses(ProtectedModeKernel k) {
        int small = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFF, 0x92, 0x4));
        int roData = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFFFF, 0x90, 0xC));
        int execOnly = k.gdt(ProtectedModeKernel.descriptor(0, 0xFFFFF, 0x98, 0xC));
        int readCode = k.gdt(ProtectedModeKernel.descriptor(0, 0xFFFFF, 0x9A, 0xC));
        int down32 = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFF, 0x96, 0x4));
        int down16 = k.gdt(ProtectedModeKernel.descriptor(BASE, 0xFFF, 0x96, 0x0));
        int granular = k.gdt(ProtectedModeKernel.descriptor(BASE, 0x1, 0x92, 0xC));
        int edge = k.gdtSymbolic("""
                mov $edge_page_end, %eax
                shr $12, %eax
                dec %eax
                mov %eax, %edx
                and $0xFFFF, %eax
                mov %eax, (%edi)
                shr $16, %edx
                and $0xF, %edx
                shl $16, %edx
                or $0x00C09A00, %edx
                mov %edx, 4(%edi)""");
        String ds = "mov $" + small + ", %ax\n mov %ax, %ds\n";
        int mainTss = k.gdtSystem("tss_main", 0x67, 0x89);
        int dfTss = k.gdtSystem("tss_df", 0x67, 0x89);
        k.idt(8, "(" + dfTss + " << 16)", "0x8500");
        return k
                .add("read-at-limit", ds + "mov 0xffc, %eax")
                .add("read-past-limit", ds + "mov 0xffd, %eax")
                .add("byte-past-limit", ds + "movb 0x1000, %al")
                .add("write-past-limit", ds + "movw $1, 0xfff")
                .add("string-past-limit", "mov $" + small + ", %ax\n mov %ax, %es\n mov $0xffe, %edi\n stosl")
                .add("rep-movs-into-limit", "mov $" + small + ", %ax\n mov %ax, %es\n mov $0x100000, %esi\n"
                        + " mov $0xf00, %edi\n mov $0x41, %ecx\n cld\n rep movsl")
                .add("write-read-only", "mov $" + roData + ", %ax\n mov %ax, %ds\n mov (0), %eax\n movl $1, (0)")
                .add("rmw-read-only", "mov $" + roData + ", %ax\n mov %ax, %es\n incl %es:(0)")
                .add("read-readable-code", "mov $" + readCode + ", %ax\n mov %ax, %ds\n mov 0x100000, %eax")
                .add("write-readable-code", "mov $" + readCode + ", %ax\n mov %ax, %ds\n movl $0, 0x100000")
                .add("read-exec-only-cs", "ljmp $" + execOnly + ", $1f\n1: mov %cs:0x100000, %eax")
                .add("expand-down-below", "mov $" + down32 + ", %ax\n mov %ax, %ds\n mov 0xfff, %al")
                .add("expand-down-above", "mov $" + down32 + ", %ax\n mov %ax, %ds\n mov 0x1000, %eax")
                .add("expand-down-16-top", "mov $" + down16 + ", %ax\n mov %ax, %ds\n mov 0xfffc, %eax\n mov 0xfffe, %eax")
                .add("granular-limit", "mov $" + granular + ", %ax\n mov %ax, %ds\n mov 0x1ffc, %eax\n mov 0x1ffd, %eax")
                .add("null-ds-access", "xor %eax, %eax\n mov %ax, %ds\n mov (0), %eax")
                .add("ss-limit-read", "mov $" + small + ", %ax\n mov %ax, %ss\n mov $0x800, %esp\n"
                        + " mov $0xffe, %ebp\n mov (%ebp), %eax")
                .add("ss-push-within-limit", "mov $" + small + ", %ax\n mov %ax, %ss\n mov $0x800, %esp\n push %eax\n pop %eax")
                .add("ss-override-write", "mov $" + small + ", %ax\n mov %ax, %ss\n mov $0x800, %esp\n movl $0, %ss:0x1000")
                .add("far-jump-past-cs-limit", "ljmp $" + edge + ", $edge_page_end")
                .add("near-jump-past-cs-limit", "movl $edge_page_end, case_start\n ljmp $" + edge + ", $edge_jmp")
                .add("run-past-cs-limit", "movl $edge_page_end, case_start\n ljmp $" + edge + ", $edge_run")
                // A push past SS's limit: #SS, whose frame does not fit either: #DF, through a task gate to a
                // task with a good stack, which reports it (error code 0) and its back link to the main task.
                .add("ss-push-past-limit-double-faults", "mov $" + mainTss + ", %ax\n ltr %ax\n mov $" + small
                        + ", %ax\n mov %ax, %ss\n mov $0x1008, %esp\n push %eax")
                .extra("""
                        task_df: movzwl tss_df, %eax
                                call show
                                pop %ebx
                                mov $8, %eax
                                mov case_start, %ecx
                                jmp report
                        """)
                .data(".align 8\ntss_main: .skip 104\n.align 8\ntss_df: .long 0, 0, 0, 0, 0, 0, 0, 0, task_df, 2, 0, 0, 0, 0,"
                        + " tss_df_stack, 0, 0, 0, 0x10, 0x08, 0x10, 0x10, 0x10, 0x10, 0\n.word 0, 104\n.skip 1024\ntss_df_stack:")
                // A page whose last bytes hold a jump out and six NOPs; CS's limit (G=1) ends with the page.
                .extra("""
                        .align 4096
                        .skip 4096 - 8
                edge_jmp: jmp edge_page_end
                edge_run: nop; nop; nop; nop; nop; nop
                edge_page_end: hlt
                """);
    }

    @Test
    void segmentLoadsFaultAsUnderQemu() throws Exception {
        Path kernel = loads(new ProtectedModeKernel()).build(tmp);
        ProtectedModeKernel.Run flint = ProtectedModeKernel.runFlint(kernel);
        List<String> expected = List.of(
                "load-ds-read-only-data ok",
                "load-ds-exec-only-code #0D 0020 @0004",
                "load-ds-readable-code ok",
                "load-ds-not-present #0B 0030 @0004",
                "load-ds-rpl-above-dpl #0D 0018 @0004",
                "load-fs-dpl3-from-cpl0 ok",
                "load-gs-conforming-rpl3 ok",
                "load-ds-tss #0D 0040 @0004",
                "load-ds-beyond-gdt #0D 03F8 @0004",
                "load-ds-from-ldt ok",
                "load-ds-beyond-ldt #0D 0014 @0004",
                "load-ds-null ok",
                "load-ss-null #0D 0000 @0002",
                "load-ss-read-only #0D 0018 @0004",
                "load-ss-code #0D 0028 @0004",
                "load-ss-dpl3 #0D 0038 @0004",
                "load-ss-not-present #0C 0030 @0004",
                "pop-ds-exec-only #0D 0020 @0002",
                "lds-rpl-above-dpl #0D 0018 @0013");
        assertEquals(expected, flint.lines(), flint.stderr());
        assertEquals((ProtectedModeKernel.DONE << 1) | 1, flint.exitCode(), flint.stderr());
        assumeTrue(ProtectedModeKernel.qemuAvailable(), "qemu-system-x86_64 is not installed");
        ProtectedModeKernel.Run qemu = ProtectedModeKernel.runQemu(kernel, tmp);
        assertEquals(qemu.lines(), flint.lines(), "QEMU: " + qemu.stderr());
        assertEquals(qemu.exitCode(), flint.exitCode());
    }

    @Test
    void accessesOutsideTheLimitOrRightsFaultAsTheSdmSays() throws Exception {
        Path kernel = accesses(new ProtectedModeKernel()).build(tmp);
        ProtectedModeKernel.Run flint = ProtectedModeKernel.runFlint(kernel);
        assertEquals(List.of(
                "read-at-limit ok",
                "read-past-limit #0D 0000 @0006",
                "byte-past-limit #0D 0000 @0006",
                "write-past-limit #0D 0000 @0006",
                "string-past-limit #0D 0000 @000B",
                "rep-movs-into-limit #0D 0000 @0016",
                "write-read-only #0D 0000 @000B",
                "rmw-read-only #0D 0000 @0006",
                "read-readable-code ok",
                "write-readable-code #0D 0000 @0006",
                "read-exec-only-cs #0D 0000 @0007",
                "expand-down-below #0D 0000 @0006",
                "expand-down-above ok",
                "expand-down-16-top #0D 0000 @000B",
                "granular-limit #0D 0000 @000B",
                "null-ds-access #0D 0000 @0004",
                "ss-limit-read #0C 0000 @0010",
                "ss-push-within-limit ok",
                "ss-override-write #0C 0000 @000B",
                "far-jump-past-cs-limit #0D 0000 @0000",
                "near-jump-past-cs-limit #0D 0000 @FFF8",
                "run-past-cs-limit #0D 0000 @0000",
                "ss-push-past-limit-double-faults 00000058 #08 0000 @0000"), flint.lines(), flint.stderr());
        assertEquals((ProtectedModeKernel.DONE << 1) | 1, flint.exitCode(), flint.stderr());
    }
}
