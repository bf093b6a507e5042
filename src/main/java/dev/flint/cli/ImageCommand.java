package dev.flint.cli;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.RootfsImage;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flint image ...}: root file system images for guests. */
@Command(name = "image", description = "Build root file system images for guests.")
final class ImageCommand extends CommandGroup {
    @Command(name = "build", description = {
            "Build an ext4 root file system image without mounting anything (mke2fs -d): busybox, or a "
                    + "Debian minbase made by debootstrap from the host's apt source (cached after the first build).",
            "Boot it with: flint run --drive IMAGE --cmdline \"console=ttyS0 root=/dev/vda\""})
    static final class Build implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        @Option(names = "--rootfs", paramLabel = "busybox|debian", defaultValue = "busybox",
                description = "What the image holds (default: ${DEFAULT-VALUE}).")
        private String rootfs;

        @Option(names = "--size", paramLabel = "MIB", description = "Image size in MiB (default: 64 for busybox, 1024 for debian).")
        private Long sizeMib;

        @Option(names = {"-o", "--output"}, paramLabel = "PATH", description = "Image file (default: rootfs-FLAVOUR.ext4 here).")
        private Path output;

        @Option(names = "--force", description = "Replace an existing image file.")
        private boolean force;

        Build(CliContext context) { this.context = context; }

        @Override
        public Integer call() {
            RootfsImage.Flavour flavour;
            try {
                flavour = RootfsImage.Flavour.valueOf(rootfs.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                context.err().println("flint: --rootfs must be busybox or debian, not '" + rootfs + "'");
                return Main.USAGE;
            }
            long size = sizeMib != null ? sizeMib : flavour == RootfsImage.Flavour.DEBIAN ? 1024 : 64;
            if (size < RootfsImage.MIN_SIZE_MIB) {
                context.err().println("flint: --size " + size + " MiB is too small: at least " + RootfsImage.MIN_SIZE_MIB + " MiB");
                return Main.USAGE;
            }
            Path target = output != null ? output : Path.of("rootfs-" + rootfs.toLowerCase(Locale.ROOT) + ".ext4");
            if (!force && java.nio.file.Files.exists(target)) {
                context.err().println("flint: " + target + " exists; pass --force to replace it");
                return Main.USAGE;
            }
            GuestAssets guest = context.guest();
            guest.fetch(context.err());
            long start = System.nanoTime();
            RootfsImage.of(flavour, guest).build(target, size, force, context.err());
            context.out().printf("image   %s (%s, %d MiB, built in %.1f s)%n", target, rootfs, size,
                    (System.nanoTime() - start) / 1e9);
            context.out().println("boot it: bin/flint run --drive " + target + " --cmdline \"console=ttyS0 root=/dev/vda\"");
            return Main.OK;
        }
    }
}
