package dev.flint.cli;

import dev.flint.arch.x86.UnpackedKernelCache;
import dev.flint.guest.GuestAssets;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flint guest ...}: the default guest (Debian's stock kernel and a busybox initramfs). */
@Command(name = "guest", description = "Manage the default guest (Debian's stock kernel and a busybox initramfs).")
final class GuestCommand extends CommandGroup {
    @Command(name = "fetch", description = {
            "Download Debian's current stock kernel and busybox-static with apt-get, unpack them into the "
                    + "guest cache and build the default initramfs. apt's package lists are refreshed first when "
                    + "they are older than 24 hours. A cached guest is kept; if the archive serves a newer kernel "
                    + "you are told, and --update fetches it.",
            "Prints the kernel, its modules and the initramfs."})
    static final class Fetch implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        @Option(names = "--update", description = "If Debian's archive serves a newer kernel than the cached one, "
                + "fetch it; the cached guest is replaced only once the new one is complete.")
        private boolean update;

        Fetch(CliContext context) { this.context = context; }

        @Override
        public Integer call() {
            GuestAssets guest = context.guest();
            GuestAssets.Fetched fetched = guest.fetch(context.err(), update);
            try {
                // Once here rather than in the first boot: emu unpacks anyway, kvm enters only a cached vmlinux.
                UnpackedKernelCache.unpackAhead(fetched.kernel());
            } catch (IOException e) {
                context.err().println("flint: the kernel could not be unpacked ahead (" + e.getMessage()
                        + "); guests decompress it themselves");
            }
            context.out().println("kernel  " + fetched.kernel() + " (" + fetched.kernelPackage() + ")");
            context.out().println("modules " + guest.modulesDir());
            context.out().println("initrd  " + guest.defaultInitrd());
            return Main.OK;
        }
    }
}
