package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.engine.emu.EmuEngine;
import dev.flint.vmm.Engines;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flint run --kernel K} with Multiboot v1 kernels assembled here (GNU as, ld and objcopy from binutils),
 * on the emu engine, ending through the isa-debug-exit device. The kernels check what the boot loader hands
 * them (EAX magic, the information structure, protected mode with paging off) and print it on COM1.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MultibootRunTest {
    @TempDir Path tmp;

    private final CliRunner cli = new CliRunner(new Engines(List.of(EmuEngine::new)));

    /** Helpers the kernels share: putc/puts/puthex on COM1 (no FIFO polling: Flint's UART never drops). */
    private static final String COMMON = """
            putc:   push %edx
                    mov $0x3f8, %dx
                    out %al, %dx
                    pop %edx
                    ret
            puts:   movb (%edi), %al          # NUL-terminated string at EDI
                    test %al, %al
                    jz 1f
                    call putc
                    inc %edi
                    jmp puts
            1:      ret
            puthex: mov $8, %ecx              # EAX as 8 hex digits
            2:      rol $4, %eax
                    push %eax
                    and $0xf, %al
                    add $'0', %al
                    cmp $'9', %al
                    jbe 3f
                    add $7, %al
            3:      call putc
                    pop %eax
                    loop 2b
                    ret
            nl:     mov $'\\n', %al
                    jmp putc
            exit:   mov $0xf4, %dx            # EAX = the value for isa-debug-exit
                    out %eax, %dx
                    hlt
            fail:   mov $'!', %al
                    call putc
                    mov $0x7f, %eax
                    jmp exit
            """;

    /**
     * An ELF32 Multiboot kernel: checks EAX and CR0 (PE on, PG off), prints the command line, the module's string
     * and contents, mem_upper and each RAM range of the memory map, then writes 0x21 to the debug-exit port.
     */
    private static final String ELF_KERNEL = """
                    .code32
                    .text
                    .globl _start
                    .align 4
                    .long 0x1BADB002, 0x00000003, -(0x1BADB002 + 0x00000003)
            _start: mov $stack_top, %esp
                    cmp $0x2BADB002, %eax
                    jne fail
                    mov %cr0, %eax
                    and $0x80000001, %eax
                    cmp $1, %eax
                    jne fail
                    mov %ebx, %esi
                    testl $(1 << 2), (%esi)   # cmdline present
                    jz fail
                    mov 16(%esi), %edi
                    call puts
                    call nl
                    testl $(1 << 3), (%esi)   # modules present
                    jz fail
                    cmpl $1, 20(%esi)
                    jne fail
                    mov 24(%esi), %ebx
                    mov 8(%ebx), %edi
                    call puts
                    call nl
                    mov (%ebx), %edi
                    mov 4(%ebx), %edx
            4:      cmp %edx, %edi
                    jae 5f
                    movb (%edi), %al
                    call putc
                    inc %edi
                    jmp 4b
            5:      mov 8(%esi), %eax         # mem_upper, KiB
                    call puthex
                    call nl
                    testl $(1 << 6), (%esi)   # memory map present
                    jz fail
                    mov 48(%esi), %ebx        # mmap_addr
                    mov 44(%esi), %edx
                    add %ebx, %edx            # its end
            6:      cmp %edx, %ebx
                    jae 8f
                    cmpl $1, 20(%ebx)         # type 1: RAM
                    jne 7f
                    mov 4(%ebx), %eax
                    call puthex
                    mov $' ', %al
                    call putc
                    mov 12(%ebx), %eax
                    call puthex
                    call nl
            7:      add (%ebx), %ebx
                    add $4, %ebx
                    jmp 6b
            8:      mov $0x21, %eax
                    jmp exit
            """ + COMMON + """
                    .bss
                    .align 16
                    .skip 4096
            stack_top:
            """;

    /**
     * A flat binary that says where to load it (header flag 16, the a.out kludge). The file goes on past
     * load_end with 0xAA bytes that must not be loaded: bss up to bss_end must read as zero.
     */
    private static final String AOUT_KERNEL = """
                    .code32
                    .text
                    .globl _start
            _start: jmp entry
                    .align 4
            header: .long 0x1BADB002, 0x00010002, -(0x1BADB002 + 0x00010002)
                    .long header, _start, load_end, bss_end, entry
            entry:  mov $stack_top, %esp
                    cmp $0x2BADB002, %eax
                    jne fail
                    cmpl $0, bss_probe
                    jne fail
                    mov $msg, %edi
                    call puts
                    mov $3, %eax
                    jmp exit
            """ + COMMON + """
            msg:    .asciz "a.out kludge\\n"
            load_end:
                    .skip 64, 0xAA
            bss_probe:
                    .skip 4096, 0xAA
            stack_top:
            bss_end:
            """;

    @Test
    void elfMultibootKernelGetsCmdlineModuleAndMemoryMapAndEndsWithItsExitValue() throws Exception {
        Path kernel = elfKernel(ELF_KERNEL);
        Path module = Files.writeString(tmp.resolve("module.txt"), "module payload\n");
        CliRunner.Result r = cli.run("run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString(),
                "--initrd", module.toString(), "--cmdline", "hello multiboot", "--debug-exit", "0xf4");
        assertEquals("""
                hello multiboot
                %s
                module payload
                0000FC00
                00000000 0009FC00
                00100000 03F00000
                """.formatted(module), r.stdout(), r.stderr());
        assertEquals((0x21 << 1) | 1, r.exitCode(), r.stderr());
    }

    @Test
    void aoutKludgeKernelIsLoadedWhereItsHeaderSays() throws Exception {
        Path kernel = flatKernel(AOUT_KERNEL);
        CliRunner.Result r = cli.run("run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString(),
                "--debug-exit", "244");
        assertEquals("a.out kludge\n", r.stdout(), r.stderr());
        assertEquals((3 << 1) | 1, r.exitCode(), r.stderr());
    }

    @Test
    void withoutDebugExitTheWriteIsIgnored() throws Exception {
        // Without --debug-exit nothing listens on 0xf4: the kernel goes on past its write, into a triple fault.
        Path kernel = elfKernel("""
                        .code32
                        .text
                        .globl _start
                        .align 4
                        .long 0x1BADB002, 0, -0x1BADB002
                _start: mov $5, %eax
                        mov $0xf4, %dx
                        out %eax, %dx
                        lidt zero
                        int $3
                zero:   .quad 0
                """);
        CliRunner.Result r = cli.run("run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString());
        assertEquals(1, r.exitCode(), r.stderr());
        assertEquals(List.of("flint: the guest triple-faulted (--debug shows the vCPU state)"), r.stderrLines());
    }

    @Test
    void badHeadersAreRefusedWithOneLine() throws Exception {
        assertRefused(flatKernel("""
                        .long 0x1BADB002, 0x00010000, 0x12345678
                """), "Multiboot header checksum is wrong");
        assertRefused(flatKernel("""
                        .long 0x1BADB002, 0x00000010, -(0x1BADB002 + 0x10)
                """), "requires features Flint lacks (header flags 0x10)");
        // Valid header without flag 16 in a file that is not ELF: nothing says where to load it.
        assertRefused(flatKernel("""
                        .long 0x1BADB002, 0, -0x1BADB002
                """), "neither ELF32 nor has a.out-kludge addresses");
        // a.out kludge asking to be loaded over Flint's low-memory tables.
        assertRefused(flatKernel("""
                        .long 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
                        .long 0x1000, 0x1000, 0, 0, 0x1000
                """), "does not fit in guest RAM");
    }

    @Test
    void aDebugExitPortOutsideTheIoSpaceIsAUsageError() throws Exception {
        for (String bad : List.of("0x10000", "port", "-5")) {
            CliRunner.Result r = cli.run("run", "--engine", "emu", "--kernel", elfKernel(ELF_KERNEL).toString(), "--debug-exit", bad);
            assertEquals(2, r.exitCode(), r.stderr());
            assertTrue(r.stderr().contains("--debug-exit"), r.stderr());
        }
    }

    private void assertRefused(Path kernel, String message) {
        CliRunner.Result r = cli.run("run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString(),
                "--debug-exit", "0xf4");
        assertEquals(2, r.exitCode(), r.stderr());
        assertEquals(1, r.stderrLines().size(), r.stderr());
        assertTrue(r.stderr().startsWith("flint: ") && r.stderr().contains(message), r.stderr());
    }

    private Path elfKernel(String source) throws IOException, InterruptedException {
        Path obj = assemble(source);
        Path elf = tmp.resolve("kernel-" + System.nanoTime() + ".elf");
        // A script as kernels have, so that the first segment starts at 1 MiB rather than with the ELF headers below it.
        Path script = Files.writeString(tmp.resolve("kernel.ld"),
                "SECTIONS { . = 0x100000; .text : { *(.text) } .data : { *(.data) } .bss : { *(.bss) } }\n");
        tool("ld", "-m", "elf_i386", "--build-id=none", "-T", script.toString(), "-e", "_start", "-o", elf.toString(), obj.toString());
        return elf;
    }

    /** Linked at 1 MiB, then stripped to the raw bytes from the first instruction on. */
    private Path flatKernel(String source) throws IOException, InterruptedException {
        Path elf = elfKernel(source.contains("_start") ? source : ".globl _start\n_start:\n" + source);
        Path bin = tmp.resolve("kernel-" + System.nanoTime() + ".bin");
        tool("objcopy", "-O", "binary", elf.toString(), bin.toString());
        return bin;
    }

    private Path assemble(String source) throws IOException, InterruptedException {
        Path src = Files.writeString(tmp.resolve("k-" + System.nanoTime() + ".s"), source);
        Path obj = tmp.resolve(src.getFileName() + ".o");
        tool("as", "--32", "-o", obj.toString(), src.toString());
        return obj;
    }

    private static void tool(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
    }
}
