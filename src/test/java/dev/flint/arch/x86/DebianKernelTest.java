package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The boot loader against Debian's real 6.1 kernel. Skipped only when no kernel has been fetched into
 * Flint's cache ($FLINT_CACHE, else $XDG_CACHE_HOME/flint, else ~/.cache/flint) and none is named by
 * -Dflint.kernel=PATH.
 */
class DebianKernelTest {
    private static Path kernel;

    @BeforeAll
    static void findKernel() throws IOException {
        String explicit = System.getProperty("flint.kernel");
        if (explicit != null) {
            kernel = Path.of(explicit);
            return;
        }
        String env = System.getenv("FLINT_CACHE");
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = env != null ? Path.of(env)
                : xdg != null ? Path.of(xdg, "flint") : Path.of(System.getProperty("user.home"), ".cache", "flint");
        if (!Files.isDirectory(cache)) return;
        try (Stream<Path> files = Files.walk(cache, 8)) {
            Optional<Path> found = files.filter(p -> p.getFileName().toString().startsWith("vmlinuz-"))
                    .filter(Files::isRegularFile).findFirst();
            kernel = found.orElse(null);
        }
    }

    private static BootImage load(long mib, BootLoader.BzImageEntry entry) {
        assumeTrue(kernel != null, "no Debian kernel in the cache");
        try (GuestMemory m = GuestMemory.allocate(mib << 20)) {
            BootImage img = BootLoader.load(m, new BootSpec(kernel, null, "console=ttyS0", 1), PlatformInfo.standard(), entry);
            int version = m.readShort(Layout.ZERO_PAGE + 0x206) & 0xFFFF;
            assertTrue(version >= 0x020C, "boot protocol " + Integer.toHexString(version));
            assertEquals(1, m.readShort(Layout.ZERO_PAGE + 0x236) & 1, "XLF_KERNEL_64");
            return img;
        }
    }

    @Test
    void bzImageEntersAtLoadAddressPlus0x200() {
        BootImage img = load(256, BootLoader.BzImageEntry.DECOMPRESS_IN_GUEST);
        assertEquals("bzImage", img.format());
        assertEquals(0x100_0200L, img.entry(), "pref_address 16 MiB + 0x200");
    }

    @Test
    void unpackedOnTheHostItEntersVmlinuxDirectly() {
        BootImage img = load(256, BootLoader.BzImageEntry.UNPACK_ON_HOST);
        assertEquals("ELF", img.format());
        assertEquals(0x100_0000L, img.entry(), "startup_64 at the physical load address");
    }

    @Test
    void tooLittleMemoryForThisKernelIsExplained() {
        assumeTrue(kernel != null, "no Debian kernel in the cache");
        try (GuestMemory m = GuestMemory.allocate(64L << 20)) {
            BootException e = assertThrows(BootException.class,
                    () -> BootLoader.load(m, new BootSpec(kernel, null, "", 1), PlatformInfo.standard()));
            assertTrue(e.getMessage().startsWith("guest memory 64 MiB is too small for this kernel: it needs "), e.getMessage());
        }
    }
}
