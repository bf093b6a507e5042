package dev.flint.guest;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Guest packages from the host's Debian archive through apt: the registry the project allows, and
 * signed, so a fetched kernel is exactly Debian's. Package lists are refreshed (apt-get update) only
 * when apt does not know a package or a download fails, since stale lists point at deleted files.
 */
final class DebianApt implements PackageSource {
    /** The meta package that always depends on Debian's current stock kernel. */
    static final String KERNEL_META_PACKAGE = "linux-image-amd64";

    private boolean updated;

    @Override
    public String kernelPackage(PrintStream progress) {
        return retryAfterUpdate(progress, () -> {
            for (String line : HostCommand.run(null, null, "apt-cache", "depends", KERNEL_META_PACKAGE)) {
                String trimmed = line.trim();
                if (trimmed.startsWith("Depends: linux-image-")) return trimmed.substring("Depends: ".length());
            }
            throw new GuestFetchException("apt-cache depends " + KERNEL_META_PACKAGE + " names no linux-image package");
        });
    }

    @Override
    public void download(List<String> packages, Path dir, PrintStream progress) {
        List<String> command = new ArrayList<>(List.of("apt-get", "download", "-q"));
        command.addAll(packages);
        retryAfterUpdate(progress, () -> HostCommand.run(dir, progress, command.toArray(String[]::new)));
    }

    private <T> T retryAfterUpdate(PrintStream progress, Supplier<T> action) {
        try {
            return action.get();
        } catch (GuestFetchException first) {
            if (updated) throw first;
            progress.println("flint: refreshing the apt package lists (apt-get update)");
            HostCommand.run(null, null, "apt-get", "update", "-q");
            updated = true;
            return action.get();
        }
    }
}
