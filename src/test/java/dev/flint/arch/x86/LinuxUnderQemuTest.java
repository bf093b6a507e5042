package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Debian's kernel against Flint's boot layout and firmware tables, independent of Flint's engines: the
 * loader fills guest RAM, the RAM is handed to QEMU (TCG, machine "pc") as raw blobs, and a 128 KiB
 * "BIOS" made here holds Flint's ACPI and MP tables and a trampoline from the reset vector straight into
 * Flint's 64-bit boot state. QEMU's own devices stand in for Flint's; two isa-debug-exit devices sit
 * where the FADT's sleep control and reset registers are, so QEMU's exit status shows that Linux
 * powered off or rebooted through them. A hand-made init calls reboot(2). Linux on hardware-reduced ACPI
 * reboots by jumping to the real-mode reset vector; the ROM's trampoline sends that second visit to the
 * loader's reset stub.
 *
 * <p>Needs qemu-system-x86_64 and the kernel (see {@link DebianKernelTest}); about a minute each under TCG.
 */
@Tag("nested")
class LinuxUnderQemuTest {
    private static final long MEMORY = 256L << 20;
    private static final int LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC, LINUX_REBOOT_CMD_RESTART = 0x01234567;
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    @TempDir Path dir;

    @Test
    void poweroffWritesS5ToTheSleepControlRegister() throws Exception {
        String log = boot(2, "", LINUX_REBOOT_CMD_POWER_OFF, (Layout.ACPI_S5_SLEEP_TYPE << 2 | 0x20) << 1 | 1,
                BootLoader.BzImageEntry.DECOMPRESS_IN_GUEST, "-device", "virtio-rng-pci");
        assertTrue(log.matches("(?s).*BAR 4 \\[mem 0x40000\\p{XDigit}+-0x40000\\p{XDigit}+ 64bit pref\\]: assigned.*"),
                "a 64-bit BAR lands in the 64-bit window\n" + log);
        assertTrue(log.contains("smp: Brought up 1 node, 2 CPUs"), log);
        assertTrue(log.contains("ACPI: PM: (supports S0 S5)"), log);
        assertTrue(log.contains("ACPI: PCI Root Bridge [PCI0]"), log);
        assertTrue(log.contains(String.format("root bus resource [mem 0x%08x-0x%08x window]",
                Layout.PCI_MMIO32_BASE, Layout.PCI_MMIO32_BASE + Layout.PCI_MMIO32_SIZE - 1)), log);
        assertTrue(log.contains("ttyS0 at I/O 0x3f8"), log);
        assertTrue(log.contains("i8042: PNP: PS/2 Controller [PNP0303:PS2K] at 0x60,0x64"), log);
        assertTrue(log.contains("rtc_cmos 00:02: registered as rtc0"), log);
        assertTrue(log.contains("reached init"), log);
    }

    @Test
    void hostUnpackedKernelRebootsThroughTheResetRegister() throws Exception {
        String log = boot(1, "", LINUX_REBOOT_CMD_RESTART, Layout.ACPI_RESET_VALUE << 1 | 1,
                BootLoader.BzImageEntry.UNPACK_ON_HOST);
        assertTrue(log.contains("reached init"), log);
    }

    /** Without ACPI, Linux finds the CPUs and interrupt routing in the MP table and reboots through the i8042 (QEMU's). */
    @Test
    void acpiOffBootsFromTheMpTable() throws Exception {
        String log = boot(2, " acpi=off", LINUX_REBOOT_CMD_RESTART, 0, BootLoader.BzImageEntry.DECOMPRESS_IN_GUEST);
        assertTrue(log.contains("found SMP MP-table at [mem 0x000f0000-0x000f000f]"), log);
        assertTrue(log.contains("IOAPIC[0]: apic_id 2"), log);
        assertTrue(log.contains("smp: Brought up 1 node, 2 CPUs"), log);
        assertTrue(log.contains("ttyS0 at I/O 0x3f8 (irq = 4"), log);
        assertTrue(log.contains("reached init"), log);
    }

    private String boot(int cpus, String extraCmdline, int rebootCommand, int expectedExit,
                        BootLoader.BzImageEntry entry, String... qemuArgs) throws Exception {
        assumeTrue(Files.isExecutable(QEMU), "QEMU not installed");
        DebianKernelTest.findKernel();
        Path kernel = DebianKernelTest.kernel();
        assumeTrue(kernel != null, "no Debian kernel in the cache");
        Path initrd = Files.write(dir.resolve("initrd.cpio"), cpio("init", initElf(rebootCommand)));
        try (GuestMemory m = GuestMemory.allocate(MEMORY)) {
            // tsc_early_khz: QEMU's TCG CPU gives Linux no TSC frequency, and hardware-reduced ACPI has no PM timer
            // to measure it against (Flint's engines announce the frequency themselves).
            BootImage img = BootLoader.load(m, new BootSpec(kernel, initrd,
                    "console=ttyS0 tsc_early_khz=2000000 panic=-1" + extraCmdline, cpus), PlatformInfo.standard(), entry);
            Files.write(dir.resolve("low.bin"), bytes(m, 0, Layout.EBDA));
            Files.write(dir.resolve("rom.bin"), rom(m, img.entry()));
            try (FileChannel ch = FileChannel.open(dir.resolve("high.bin"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.write(m.slice(Layout.HIMEM, MEMORY - Layout.HIMEM).asByteBuffer());
            }
        }
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(QEMU.toString(), "-M", "pc",
                "-accel", "tcg", "-smp", String.valueOf(cpus), "-m", "256", "-nographic",
                "-no-reboot", "-vga", "none", "-net", "none", "-bios", "rom.bin",
                "-device", "loader,file=low.bin,addr=0,force-raw=on",
                "-device", "loader,file=high.bin,addr=0x100000,force-raw=on",
                "-device", "isa-debug-exit,iobase=" + Layout.ACPI_SLEEP_CONTROL_PORT + ",iosize=1",
                "-device", "isa-debug-exit,iobase=" + Layout.ACPI_RESET_PORT + ",iosize=1"));
        command.addAll(java.util.List.of(qemuArgs));
        Process qemu = new ProcessBuilder(command)
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("console.log").toFile()).start();
        boolean exited = qemu.waitFor(300, TimeUnit.SECONDS);
        if (!exited) qemu.destroyForcibly().waitFor();
        String log = Files.readString(dir.resolve("console.log"), StandardCharsets.ISO_8859_1);
        assertTrue(exited, "QEMU still running after 300 s:\n" + log);
        assertEquals(expectedExit, qemu.exitValue(), log);
        return log;
    }

    private static byte[] bytes(GuestMemory m, long from, long to) {
        byte[] b = new byte[(int) (to - from)];
        m.read(from, b, 0, b.length);
        return b;
    }

    /**
     * The last 128 KiB below 1 MiB as the BIOS image: Flint's ACPI and MP tables as the loader wrote them,
     * plus a trampoline at 0xFF000 that goes from real mode straight to long mode (loading Flint's GDT,
     * page tables and EFER) and jumps to the kernel with RSI = boot_params. Entered again (Linux's reboot), it
     * runs the reset stub the loader put at the reset vector, kept at 0xFF200.
     */
    private static byte[] rom(GuestMemory m, long entry) {
        byte[] rom = bytes(m, 0xE0000, 0x100000);
        ByteBuffer b = ByteBuffer.wrap(rom).order(ByteOrder.LITTLE_ENDIAN);
        int code16 = 0x1F000, code64 = 0x1F080, gdtr = 0x1F100, resetStub = 0x1F200;
        System.arraycopy(rom, 0x1FFF0, rom, resetStub, 16);
        b.putShort(gdtr, (short) 47).putInt(gdtr + 2, (int) Layout.GDT);
        b.position(code16).put(new byte[] {
                (byte) 0xFA,                                                       // cli
                0x31, (byte) 0xC0, (byte) 0x8E, (byte) 0xD8,                       // ds = 0
                (byte) 0x80, 0x3E, (byte) 0xF0, 0x04, 0x5A,                        // cmp byte [0x4F0], 0x5A
                0x0F, (byte) 0x84, (byte) 0xF2, 0x01,                              // je 0xF200 (the reset stub)
                (byte) 0xC6, 0x06, (byte) 0xF0, 0x04, 0x5A,                        // mov byte [0x4F0], 0x5A
                0x66, 0x2E, 0x0F, 0x01, 0x16, 0x00, (byte) 0xF1,                   // lgdt cs:[0xF100]
                0x66, (byte) 0xB8, 0x20, 0, 0, 0, 0x0F, 0x22, (byte) 0xE0,         // cr4 = PAE
                0x66, (byte) 0xB8, 0x00, (byte) 0x90, 0, 0, 0x0F, 0x22, (byte) 0xD8, // cr3 = PML4
                0x66, (byte) 0xB9, (byte) 0x80, 0, 0, (byte) 0xC0, 0x0F, 0x32,     // rdmsr EFER
                0x66, 0x0D, 0x00, 0x01, 0, 0, 0x0F, 0x30,                          // LME, wrmsr
                0x66, (byte) 0xB8, 0x11, 0, 0, (byte) 0x80, 0x0F, 0x22, (byte) 0xC0, // cr0 = PG|ET|PE
                0x66, (byte) 0xEA, (byte) 0x80, (byte) 0xF0, 0x0F, 0x00, 0x10, 0x00}); // jmp 0x10:0xFF080
        b.position(code64).put(new byte[] {
                0x66, (byte) 0xB8, 0x18, 0, (byte) 0x8E, (byte) 0xD8, (byte) 0x8E, (byte) 0xC0, (byte) 0x8E, (byte) 0xD0,
                (byte) 0xBE, 0x00, 0x70, 0, 0,                                     // esi = zero page
                (byte) 0xBC, (byte) 0xF0, (byte) 0x8F, 0, 0,                       // esp = boot stack
                (byte) 0xB8, (byte) entry, (byte) (entry >> 8), (byte) (entry >> 16), (byte) (entry >> 24),
                (byte) 0xFF, (byte) 0xE0});                                        // jmp rax
        b.position(0x1FFF0).put(new byte[] {(byte) 0xEA, 0x00, (byte) 0xF0, 0x00, (byte) 0xF0}); // jmp F000:F000
        return rom;
    }

    /** A static x86-64 ELF that writes "reached init" to fd 1, then calls reboot(2) with {@code command}. */
    private static byte[] initElf(int command) {
        byte[] msg = "reached init\n".getBytes(StandardCharsets.US_ASCII);
        int codeAt = 64 + 56;
        long base = 0x400000;
        ByteBuffer code = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        int msgAt = codeAt + 58;
        code.put(new byte[] {(byte) 0xB8, 1, 0, 0, 0, (byte) 0xBF, 1, 0, 0, 0, (byte) 0xBE})       // write(1, msg, len)
                .putInt((int) (base + msgAt)).put((byte) 0xBA).putInt(msg.length).put(new byte[] {0x0F, 0x05})
                .put(new byte[] {(byte) 0xB8, (byte) 169, 0, 0, 0, (byte) 0xBF}).putInt(0xFEE1DEAD)   // reboot(...)
                .put((byte) 0xBE).putInt(0x28121969).put((byte) 0xBA).putInt(command).put(new byte[] {0x0F, 0x05})
                .put(new byte[] {(byte) 0xEB, (byte) 0xFE});                                        // spin
        int codeLen = code.position();
        assertTrue(codeLen <= 58, "message offset");
        int total = msgAt + msg.length;
        ByteBuffer e = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        e.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1}).position(16);
        e.putShort((short) 2).putShort((short) 62).putInt(1).putLong(base + codeAt).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) 1).putShort((short) 0)
                .putShort((short) 0).putShort((short) 0);
        e.putInt(1).putInt(5).putLong(0).putLong(base).putLong(base).putLong(total).putLong(total).putLong(0x1000);
        e.put(code.array(), 0, codeLen).position(msgAt);
        e.put(msg);
        return e.array();
    }

    /** An uncompressed "newc" cpio archive holding one executable file. */
    private static byte[] cpio(String name, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        cpioEntry(out, name, 0100755, data);
        cpioEntry(out, "TRAILER!!!", 0, new byte[0]);
        return out.toByteArray();
    }

    private static void cpioEntry(ByteArrayOutputStream out, String name, int mode, byte[] data) {
        byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        String header = String.format("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, n.length, 0);
        out.writeBytes(header.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(n);
        pad(out);
        out.writeBytes(data);
        pad(out);
    }

    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 4 != 0) out.write(0);
    }
}
