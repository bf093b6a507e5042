package dev.flint.cli;

import dev.flint.api.PortConverter;
import dev.flint.devices.virtio.balloon.BalloonConfig;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.devices.virtio.net.NetConfig;
import dev.flint.engine.Engine;
import dev.flint.guest.GuestAssets;
import dev.flint.machine.StopReason;
import dev.flint.vmm.Console;
import dev.flint.vmm.Engines;
import dev.flint.devices.legacy.BootTimer;
import dev.flint.vmm.VmConfig;
import dev.flint.vmm.Vmm;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flint run}: boots a VM with its serial console on stdin/stdout and waits for it to end. */
@Command(name = "run", sortOptions = false,
        description = {"Boot a VM. Without --kernel it boots the default guest (fetched on first use): "
                + "Debian's stock kernel with a busybox shell on the console; 'poweroff -f' ends it.",
                "The guest's serial console is stdin/stdout; on a terminal, Ctrl-A x ends the VM."},
        footer = {"", "Exit status: 0 when the guest powers off or reboots, 1 on a VMM error or a guest "
                + "triple fault, 2 on a bad command line; with --debug-exit, (V << 1) | 1 when the guest writes V there."})
final class RunCommand implements Callable<Integer> {
    private final CliContext context;
    private final FlintCommand flint;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    private boolean help;

    @Option(names = "--engine", paramLabel = "auto|kvm|emu", defaultValue = Engines.AUTO,
            description = "How vCPUs run: kvm (hardware virtualization), emu (Flint's own x86-64 CPU), "
                    + "or auto: kvm if this host can boot a stock kernel with it, else emu. Default: ${DEFAULT-VALUE}.")
    private String engine;

    @Option(names = "--kernel", paramLabel = "PATH", description = "Kernel to boot (bzImage, ELF vmlinux, "
            + "or a Multiboot v1 kernel, which gets --initrd as its module 0). "
            + "Default: the fetched Debian kernel.")
    private Path kernel;

    @Option(names = "--initrd", paramLabel = "PATH", description = "Initial RAM disk. Default: the busybox "
            + "shell initramfs when booting the default kernel, none otherwise.")
    private Path initrd;

    @Option(names = "--cmdline", paramLabel = "TEXT", defaultValue = VmConfig.DEFAULT_CMDLINE,
            description = "Kernel command line. Default: ${DEFAULT-VALUE}.")
    private String cmdline;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "" + VmConfig.DEFAULT_CPUS,
            description = "Number of vCPUs. Default: ${DEFAULT-VALUE}.")
    private int cpus;

    @Option(names = "--memory", paramLabel = "MIB", defaultValue = "" + VmConfig.DEFAULT_MEMORY_MIB,
            description = "Guest RAM in MiB. Default: ${DEFAULT-VALUE}.")
    private long memoryMib;

    @Option(names = "--drive", paramLabel = "PATH[,ro][,if=virtio|nvme]", converter = DriveConverter.class,
            description = "A raw disk image as a virtio-blk disk (repeatable; the first is /dev/vda in the guest), or "
                    + "with if=nvme as an NVMe controller of its own (nvme0n1, nvme1n1...; serial=ID sets its serial). "
                    + "With ,ro the guest cannot write it. With if=vhost-user, PATH is the Unix socket of a vhost-user-blk "
                    + "back end serving the disk (guest RAM is then shared with it). bandwidth=SIZE/MS[/BURST] and "
                    + "ops=SIZE/MS[/BURST] limit it as Firecracker's rate_limiter does: SIZE bytes (or requests) every MS "
                    + "milliseconds, BURST once extra; e.g. bandwidth=1048576/1000 is 1 MiB/s.")
    private List<DriveConfig> drives = List.of();

    @Option(names = "--net", paramLabel = "tap=NAME[,mac=MAC]", converter = NetConverter.class,
            description = "A virtio-net interface on host TAP device NAME (repeatable; the first is eth0 in the guest). "
                    + "The TAP is created if absent (and goes away when Flint exits); an existing persistent TAP is "
                    + "attached and left in place. Default MAC: a random locally administered one. rx-bandwidth=, "
                    + "rx-ops=, tx-bandwidth=, tx-ops=SIZE/MS[/BURST] limit what the guest receives and sends.")
    private List<NetConfig> nets = List.of();

    @Option(names = "--nvme-controllers", paramLabel = "N", defaultValue = "0",
            description = "Add N NVMe controllers with no namespace yet (numbered after the if=nvme drives' "
                    + "controllers), for volumes attached while the guest runs. Default: 0.")
    private int emptyNvmeControllers;

    @Option(names = "--rng", description = "Give the guest a virtio-rng device fed from the host's entropy.")
    private boolean rng;

    @Option(names = "--balloon", paramLabel = "MIB[,deflate_on_oom]", converter = BalloonConverter.class,
            description = "A virtio-balloon device whose target is MIB: the guest's driver (the default guest loads it) "
                    + "gives that much of its RAM back to the host. deflate_on_oom lets the guest take it back when it "
                    + "would otherwise run out of memory.")
    private BalloonConfig balloon;

    @Option(names = "--boot-timer", description = "Install the boot-timer device (as Firecracker's --boot-timer): "
            + "when the guest writes 123 to MMIO 0xC0000000 (the default guest does, once booted), print the time since start.")
    private boolean bootTimer;

    @Option(names = "--debug-exit", paramLabel = "PORT", converter = PortConverter.class, defaultValue = "-1",
            showDefaultValue = CommandLine.Help.Visibility.NEVER,
            description = "Install an isa-debug-exit device at I/O port PORT (e.g. 0xf4), as QEMU's: a guest write of V "
                    + "to it ends Flint with exit status (V << 1) | 1. For test kernels.")
    private int debugExitPort;

    RunCommand(CliContext context, FlintCommand flint) {
        this.context = context;
        this.flint = flint;
    }

    @Override
    public Integer call() throws InterruptedException {
        // Cheap checks first: a typo must not cost a guest download.
        VmConfig.checkMachine(cmdline, cpus, memoryMib, engine);
        if (balloon != null && balloon.amountMib() > memoryMib) {
            throw new dev.flint.vmm.VmConfigException("--balloon " + balloon.amountMib() + ": more than the guest's "
                    + memoryMib + " MiB of memory");
        }
        Engine chosen = context.engines().select(engine);
        Path kernelPath = kernel;
        Path initrdPath = initrd;
        if (kernelPath == null) {
            GuestAssets guest = context.guest();
            guest.fetch(context.err());
            kernelPath = guest.kernel();
            if (initrdPath == null) initrdPath = guest.defaultInitrd();
        }
        VmConfig config = VmConfig.builder(kernelPath).initrd(initrdPath).cmdline(cmdline).cpus(cpus).memoryMib(memoryMib)
                .engine(engine).drives(drives).rng(rng).bootTimer(bootTimer).nets(nets)
                .emptyNvmeControllers(emptyNvmeControllers).debugExitPort(debugExitPort).balloon(balloon).build();
        if (bootTimer) CliLogging.show(BootTimer.class);
        return exitCode(boot(config, chosen));
    }

    /** Runs the VM to its end; on a terminal, in raw mode with the Ctrl-A escape, restored on every way out. */
    private StopReason boot(VmConfig config, Engine chosen) throws InterruptedException {
        AtomicReference<Vmm> running = new AtomicReference<>();
        TerminalMode terminal = context.interactive().getAsBoolean() ? TerminalMode.enterRaw() : null;
        try {
            InputStream guestInput = context.in();
            if (terminal != null) {
                CliLogging.lineEnd = "\r\n";
                guestInput = new EscapeFilter(guestInput, () -> {
                    Vmm vmm = running.get();
                    if (vmm != null) vmm.stop();
                });
            }
            try (Vmm vmm = Vmm.start(config, chosen, new Console(guestInput, context.out()))) {
                running.set(vmm);
                return vmm.awaitStop();
            }
        } finally {
            if (terminal != null) {
                terminal.close();
                CliLogging.lineEnd = "\n";
            }
        }
    }

    /** A device option parsed by the device's own parser, whose one-line complaint becomes the usage error. */
    abstract static class DeviceConverter<T> implements CommandLine.ITypeConverter<T> {
        private final java.util.function.Function<String, T> parse;

        DeviceConverter(java.util.function.Function<String, T> parse) { this.parse = parse; }

        @Override
        public T convert(String value) {
            try {
                return parse.apply(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** {@code PATH[,ro][,if=virtio|nvme][,serial=ID]}. */
    static final class DriveConverter extends DeviceConverter<DriveConfig> {
        DriveConverter() { super(DriveConfig::parse); }
    }

    /** {@code tap=NAME[,mac=MAC]}. */
    static final class NetConverter extends DeviceConverter<NetConfig> {
        NetConverter() { super(NetConfig::parse); }
    }

    /** {@code MIB[,deflate_on_oom]}. */
    static final class BalloonConverter extends DeviceConverter<BalloonConfig> {
        BalloonConverter() { super(BalloonConfig::parse); }
    }

    /** An I/O port number, decimal or 0x-hex, 0..0xffff. */
    private int exitCode(StopReason reason) {
        return switch (reason) {
            case StopReason.DebugExit exit -> exit.exitStatus();
            case StopReason.PowerOff off -> Main.OK;
            case StopReason.Reset reset -> Main.OK;
            case StopReason.TripleFault fault -> {
                context.err().println("flint: the guest triple-faulted" + (flint.debug() ? "; vCPU state:" : " (--debug shows the vCPU state)"));
                if (flint.debug()) context.err().println(fault.cpuDump());
                yield Main.FAILED;
            }
            case StopReason.Error error -> {
                context.err().println("flint: " + Main.firstLine(error.message()));
                if (flint.debug() && error.cause() != null) error.cause().printStackTrace(context.err());
                yield Main.FAILED;
            }
        };
    }
}
