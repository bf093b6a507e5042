package dev.flint.engine.emu.bench;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import dev.flint.engine.emu.GuestClock;
import dev.flint.engine.emu.cpu.Cpu;
import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.engine.emu.cpu.FpuUnit;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A development probe, not a test: enters a bzImage through the 64-bit boot protocol on one emu CPU with
 * no devices but a write-only serial port, and reports how far it gets (decompressor messages, RIP,
 * instruction count, MIPS). Run with
 * {@code java -cp target/classes:target/test-classes dev.flint.engine.emu.bench.KernelEntryProbe BZIMAGE [MAX_INSNS]}.
 * The machine's real boot loader lives in {@code dev.flint.arch.x86}; this one is the minimum to probe
 * the CPU.
 */
public final class KernelEntryProbe {
    private static final long ZERO_PAGE = 0x7000, GDT = 0x6000, CMDLINE = 0x20000, PML4 = 0x9000, LOAD = 0x100000;

    /** Where the decompressor's output (at 16 MiB without KASLR) currently ends, roughly. */
    private static long outputEnd(GuestMemory mem) {
        long end = 0x100_0000L;
        for (long a = 0x100_0000L; a < 0x300_0000L; a += 0x1000) {
            if (mem.readLong(a) != 0 || mem.readLong(a + 0x800) != 0) end = a;
        }
        return end;
    }

    public static void main(String[] args) throws Exception {
        byte[] image = Files.readAllBytes(Path.of(args[0]));
        long max = args.length > 1 ? Long.parseLong(args[1]) : 2_000_000_000L;
        try (GuestMemory mem = GuestMemory.allocate(512L << 20)) {
            int setupSects = image[0x1F1] & 0xFF;
            int pmOffset = (setupSects == 0 ? 4 : setupSects) * 512 + 512;
            mem.write(LOAD, image, pmOffset, image.length - pmOffset);
            int hdrEnd = 0x202 + (image[0x201] & 0xFF);
            mem.write(ZERO_PAGE + 0x1F1, image, 0x1F1, hdrEnd - 0x1F1);
            mem.writeByte(ZERO_PAGE + 0x210, (byte) 0xFF);
            mem.writeByte(ZERO_PAGE + 0x211, (byte) (mem.readByte(ZERO_PAGE + 0x211) | 1));
            byte[] cmd = "earlyprintk=serial,ttyS0,115200 console=ttyS0 nokaslr\0".getBytes();
            mem.write(CMDLINE, cmd);
            mem.writeInt(ZERO_PAGE + 0x228, (int) CMDLINE);
            mem.writeByte(ZERO_PAGE + 0x1E8, (byte) 2);
            mem.writeLong(ZERO_PAGE + 0x2D0, 0);
            mem.writeLong(ZERO_PAGE + 0x2D8, 0x9F000);
            mem.writeInt(ZERO_PAGE + 0x2E0, 1);
            mem.writeLong(ZERO_PAGE + 0x2E4, 0x100000);
            mem.writeLong(ZERO_PAGE + 0x2EC, mem.size() - 0x100000);
            mem.writeInt(ZERO_PAGE + 0x2F4, 1);
            mem.writeLong(PML4, (PML4 + 0x1000) | 3);
            for (int i = 0; i < 4; i++) {
                long pd = PML4 + 0x2000 + i * 0x1000L;
                mem.writeLong(PML4 + 0x1000 + i * 8L, pd | 3);
                for (int j = 0; j < 512; j++) mem.writeLong(pd + j * 8L, ((long) i << 30) + ((long) j << 21) | 0x83);
            }
            mem.writeLong(GDT + 0x10, Segment.code64(0x10).toGdtEntry());
            mem.writeLong(GDT + 0x18, Segment.data(0x18).toGdtEntry());

            StringBuilder line = new StringBuilder();
            Bus ports = new Bus("pio");
            ports.register(0x3F8, 8, new BusDevice() {
                @Override public long read(long offset, int size) { return offset == 5 ? 0x60 : 0; }
                @Override public void write(long offset, int size, long value) {
                    if (offset != 0) return;
                    char c = (char) (value & 0xFF);
                    if (c == '\n') { System.out.println("[serial] " + line); line.setLength(0); }
                    else if (c != '\r') line.append(c);
                }
            }, "serial");
            CpuState st = new CpuState();
            Mmu mmu = new Mmu(st, new PhysicalMemory(mem, new Bus("mmio"), null));
            Cpu cpu = new Cpu(st, mmu, ports, null, new GuestClock(), FpuUnit.none(), 0, 1);
            cpu.boot(new CpuBootState(0, 0, 0, 0, ZERO_PAGE, 0, 0, 0, LOAD + 0x200, 2,
                    Segment.code64(0x10), Segment.data(0x18), Segment.data(0x18), Segment.data(0x18),
                    Segment.data(0x18), Segment.data(0x18), Segment.tss(0x20), Segment.unusable(),
                    GDT, 0x1F, 0, 0, CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_NE,
                    PML4, CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA));
            var threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long t0 = System.nanoTime(), c0 = threads.getCurrentThreadCpuTime();
            long lastReport = 0;
            try {
                while (cpu.statistics().instructions() < max && !cpu.halted()) {
                    cpu.execute(100_000);
                    if (cpu.statistics().instructions() - lastReport >= 100_000_000L) {
                        lastReport = cpu.statistics().instructions();
                        System.out.printf("%,d instructions, rip=%x, decompressed up to ~%x%n",
                                cpu.statistics().instructions(), st.rip, outputEnd(mem));
                    }
                }
            } catch (RuntimeException e) {
                System.out.println("stopped by " + e);
                e.printStackTrace(System.out);
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            double cpuSecs = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
            if (!line.isEmpty()) System.out.println("[serial] " + line);
            System.out.printf("%,d instructions in %.1f s wall, %.1f s CPU (%.1f MIPS per CPU second), halted=%b%n%s%n",
                    cpu.statistics().instructions(), secs, cpuSecs, cpu.statistics().instructions() / cpuSecs / 1e6, cpu.halted(), st.dump());
        }
    }
}
