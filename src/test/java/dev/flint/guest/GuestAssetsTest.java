package dev.flint.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestAssetsTest {
    @TempDir Path tmp;
    private final ByteArrayOutputStream progressBytes = new ByteArrayOutputStream();
    private final PrintStream progress = new PrintStream(progressBytes, true);

    /**
     * Serves two tiny .deb packages built with dpkg-deb: a "kernel" (vmlinuz and two ELF modules, x needing
     * y) and a "busybox". {@code served} is the kernel version the archive serves now.
     */
    private class FakeDebian implements PackageSource {
        final AtomicInteger downloads = new AtomicInteger();
        volatile String served = "9.9.9-test-amd64";

        @Override
        public String kernelPackage(PrintStream progress) { return "linux-image-" + served; }

        @Override
        public void download(List<String> packages, Path dir, PrintStream progress) {
            downloads.incrementAndGet();
            String version = served;
            try {
                deb(dir, packages.get(0), Map.of("boot/vmlinuz-" + version, ("kernel " + version).getBytes(StandardCharsets.UTF_8),
                        "lib/modules/" + version + "/kernel/x.ko", TestModules.module("x", "y"),
                        "lib/modules/" + version + "/kernel/y.ko", TestModules.module("y")));
                deb(dir, packages.get(1), Map.of("bin/busybox", "busybox".getBytes(StandardCharsets.UTF_8)));
            } catch (IOException | InterruptedException e) {
                throw new RuntimeException(e);
            }
        }

        private void deb(Path dir, String name, Map<String, byte[]> files) throws IOException, InterruptedException {
            Path tree = Files.createTempDirectory(tmp, name);
            for (var f : files.entrySet()) TestModules.write(tree.resolve(f.getKey()), f.getValue());
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
        assertEquals("kernel/x.ko: kernel/y.ko\nkernel/y.ko:\n", read(assets.modulesDir().resolve("modules.dep")), "indexed without depmod");
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

    @Test
    void anOlderCachedKernelStaysInUseAndTheUserIsToldHowToUpdate() {
        FakeDebian debian = new FakeDebian();
        GuestAssets assets = GuestAssets.open(tmp.resolve("cache"), debian);
        assets.fetch(progress);
        debian.served = "9.9.10-test-amd64";

        GuestAssets.Fetched checked = assets.fetch(progress, false);
        assertFalse(checked.downloaded());
        assertTrue(checked.outdated());
        assertEquals("9.9.9-test-amd64", checked.kernelVersion());
        assertEquals(Optional.of("linux-image-9.9.10-test-amd64"), checked.archiveKernelPackage());
        assertTrue(progressBytes.toString().contains("flint: Debian's archive now serves linux-image-9.9.10-test-amd64; the cache holds "
                + "linux-image-9.9.9-test-amd64, which stays in use. 'flint guest fetch --update' fetches the new one."), progressBytes.toString());
        assertEquals(1, debian.downloads.get());
        assertEquals(tmp.resolve("cache/debian/boot/vmlinuz-9.9.9-test-amd64"), assets.kernel());
        assertTrue(Files.isRegularFile(assets.kernel()));
        assertFalse(assets.fetch(progress).outdated(), "flint run does not ask the archive");
    }

    @Test
    void updateReplacesTheCachedKernelOnlyOnceTheNewOneIsComplete() throws IOException {
        FakeDebian debian = new FakeDebian();
        GuestAssets assets = GuestAssets.open(tmp.resolve("cache"), debian);
        assets.fetch(progress);
        Path oldKernel = assets.kernel();
        Path oldInitrd = assets.defaultInitrd();
        debian.served = "9.9.10-test-amd64";

        List<Boolean> oldKernelThereDuringDownload = new java.util.ArrayList<>();
        FakeDebian failing = new FakeDebian() {
            @Override
            public void download(List<String> packages, Path dir, PrintStream progress) {
                oldKernelThereDuringDownload.add(Files.isRegularFile(oldKernel));
                throw new GuestFetchException("apt-get download failed (exit 100): connection reset");
            }
        };
        failing.served = debian.served;
        GuestAssets failingAssets = GuestAssets.open(tmp.resolve("cache"), failing);
        GuestFetchException e = assertThrows(GuestFetchException.class, () -> failingAssets.fetch(progress, true));
        assertEquals("apt-get download failed (exit 100): connection reset", e.getMessage());
        assertEquals(List.of(true), oldKernelThereDuringDownload);
        assertEquals("9.9.9-test-amd64", assets.kernelVersion(), "a failed update leaves the old guest");
        assertTrue(Files.isRegularFile(oldKernel));
        assertNoTemporaryFolders(tmp.resolve("cache"));

        GuestAssets.Fetched updated = assets.fetch(progress, true);
        assertTrue(updated.downloaded());
        assertFalse(updated.outdated());
        assertEquals("9.9.10-test-amd64", updated.kernelVersion());
        assertEquals("kernel 9.9.10-test-amd64", read(assets.kernel()));
        assertFalse(Files.exists(oldKernel), "the old kernel is gone once the new one is in place");
        assertTrue(Files.isRegularFile(assets.defaultInitrd()));
        try (var initrds = Files.list(oldInitrd.getParent())) {
            assertEquals(List.of(assets.defaultInitrd()), initrds.toList(), "initramfs files of the old kernel are gone");
        }
        assertEquals("kernel/x.ko: kernel/y.ko\nkernel/y.ko:\n", read(assets.modulesDir().resolve("modules.dep")));
        assertNoTemporaryFolders(tmp.resolve("cache"));

        assertFalse(assets.fetch(progress, true).downloaded(), "nothing newer: nothing fetched");
        assertEquals(2, debian.downloads.get());
    }

    @Test
    void aGuestCachedWithoutAnIndexGetsOne() throws IOException {
        GuestAssets assets = GuestAssets.open(tmp.resolve("cache"), new FakeDebian());
        assets.fetch(progress);
        Files.delete(assets.modulesDir().resolve("modules.dep")); // as a Flint that needed depmod left it without kmod
        assets.fetch(progress);
        assertEquals("kernel/x.ko: kernel/y.ko\nkernel/y.ko:\n", read(assets.modulesDir().resolve("modules.dep")));
    }

    /**
     * The real thing, from Debian's archive into the shared cache every guest boot test uses. The archive
     * moves on (a new kernel every few weeks), so a guest cached earlier may be older than what apt names
     * now: then the fetch must say so and keep it; a guest fetched now must be the one apt names.
     */
    @Test
    void fetchesDebiansStockKernelAndBusybox() throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        GuestAssets.Fetched fetched = assets.fetch(progress, false);
        String current = HostTools.run(tmp, null, "apt-cache", "depends", "linux-image-amd64").stream()
                .map(String::trim).filter(l -> l.startsWith("Depends: linux-image-")).findFirst().orElseThrow()
                .substring("Depends: ".length());
        assertEquals(Optional.of(current), fetched.archiveKernelPackage(), progressBytes.toString());
        if (fetched.downloaded() || !fetched.outdated()) {
            assertEquals(current, fetched.kernelPackage());
        } else {
            assertTrue(progressBytes.toString().contains("'flint guest fetch --update' fetches the new one"), progressBytes.toString());
        }
        assertEquals("linux-image-" + fetched.kernelVersion(), fetched.kernelPackage());
        assertEquals(assets.cacheDir().resolve("debian/boot/vmlinuz-" + fetched.kernelVersion()), assets.kernel());
        byte[] kernel = Files.readAllBytes(assets.kernel());
        assertEquals("HdrS", new String(kernel, 0x202, 4, StandardCharsets.US_ASCII), "a bzImage");
        assertTrue(read(assets.modulesDir().resolve("modules.dep")).contains("kernel/drivers/virtio/virtio_pci.ko: "));
        byte[] busybox = Files.readAllBytes(assets.busybox());
        assertEquals("\u007fELF", new String(busybox, 0, 4, StandardCharsets.ISO_8859_1));

        assertFalse(assets.fetch(progress).downloaded(), "a cached guest is used as it is");
    }

    @Test
    void cacheFolderFollowsFlintCacheThenXdgThenHome() {
        assertEquals(Path.of("/srv/flint"), GuestAssets.cacheDirFor(Map.of("FLINT_CACHE", "/srv/flint", "XDG_CACHE_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/x/flint"), GuestAssets.cacheDirFor(Map.of("XDG_CACHE_HOME", "/x"), "/home/u"));
        assertEquals(Path.of("/home/u/.cache/flint"), GuestAssets.cacheDirFor(Map.of("FLINT_CACHE", ""), "/home/u"));
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void assertNoTemporaryFolders(Path cache) {
        try (var left = Files.list(cache)) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith(".fetch-")).toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
