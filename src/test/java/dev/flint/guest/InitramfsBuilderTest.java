package dev.flint.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads the archives back with GNU cpio, the reference reader of the newc format. */
class InitramfsBuilderTest {
    @TempDir Path tmp;

    @BeforeAll
    static void needCpio() throws Exception {
        if (!HostTools.onPath("cpio")) HostTools.aptInstall("cpio");
    }

    private static InitramfsBuilder sample() {
        return new InitramfsBuilder()
                .file("/etc/motd", "hello\n", 0644)
                .file("/bin/tool", new byte[] {1, 2, 3, 4, 5}, 0755)
                .symlink("/bin/sh", "tool")
                .charDevice("/dev/console", 0600, 5, 1)
                .directory("/proc", 0555);
    }

    @Test
    void cpioListsEveryMemberWithTypeModeAndLinkTarget() throws Exception {
        Path archive = tmp.resolve("a.cpio");
        try (var out = Files.newOutputStream(archive)) {
            sample().writeCpio(out);
        }
        // Parents are added automatically, before their children.
        assertEquals(List.of("etc", "etc/motd", "bin", "bin/tool", "bin/sh", "dev", "dev/console", "proc"),
                HostTools.run(tmp, archive, "cpio", "-it", "--quiet"));
        List<String> listing = HostTools.run(tmp, archive, "cpio", "-itv", "--quiet");
        assertTrue(listing.get(1).startsWith("-rw-r--r--"), listing.get(1));
        assertTrue(listing.get(3).startsWith("-rwxr-xr-x"), listing.get(3));
        assertTrue(listing.get(4).startsWith("lrwxrwxrwx") && listing.get(4).endsWith("bin/sh -> tool"), listing.get(4));
        assertTrue(listing.get(6).startsWith("crw-------") && listing.get(6).contains("5,"), listing.get(6));
        assertTrue(listing.get(7).startsWith("dr-xr-xr-x"), listing.get(7));
    }

    @Test
    void cpioExtractsTheSameBytes() throws Exception {
        Path archive = tmp.resolve("a.cpio");
        try (var out = Files.newOutputStream(archive)) {
            new InitramfsBuilder().file("/etc/motd", "hello\n", 0644).file("/bin/tool", new byte[] {1, 2, 3, 4, 5}, 0755).writeCpio(out);
        }
        Path into = Files.createDirectory(tmp.resolve("x"));
        HostTools.run(into, archive, "cpio", "-id", "--quiet");
        assertEquals("hello\n", Files.readString(into.resolve("etc/motd")));
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, Files.readAllBytes(into.resolve("bin/tool")));
    }

    @Test
    void writeIsGzipOfTheCpioArchiveAndCopiesHostFiles() throws IOException {
        Path host = Files.writeString(tmp.resolve("host.txt"), "from the host");
        InitramfsBuilder b = sample().file("/host.txt", host, 0600);
        Path gz = tmp.resolve("out/initrd.gz");
        b.write(gz);
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        b.writeCpio(raw);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            assertArrayEquals(raw.toByteArray(), in.readAllBytes());
        }
        assertTrue(raw.toString(StandardCharsets.ISO_8859_1).contains("from the host"));
        assertTrue(raw.toString(StandardCharsets.ISO_8859_1).contains("TRAILER!!!"));
        assertEquals(0, raw.size() % 4, "newc members are 4-byte aligned");
        try (var left = Files.list(gz.getParent())) {
            assertEquals(List.of(gz), left.toList(), "no temporary file is left behind");
        }
    }

    @Test
    void rejectsRelativeOrDuplicatePaths() {
        assertThrows(IllegalArgumentException.class, () -> new InitramfsBuilder().file("init", "x", 0755));
        assertThrows(IllegalArgumentException.class, () -> new InitramfsBuilder().file("/a/../init", "x", 0755));
        assertThrows(IllegalArgumentException.class, () -> new InitramfsBuilder().file("/init", "x", 0755).symlink("/init", "y"));
    }
}
