package dev.flint.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** DebianApt against a fake apt: which kernel it picks depending on how old apt's package lists are. */
class DebianAptTest {
    private static final Instant NOW = Instant.parse("2026-12-05T12:00:00Z");

    @TempDir Path lists;
    private final ByteArrayOutputStream progressBytes = new ByteArrayOutputStream();
    private final PrintStream progress = new PrintStream(progressBytes, true);

    /**
     * apt as far as Flint uses it: the lists on disk name {@code listed}; the archive serves {@code served},
     * which apt-get update brings into the lists (rewriting partial/ as the real one does).
     */
    private final class FakeApt implements DebianApt.Commands {
        final List<String> calls = new ArrayList<>();
        String listed = "linux-image-6.1.0-50-amd64";
        String served = "linux-image-6.1.0-57-amd64";
        boolean updateFails;

        @Override
        public List<String> run(Path dir, PrintStream out, String... command) {
            String call = String.join(" ", command);
            calls.add(call);
            switch (call) {
                case "apt-get update -q" -> {
                    if (updateFails) throw new GuestFetchException("apt-get update -q failed (exit 100): E: Could not open lock file - open (13: Permission denied)");
                    listed = served;
                    touch(Files.isDirectory(lists.resolve("partial")) ? lists.resolve("partial") : mkdir(lists.resolve("partial")), NOW);
                    touch(lists.resolve("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"), NOW.minus(Duration.ofDays(150)));
                    return List.of("Hit:1 http://deb.debian.org/debian bookworm InRelease");
                }
                case "apt-cache depends linux-image-amd64" -> {
                    if (listed == null) throw new GuestFetchException("apt-cache depends linux-image-amd64 failed (exit 100): E: No packages found");
                    return List.of("linux-image-amd64", "  Depends: " + listed);
                }
                default -> throw new AssertionError("unexpected command " + call);
            }
        }
    }

    private DebianApt apt(FakeApt fake) {
        return new DebianApt(fake, lists, Clock.fixed(NOW, ZoneOffset.UTC));
    }

    /** apt's lists folder as an update at {@code updatedAt} left it; the list files carry the archive's older dates. */
    private void listsUpdatedAt(Instant updatedAt) {
        touch(lists.resolve("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"), NOW.minus(Duration.ofDays(150)));
        touch(lists.resolve("deb.debian.org_debian_dists_bookworm_InRelease"), NOW.minus(Duration.ofDays(150)));
        touch(mkdir(lists.resolve("partial")), updatedAt);
    }

    @Test
    void listsOlderThanADayAreRefreshedBeforeTheKernelIsPicked() {
        listsUpdatedAt(NOW.minus(Duration.ofDays(3)));
        FakeApt fake = new FakeApt();
        assertEquals("linux-image-6.1.0-57-amd64", apt(fake).kernelPackage(progress));
        assertEquals(List.of("apt-get update -q", "apt-cache depends linux-image-amd64"), fake.calls);
        assertTrue(progressBytes.toString().contains("flint: the apt package lists are last updated 3 days ago; refreshing them (apt-get update)"),
                progressBytes.toString());
    }

    @Test
    void listsUpdatedWithinADayAreUsedAsTheyAreEvenWhenTheirFilesAreOld() {
        listsUpdatedAt(NOW.minus(Duration.ofHours(23)));
        FakeApt fake = new FakeApt();
        assertEquals("linux-image-6.1.0-50-amd64", apt(fake).kernelPackage(progress));
        assertEquals(List.of("apt-cache depends linux-image-amd64"), fake.calls);
        assertEquals("", progressBytes.toString());
    }

    @Test
    void missingListsAreFetched() {
        FakeApt fake = new FakeApt();
        fake.listed = null;
        assertEquals("linux-image-6.1.0-57-amd64", apt(fake).kernelPackage(progress));
        assertEquals(List.of("apt-get update -q", "apt-cache depends linux-image-amd64"), fake.calls);
        assertTrue(progressBytes.toString().contains("the apt package lists are missing"), progressBytes.toString());
    }

    @Test
    void aRefreshThatFailsIsReportedAndTheListsThereAreAreUsed() {
        listsUpdatedAt(NOW.minus(Duration.ofDays(40)));
        FakeApt fake = new FakeApt();
        fake.updateFails = true;
        assertEquals("linux-image-6.1.0-50-amd64", apt(fake).kernelPackage(progress));
        assertTrue(progressBytes.toString().contains(
                "flint: cannot refresh the apt package lists, going on with the ones there are: apt-get update -q failed (exit 100)"),
                progressBytes.toString());
    }

    @Test
    void theListsAreCheckedOncePerFetch() {
        listsUpdatedAt(NOW.minus(Duration.ofDays(3)));
        FakeApt fake = new FakeApt();
        DebianApt apt = apt(fake);
        apt.kernelPackage(progress);
        apt.kernelPackage(progress);
        assertEquals(1, fake.calls.stream().filter(c -> c.startsWith("apt-get update")).count());
    }

    @Test
    void theUpdateTimeIsTheNewestOfPartialAndTheListFiles() {
        assertFalse(DebianApt.listsUpdatedAt(lists).isPresent(), "no lists");
        assertFalse(DebianApt.listsUpdatedAt(lists.resolve("absent")).isPresent());
        listsUpdatedAt(NOW.minus(Duration.ofHours(5)));
        assertEquals(NOW.minus(Duration.ofHours(5)), DebianApt.listsUpdatedAt(lists).orElseThrow());
        touch(lists.resolve("deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4"), NOW.minus(Duration.ofHours(1)));
        assertEquals(NOW.minus(Duration.ofHours(1)), DebianApt.listsUpdatedAt(lists).orElseThrow());
    }

    private static Path mkdir(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path touch(Path file, Instant at) {
        try {
            if (Files.notExists(file)) Files.writeString(file, "");
            Files.setLastModifiedTime(file, FileTime.from(at));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
