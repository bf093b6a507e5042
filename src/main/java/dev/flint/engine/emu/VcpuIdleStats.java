package dev.flint.engine.emu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * How one vCPU thread spends its time outside the guest's instructions: how often it slept in HLT, for how long,
 * and how late it ran after another thread woke it (an IPI, a device interrupt, the timer). Written by the vCPU
 * thread only (plain fields); read by {@link #startWriter}'s thread, which may see them a little stale.
 *
 * <p>A developer's switch: {@code -Dflint.emu.vcpu.stats=FILE} rewrites FILE every 20 ms with one line per
 * vCPU, so a script can copy it at two moments of a guest's run (the bench's BENCH-BOOTED and BENCH-CPU lines)
 * and subtract.
 */
final class VcpuIdleStats {
    static final String PROPERTY = "flint.emu.vcpu.stats";

    /** Parks in HLT. */
    long halts;
    /** Host nanoseconds spent parked in HLT. */
    long haltNanos;
    /** Wake-ups by another thread that found this vCPU parked in HLT. */
    long wakes;
    /** Sum and maximum of the host nanoseconds from such a wake-up to this thread running again. */
    long wakeLatencyNanos;
    long wakeLatencyMax;
    /** Slices run ({@code Cpu.execute} calls). */
    long slices;

    /** System.nanoTime of the last wake-up that found the vCPU parked, 0 when none is pending. */
    volatile long wokenAt;

    /** Starts the writer thread when the property names a file; the thread ends with the JVM (daemon). */
    static void startWriter(List<Vcpu> vcpus) {
        String file = System.getProperty(PROPERTY);
        if (file == null || file.isEmpty()) return;
        Path out = Path.of(file), tmp = Path.of(file + ".tmp");
        Thread.ofPlatform().name("flint-emu-vcpu-stats").daemon(true).start(() -> {
            while (true) {
                var sb = new StringBuilder("vcpu instructions slices halts haltNanos wakes wakeLatencyNanos wakeLatencyMax pauses pauseLoopExits\n");
                for (int i = 0; i < vcpus.size(); i++) {
                    Vcpu v = vcpus.get(i);
                    VcpuIdleStats s = v.idleStats();
                    sb.append(i).append(' ').append(v.cpu().statistics().instructions()).append(' ').append(s.slices)
                            .append(' ').append(s.halts).append(' ').append(s.haltNanos).append(' ').append(s.wakes)
                            .append(' ').append(s.wakeLatencyNanos).append(' ').append(s.wakeLatencyMax)
                            .append(' ').append(v.cpu().pauses()).append(' ').append(v.cpu().pauseLoopExits()).append('\n');
                }
                try {
                    Files.writeString(tmp, sb);
                    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    Thread.sleep(20);
                } catch (IOException | InterruptedException e) {
                    return;
                }
            }
        });
    }
}
