package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flint.engine.emu.EmuEngine;
import dev.flint.vmm.Engines;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Builds a 32-bit Multiboot test kernel out of named cases and runs it under Flint's emu engine and under
 * QEMU's TCG, for tests of protected-mode behaviour that must match. Each case's body runs at CPL 0 with
 * flat DS/ES/SS (selector 0x10) and its own GDT entries available; the kernel prints one line per case,
 * {@code NAME ok} if the body ran to its end, or {@code NAME #VV EEEE @OOOO}: the exception vector, its
 * error code and the faulting EIP as an offset from the case's first instruction. A body may print values
 * before that with {@code call show} (a space and EAX in hex). Then the kernel ends
 * through isa-debug-exit with value 0x10.
 *
 * <p>GDT entries from index 3 on are the test's ({@link #descriptor}); the kernel owns 1 (code 0x08: flat
 * 32-bit ring 0) and 2 (data 0x10). Vectors 0-31 go to the reporting handler through interrupt gates,
 * unless a test puts its own gate in the IDT (an {@code idt} entry in {@link #extra}).
 */
final class ProtectedModeKernel {
    /** A case: a name and its body (GNU as, AT&T syntax, may use local labels 1..8 and the symbols in {@link #extra}). */
    record Case(String name, String body) {}

    /** Exit value the kernel writes to isa-debug-exit once every case ran. */
    static final int DONE = 0x10;

    private final List<Long> gdt = new ArrayList<>();
    private final List<Case> cases = new ArrayList<>();
    private final Map<Integer, String> idtOverrides = new LinkedHashMap<>();
    private String extra = "";
    private String data = "";

    ProtectedModeKernel() {
        gdt.add(0L);
        gdt.add(descriptor(0, 0xFFFFF, 0x9A, 0xC)); // 0x08 code
        gdt.add(descriptor(0, 0xFFFFF, 0x92, 0xC)); // 0x10 data
    }

    /** A segment descriptor: base, 20-bit limit, access byte (P, DPL, S, type), flags nibble (G, D/B, L, AVL). */
    static long descriptor(long base, long limit, int access, int flags) {
        return (limit & 0xFFFF) | (base & 0xFF_FFFFL) << 16 | (long) (access & 0xFF) << 40
                | ((limit >> 16) & 0xF) << 48 | (long) (flags & 0xF) << 52 | ((base >> 24) & 0xFF) << 56;
    }

    /** Adds a GDT entry and returns its selector (RPL 0). */
    int gdt(long descriptor) {
        gdt.add(descriptor);
        return (gdt.size() - 1) * 8;
    }

    /** Adds a GDT entry whose value is an assembler expression (a TSS at a symbol, say); returns its selector. */
    int gdtSymbolic(String quadExpression) {
        gdt.add(null);
        symbolic.put(gdt.size() - 1, quadExpression);
        return (gdt.size() - 1) * 8;
    }

    private final Map<Integer, String> symbolic = new LinkedHashMap<>();

    /** Adds a GDT entry for a system segment at {@code symbol} (a TSS, an LDT): byte limit, access byte; returns its selector. */
    int gdtSystem(String symbol, int limit, int access) {
        return gdtSymbolic("""
                mov $%1$s, %%eax
                shl $16, %%eax
                or $0x%2$x, %%eax
                mov %%eax, (%%edi)
                mov $%1$s, %%eax
                mov %%eax, %%edx
                shr $16, %%eax
                and $0xFF, %%eax
                and $0xFF000000, %%edx
                or %%edx, %%eax
                or $0x%3$x, %%eax
                mov %%eax, 4(%%edi)""".formatted(symbol, limit & 0xFFFF, ((access & 0xFF) << 8) | ((limit >> 16) & 0xF) << 16));
    }

    ProtectedModeKernel add(String name, String body) {
        cases.add(new Case(name, body));
        return this;
    }

    /** Code (subroutines, task entry points) assembled after the cases; {@code .data} goes to {@link #data}. */
    ProtectedModeKernel extra(String code) {
        extra += code + "\n";
        return this;
    }

    ProtectedModeKernel data(String text) {
        data += text + "\n";
        return this;
    }

    /** Sets IDT entry {@code vector} from an assembler expression for its 8 bytes (set at run time by the kernel). */
    ProtectedModeKernel idt(int vector, String lowExpr, String highExpr) {
        idtOverrides.put(vector, lowExpr + "," + highExpr);
        return this;
    }

    String source() {
        StringBuilder s = new StringBuilder();
        s.append("""
                        .code32
                        .text
                        .globl _start
                        .align 4
                        .long 0x1BADB002, 0x00000003, -(0x1BADB002 + 0x00000003)
                _start: mov $stack_top, %esp
                        lgdt gdtr
                        ljmp $0x08, $1f
                1:      mov $0x10, %ax
                        mov %ax, %ds
                        mov %ax, %es
                        mov %ax, %fs
                        mov %ax, %gs
                        mov %ax, %ss
                        mov $stack_top, %esp
                        mov %esp, saved_esp
                        # IDT: vectors 0-31 -> stub_N, 32-bit interrupt gates, DPL 0.
                        xor %ecx, %ecx
                2:      mov stubs(,%ecx,4), %eax
                        mov %eax, %edx
                        and $0xFFFF, %eax
                        or $0x00080000, %eax
                        and $0xFFFF0000, %edx
                        or $0x8E00, %edx
                        mov %eax, idt(,%ecx,8)
                        mov %edx, idt+4(,%ecx,8)
                        inc %ecx
                        cmp $32, %ecx
                        jb 2b
                """);
        // Symbolic GDT entries and IDT overrides are filled in at run time (their values need link-time symbols).
        for (Map.Entry<Integer, String> e : symbolic.entrySet()) {
            s.append("        mov $gdt+").append(e.getKey() * 8).append(", %edi\n");
            s.append("        ").append(e.getValue()).append("\n");
        }
        for (Map.Entry<Integer, String> e : idtOverrides.entrySet()) {
            String[] parts = e.getValue().split(",", 2);
            s.append("        movl $(").append(parts[0]).append("), idt+").append(e.getKey() * 8).append("\n");
            s.append("        movl $(").append(parts[1]).append("), idt+").append(e.getKey() * 8 + 4).append("\n");
        }
        s.append("        lidt idtr\n");
        int n = 0;
        for (Case c : cases) {
            s.append("        mov $name_").append(n).append(", %edi\n");
            s.append("        call puts\n");
            s.append("        movl $resume_").append(n).append(", resume\n");
            s.append("        movl $body_").append(n).append(", case_start\n");
            s.append("body_").append(n).append(":\n");
            s.append(c.body()).append("\n");
            s.append("        mov $-1, %eax\n        jmp report\n");
            s.append("resume_").append(n).append(":\n");
            n++;
        }
        s.append("""
                        mov $0x%x, %%eax
                        mov $0xf4, %%dx
                        out %%eax, %%dx
                        hlt
                # Every exception: stub pushes the error code (0 where the CPU pushes none) and the vector.
                fault:  mov (%%esp), %%eax          # through SS as it is: it may be a test's segment
                        mov 4(%%esp), %%ebx
                        mov 8(%%esp), %%ecx
                        jmp report
                # EAX = -1 (ran to the end) or the vector, EBX = error code, ECX = faulting EIP.
                report: ljmp $0x08, $1f
                1:      mov $0x10, %%dx
                        mov %%dx, %%ds
                        mov %%dx, %%es
                        mov %%dx, %%fs
                        mov %%dx, %%gs
                        mov %%dx, %%ss
                        mov saved_esp, %%esp
                        cmp $-1, %%eax
                        jne 2f
                        mov $ok, %%edi
                        call puts
                        jmp *resume
                2:      sub case_start, %%ecx
                        push %%ecx
                        push %%ebx
                        push %%eax
                        mov $' ', %%al
                        call putc
                        mov $'#', %%al
                        call putc
                        pop %%eax
                        mov $2, %%ecx
                        call puthex
                        mov $' ', %%al
                        call putc
                        pop %%eax
                        mov $4, %%ecx
                        call puthex
                        mov $' ', %%al
                        call putc
                        mov $'@', %%al
                        call putc
                        pop %%eax
                        mov $4, %%ecx
                        call puthex
                        mov $'\\n', %%al
                        call putc
                        jmp *resume
                # Prints a space and EAX as 8 hex digits; keeps every register.
                show:   pusha
                        push %%eax
                        mov $' ', %%al
                        call putc
                        pop %%eax
                        mov $8, %%ecx
                        call puthex
                        popa
                        ret
                putc:   push %%edx
                        mov $0x3f8, %%dx
                        out %%al, %%dx
                        pop %%edx
                        ret
                puts:   movb (%%edi), %%al
                        test %%al, %%al
                        jz 1f
                        call putc
                        inc %%edi
                        jmp puts
                1:      ret
                # The low ECX hex digits of EAX.
                puthex: mov %%ecx, %%edx
                        shl $2, %%ecx
                        ror %%cl, %%eax
                        mov %%edx, %%ecx
                2:      rol $4, %%eax
                        push %%eax
                        and $0xf, %%al
                        add $'0', %%al
                        cmp $'9', %%al
                        jbe 3f
                        add $7, %%al
                3:      call putc
                        pop %%eax
                        loop 2b
                        ret
                """.formatted(DONE));
        for (int v = 0; v < 32; v++) {
            boolean err = v == 8 || (v >= 10 && v <= 14) || v == 17;
            s.append("stub_").append(v).append(":");
            if (!err) s.append(" push $0\n");
            else s.append("\n");
            s.append("        push $").append(v).append("\n        jmp fault\n");
        }
        s.append(extra);
        s.append("        .data\n        .align 8\ngdt:\n");
        for (int i = 0; i < gdt.size(); i++) {
            Long d = gdt.get(i);
            s.append("        .quad 0x").append(Long.toHexString(d == null ? 0 : d)).append("\n");
        }
        s.append("gdt_end:\n        .align 8\nidt:    .skip 256 * 8\n");
        s.append("gdtr:   .word gdt_end - gdt - 1\n        .long gdt\n");
        s.append("idtr:   .word 256 * 8 - 1\n        .long idt\n");
        s.append("stubs:\n");
        for (int v = 0; v < 32; v++) s.append("        .long stub_").append(v).append("\n");
        s.append("resume: .long 0\ncase_start: .long 0\nsaved_esp: .long 0\nok:     .asciz \" ok\\n\"\n");
        n = 0;
        for (Case c : cases) s.append("name_").append(n++).append(": .asciz \"").append(c.name()).append("\"\n");
        s.append(data);
        s.append("        .bss\n        .align 16\n        .skip 8192\nstack_top:\n");
        return s.toString();
    }

    /** Assembles and links the kernel (binutils' as and ld) into {@code dir}. */
    Path build(Path dir) throws IOException, InterruptedException {
        Path src = Files.writeString(dir.resolve("kernel.s"), source());
        Path obj = dir.resolve("kernel.o");
        tool("as", "--32", "-o", obj.toString(), src.toString());
        Path script = Files.writeString(dir.resolve("kernel.ld"),
                "SECTIONS { . = 0x100000; .text : { *(.text) } .data : { *(.data) } .bss : { *(.bss) } }\n");
        Path elf = dir.resolve("kernel.elf");
        tool("ld", "-m", "elf_i386", "--build-id=none", "-T", script.toString(), "-e", "_start", "-o", elf.toString(), obj.toString());
        return elf;
    }

    /** What a run printed on COM1 and its exit status. */
    record Run(int exitCode, List<String> lines, String stderr) {}

    static Run runFlint(Path kernel) {
        CliRunner cli = new CliRunner(new Engines(List.of(EmuEngine::standard)));
        CliRunner.Result r = cli.run("run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString(),
                "--debug-exit", "0xf4");
        return new Run(r.exitCode(), r.stdout().lines().toList(), r.stderr());
    }

    /** Whether QEMU's x86-64 system emulator is installed (bin/test installs it). */
    static boolean qemuAvailable() {
        return Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64"));
    }

    /** Runs the kernel under QEMU's TCG (-M pc) with isa-debug-exit at 0xf4, as {@link #runFlint} does. */
    static Run runQemu(Path kernel, Path dir) throws IOException, InterruptedException {
        Path out = dir.resolve("qemu.out"), err = dir.resolve("qemu.err");
        Process p = new ProcessBuilder("qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-m", "64", "-display", "none",
                "-monitor", "none", "-no-reboot", "-serial", "file:" + out, "-kernel", kernel.toString(),
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4")
                .redirectOutput(dir.resolve("qemu.stdout").toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(4, TimeUnit.MINUTES)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("QEMU did not end within 4 minutes: " + Files.readString(out));
        }
        return new Run(p.exitValue(), Files.readAllLines(out), Files.readString(err));
    }

    private static void tool(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
    }
}
