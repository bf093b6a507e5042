package dev.flint.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestAssetsTest {
    @TempDir Path tmp;
    private final ByteArrayOutputStream progressBytes = new ByteArrayOutputStream();
    private final PrintStream progress = new PrintStream(progressBytes, true);

    /** Serves two tiny .deb packages built with dpkg-deb: a "kernel" and a "busybox". */
    private class FakeDebian implements PackageSource {
        final AtomicInteger downloads = new AtomicInteger();

        @Override
        public String kernelPackage(PrintStream progress) { return "linux-image-9.9.9-test-amd64"; }

        @Override
        public void download(List<String> packages, Path dir, PrintStream progress) {
            downloads.incrementAndGet();
            try {
                deb(dir, packages.get(0), "boot/vmlinuz-9.9.9-test-amd64", "lib/modules/9.9.9-test-amd64/kernel/x.ko");
                deb(dir, packages.get(1), "bin/busybox");
            } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
            }
        }

        private void deb(Path dir, String name, String... files) throws IOException, InterruptedException {
            Path tree = Files.createTempDirectory(tmp, name);
            for (String f : files) {
                Files.createDirectories(tree.resolve(f).getParent());
                Files.writeString(tree.resolve(f), "content of " + f);
            }
            Files.createDirectories(tree.resolve("DEBIAN"));
            Files.writeString(tree.resolve("DEBIAN/control"), """
                    Package: %s
                    Version: 1
                    Architecture: amd64
                    Maintainer: Flint tests <test@flint.invalid>
                    Description: test package
                    """.formatted(name));
            HostTools.run(tmp, null, "dpkg-deb", "--root-owner-group", "--build", tree.toString(), dir.resolve(name + ".deb").toString());
        }
    }

    @Test
    void fetchUnpacksIntoTheCacheAndReusesIt() {
        FakeDebian debian = new FakeDebian();
        GuestAssets assets = GuestAssets.open(tmp.resolve("cache"), debian);
        assertFalse(assets.isFetched());

        GuestAssets.Fetched first = assets.fetch(progress);
        assertTrue(first.downloaded());
        assertEquals("9.9.9-test-amd64", first.kernelVersion());
        assertEquals("linux-image-9.9.9-test-amd64", first.kernelPackage());
        assertEquals(tmp.resolve("cache/debian/boot/vmlinuz-9.9.9-test-amd64"), assets.kernel());
        assertTrue(Files.isRegularFile(assets.modulesDir().resolve("kernel/x.ko")));
        assertTrue(Files.isRegularFile(assets.busybox()));
        assertTrue(Files.isRegularFile(assets.defaultInitrd()));
        assertTrue(progressBytes.toString().contains("downloading linux-image-9.9.9-test-amd64 and busybox-static"));

        GuestAssets.Fetched again = GuestAssets.open(tmp.resolve("cache"), debian).fetch(progress);
        assertFalse(again.downloaded());
        assertEquals(1, debian.downloads.get(), "the second fetch uses the cache");
        assertNoTemporaryFolders(tmp.resolve("cache"));
    }

    @Test
    void failedDownloadLeavesNothingBehind() throws IOException {
        PackageSource broken = new FakeDebian() {
            @Override
            public void download(List<String> packages, Path dir, PrintStream progress) {
                try {
                    Files.writeString(dir.resolve("half.deb"), "partial");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                throw new GuestFetchException("apt-get download failed (exit 100): connection reset");
            }
        };
        GuestAssets assets = GuestAssets.open(tmp.resolve("cache"), broken);
        GuestFetchException e = assertThrows(GuestFetchException.class, () -> assets.fetch(progress));
        assertEquals("apt-get download failed (exit 100): connection reset", e.getMessage());
        assertFalse(assets.isFetched());
        try (var left = Files.list(tmp.resolve("cache"))) {
            assertEquals(List.of(), left.toList());
        }
        GuestFetchException notFetched = assertThrows(GuestFetchException.class, assets::kernel);
        assertEquals("the guest is not fetched yet: run 'flint guest fetch'", notFetched.getMessage());
    }

    @Test
    void packageWithoutTheKernelImageIsRejected() {
        PackageSource wrongName = new FakeDebian() {
            @Override
            public String kernelPackage(PrintStream progress) { return "linux-image-1.0-other"; }
        };
        GuestAssets assets = GuestAssets.open(tmp.resolve("cache"), wrongName);
        GuestFetchException e = assertThrows(GuestFetchException.class, () -> assets.fetch(progress));
        assertEquals("linux-image-1.0-other did not contain /boot/vmlinuz-1.0-other", e.getMessage());
        assertFalse(assets.isFetched());
        assertNoTemporaryFolders(tmp.resolve("cache"));
    }

    /** The real thing, from Debian's archive into the shared cache every guest boot test uses. */
    @Test
    void fetchesDebiansStockKernelAndBusybox() throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        GuestAssets.Fetched fetched = assets.fetch(progress);
        String expected = HostTools.run(tmp, null, "apt-cache", "depends", "linux-image-amd64").stream()
                .map(String::trim).filter(l -> l.startsWith("Depends: linux-image-")).findFirst().orElseThrow()
                .substring("Depends: linux-image-".length());
        assertEquals(expected, fetched.kernelVersion());
        byte[] kernel = Files.readAllBytes(assets.kernel());
        assertEquals("HdrS", new String(kernel, 0x202, 4, java.nio.charset.StandardCharsets.US_ASCII), "a bzImage");
        assertTrue(Files.isRegularFile(assets.modulesDir().resolve("modules.dep")));
        byte[] busybox = Files.readAllBytes(assets.busybox());
        assertEquals("\u007fELF", new String(busybox, 0, 4, java.nio.charset.StandardCharsets.ISO_8859_1));

        long start = System.nanoTime();
        assertFalse(assets.fetch(progress).downloaded());
        assertTrue(System.nanoTime() - start < 2_000_000_000L, "a cached fetch is fast");
    }

    @Test
    void cacheFolderFollowsFlintCacheThenXdgThenHome() {
        assertEquals(Path.of("/srv/flint"), GuestAssets.cacheDirFor(Map.of("FLINT_CACHE", "/srv/flint", "XDG_CACHE_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/x/flint"), GuestAssets.cacheDirFor(Map.of("XDG_CACHE_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/home/u/.cache/flint"), GuestAssets.cacheDirFor(Map.of("FLINT_CACHE", ""), "/home/u"));
    }

    private static void assertNoTemporaryFolders(Path cache) {
        try (var left = Files.list(cache)) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith(".fetch-")).toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
