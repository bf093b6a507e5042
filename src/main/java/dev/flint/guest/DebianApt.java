package dev.flint.guest;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Guest packages from the host's Debian archive through apt: the registry the project allows, and
 * signed, so a fetched kernel is exactly Debian's.
 *
 * <p>Which kernel is current is what apt's package lists say, so lists older than {@link #MAX_LIST_AGE}
 * are refreshed ({@code apt-get update}) before asking: a machine whose lists are months old would
 * otherwise fetch a kernel the archive has since replaced (and may have deleted). The lists' age is the
 * time of the last {@code apt-get update}: every update, even one that finds nothing new, rewrites apt's
 * {@code lists/partial} folder, and one that finds something writes new list files. The list files' own
 * times alone will not do: apt dates them with the archive's Last-Modified, which for a stable release
 * can be months back right after an update. If the refresh fails (no root, no network) Flint says so and
 * goes on with the lists there are. Lists are also refreshed, once, when apt does not know a package or a
 * download fails, since stale lists point at deleted files.
 */
final class DebianApt implements PackageSource {
    /** The meta package that always depends on Debian's current stock kernel. */
    static final String KERNEL_META_PACKAGE = "linux-image-amd64";

    /** Lists older than this are refreshed before Flint picks a kernel from them. */
    static final Duration MAX_LIST_AGE = Duration.ofHours(24);

    /** Runs a host command; {@link HostCommand#run} in production, a fake apt in tests. */
    @FunctionalInterface
    interface Commands {
        List<String> run(Path dir, PrintStream progress, String... command);
    }

    private final Commands commands;
    private final Path listsDir;
    private final Clock clock;
    private boolean updated;
    private boolean listsChecked;

    DebianApt() {
        this(HostCommand::run, null, Clock.systemUTC());
    }

    /** {@code listsDir} null: ask apt where its lists are ({@code Dir::State::lists}). */
    DebianApt(Commands commands, Path listsDir, Clock clock) {
        this.commands = commands;
        this.listsDir = listsDir;
        this.clock = clock;
    }

    @Override
    public String kernelPackage(PrintStream progress) {
        refreshIfStale(progress);
        return retryAfterUpdate(progress, () -> {
            for (String line : commands.run(null, null, "apt-cache", "depends", KERNEL_META_PACKAGE)) {
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
        retryAfterUpdate(progress, () -> commands.run(dir, progress, command.toArray(String[]::new)));
    }

    /** Runs apt-get update when the lists are missing or older than {@link #MAX_LIST_AGE}; once per instance. */
    private void refreshIfStale(PrintStream progress) {
        if (listsChecked || updated) return;
        listsChecked = true;
        Optional<Instant> last = listsUpdatedAt(lists());
        if (last.isPresent() && Duration.between(last.get(), clock.instant()).compareTo(MAX_LIST_AGE) < 0) return;
        String age = last.map(t -> "last updated " + ago(Duration.between(t, clock.instant()))).orElse("missing");
        progress.println("flint: the apt package lists are " + age + "; refreshing them (apt-get update)");
        try {
            update();
        } catch (GuestFetchException e) {
            progress.println("flint: cannot refresh the apt package lists, going on with the ones there are: " + e.getMessage());
        }
    }

    /**
     * When apt-get update last ran: the newest of {@code partial/} (rewritten by every update) and the
     * list files. Empty when there are no package lists at all.
     */
    static Optional<Instant> listsUpdatedAt(Path lists) {
        if (lists == null || !Files.isDirectory(lists)) return Optional.empty();
        try (Stream<Path> files = Files.list(lists)) {
            List<Path> listFiles = files.filter(p -> p.getFileName().toString().contains("_Packages")).toList();
            if (listFiles.isEmpty()) return Optional.empty();
            Stream<Path> stamps = Stream.concat(listFiles.stream(), Stream.of(lists.resolve("partial")).filter(Files::isDirectory));
            return stamps.map(DebianApt::modified).max(Instant::compareTo);
        } catch (IOException | UncheckedIOException e) {
            return Optional.empty();
        }
    }

    private static Instant modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toInstant();
        } catch (IOException e) {
            return FileTime.fromMillis(0).toInstant();
        }
    }

    private static String ago(Duration d) {
        if (d.toDays() >= 2) return d.toDays() + " days ago";
        return d.toHours() + " hours ago";
    }

    private Path lists() {
        if (listsDir != null) return listsDir;
        try {
            // Prints LISTS='/var/lib/apt/lists/'
            for (String line : commands.run(null, null, "apt-config", "shell", "LISTS", "Dir::State::lists/d")) {
                if (line.startsWith("LISTS='") && line.endsWith("'")) return Path.of(line.substring(7, line.length() - 1));
            }
        } catch (GuestFetchException e) {
            // apt-config missing: apt-get itself will fail with a clearer line.
        }
        return Path.of("/var/lib/apt/lists");
    }

    private void update() {
        commands.run(null, null, "apt-get", "update", "-q");
        updated = true;
    }

    private <T> T retryAfterUpdate(PrintStream progress, Supplier<T> action) {
        try {
            return action.get();
        } catch (GuestFetchException first) {
            if (updated) throw first;
            progress.println("flint: refreshing the apt package lists (apt-get update)");
            update();
            return action.get();
        }
    }
}
