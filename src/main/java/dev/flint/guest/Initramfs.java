package dev.flint.guest;

import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * The guest root file systems Flint ships: busybox plus an /init script. Both return a builder so callers
 * (tests, the nested-KVM harness) can add kernel modules or files before writing it.
 */
public final class Initramfs {
    private Initramfs() {}

    /** What a marker may contain: it is pasted into a shell script. */
    private static final Pattern SAFE_MARKER = Pattern.compile("[A-Za-z0-9_.:=+-]{1,200}");

    /**
     * Common prologue of every /init: busybox installs its applets as symlinks (the applet list then
     * always matches the binary), the kernel file systems get mounted.
     */
    private static final String PROLOGUE = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev 2>/dev/null
            """;

    /**
     * Counts CPUs the kernel brought online. cpu0 usually has no "online" file (it cannot be unplugged),
     * hence the default of 1.
     */
    private static final String COUNT_CPUS = """
            n=0
            for c in /sys/devices/system/cpu/cpu[0-9]*; do
              [ "$(cat $c/online 2>/dev/null || echo 1)" = 1 ] && n=$((n+1))
            done
            """;

    /**
     * The default guest: an interactive shell on the serial console. {@code cttyhack} makes the console a
     * controlling terminal so job control and Ctrl-C work; when the shell exits the VM powers off.
     */
    public static InitramfsBuilder busyboxShell(Path busybox) {
        String init = PROLOGUE + """
                echo
                echo "Flint guest: busybox $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s). 'poweroff -f' or 'exit' ends the VM."
                setsid cttyhack sh -l
                poweroff -f
                """;
        return base(busybox, init);
    }

    /**
     * A guest for tests: prints {@code marker}, then {@code cpus=N} (online CPUs), then powers off.
     */
    public static InitramfsBuilder marker(String marker, Path busybox) {
        if (!SAFE_MARKER.matcher(marker).matches()) {
            throw new IllegalArgumentException("marker must match " + SAFE_MARKER + ": " + marker);
        }
        String init = PROLOGUE + "echo " + marker + "\n" + COUNT_CPUS + """
                echo "cpus=$n"
                poweroff -f
                """;
        return base(busybox, init);
    }

    private static InitramfsBuilder base(Path busybox, String init) {
        return new InitramfsBuilder()
                .directory("/bin", 0755)
                .file("/bin/busybox", busybox, 0755)
                .directory("/dev", 0755)
                // The kernel opens /dev/console for init's stdio before any devtmpfs exists.
                .charDevice("/dev/console", 0600, 5, 1)
                .charDevice("/dev/null", 0666, 1, 3)
                .directory("/proc", 0555)
                .directory("/sys", 0555)
                .directory("/tmp", 01777)
                .directory("/root", 0700)
                .file("/init", init, 0755);
    }
}
