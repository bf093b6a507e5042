package dev.flint.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

class ModuleIndexTest {
    @TempDir Path modules;

    @Test
    void everyLineListsAllTheModulesNeededUsersBeforeWhatTheyNeed() throws IOException {
        TestModules.write(modules.resolve("kernel/net/virtio_net.ko"), TestModules.module("virtio_net", "net_failover", "virtio_ring", "virtio"));
        TestModules.write(modules.resolve("kernel/net/net_failover.ko"), TestModules.module("net_failover", "failover"));
        TestModules.write(modules.resolve("kernel/net/failover.ko"), TestModules.module("failover"));
        TestModules.write(modules.resolve("kernel/virtio/virtio_ring.ko"), TestModules.module("virtio_ring", "virtio"));
        TestModules.write(modules.resolve("kernel/virtio/virtio.ko"), TestModules.module("virtio"));
        // File names may use '-' where module names have '_'.
        TestModules.write(modules.resolve("kernel/char/virtio-rng.ko"), TestModules.module("virtio_rng", "virtio_ring", "virtio"));
        Files.writeString(modules.resolve("modules.order"), "not a module\n");

        assertEquals(6, ModuleIndex.write(modules));

        assertEquals("""
                kernel/char/virtio-rng.ko: kernel/virtio/virtio_ring.ko kernel/virtio/virtio.ko
                kernel/net/failover.ko:
                kernel/net/net_failover.ko: kernel/net/failover.ko
                kernel/net/virtio_net.ko: kernel/virtio/virtio_ring.ko kernel/virtio/virtio.ko kernel/net/net_failover.ko kernel/net/failover.ko
                kernel/virtio/virtio.ko:
                kernel/virtio/virtio_ring.ko: kernel/virtio/virtio.ko
                """, Files.readString(modules.resolve("modules.dep")));
        try (var left = Files.list(modules)) {
            assertEquals(List.of("kernel", "modules.dep", "modules.order"), left.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void compressedModulesAreReadToo() throws IOException {
        ByteArrayOutputStream xz = new ByteArrayOutputStream();
        try (XZOutputStream out = new XZOutputStream(xz, new LZMA2Options())) {
            out.write(TestModules.module("ext4", "jbd2"));
        }
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(TestModules.module("jbd2"));
        }
        TestModules.write(modules.resolve("kernel/fs/ext4.ko.xz"), xz.toByteArray());
        TestModules.write(modules.resolve("kernel/fs/jbd2.ko.gz"), gz.toByteArray());
        ModuleIndex.write(modules);
        assertEquals("kernel/fs/ext4.ko.xz: kernel/fs/jbd2.ko.gz\nkernel/fs/jbd2.ko.gz:\n", Files.readString(modules.resolve("modules.dep")));
    }

    @Test
    void aDependencyCycleOrAnUnknownNameEndsTheLineInsteadOfLooping() throws IOException {
        TestModules.write(modules.resolve("kernel/a.ko"), TestModules.module("a", "b", "nowhere"));
        TestModules.write(modules.resolve("kernel/b.ko"), TestModules.module("b", "a"));
        ModuleIndex.write(modules);
        assertEquals("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", Files.readString(modules.resolve("modules.dep")));
    }

    @Test
    void malformedModulesAreOneLineNamingTheFile() throws IOException {
        byte[] good = TestModules.module("m");
        Map<String, byte[]> bad = new HashMap<>();
        bad.put("not ELF", "hello, this is text and not a module at all, longer than an ELF header is".getBytes(StandardCharsets.US_ASCII));
        bad.put("truncated", Arrays.copyOf(good, 40));
        ByteBuffer farTable = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        farTable.putLong(0x28, Long.MAX_VALUE - 10);
        bad.put("table outside", farTable.array());
        ByteBuffer farSection = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        int shoff = (int) farSection.getLong(0x28);
        farSection.putLong(shoff + 128 + 0x20, 0x7fff_ffff_ffffL); // .modinfo's size
        bad.put("section outside", farSection.array());
        ByteBuffer noModinfo = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        noModinfo.putInt(shoff + 128, 1); // .modinfo's header now names ".shstrtab"
        bad.put("no modinfo", noModinfo.array());
        ByteBuffer badNameIndex = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
        badNameIndex.putShort(0x3E, (short) 7);
        bad.put("name table index", badNameIndex.array());

        for (var e : bad.entrySet()) {
            Path dir = Files.createDirectories(modules.resolve(e.getKey().replace(' ', '-')));
            TestModules.write(dir.resolve("kernel/broken.ko"), e.getValue());
            GuestFetchException thrown = assertThrows(GuestFetchException.class, () -> ModuleIndex.write(dir), e.getKey());
            assertTrue(thrown.getMessage().startsWith("guest module kernel/broken.ko "), e.getKey() + ": " + thrown.getMessage());
            assertEquals(1, thrown.getMessage().lines().count());
            assertTrue(Files.notExists(dir.resolve("modules.dep")), e.getKey());
        }
        Path xz = Files.createDirectories(modules.resolve("bad-xz"));
        TestModules.write(xz.resolve("kernel/broken.ko.xz"), good);
        GuestFetchException thrown = assertThrows(GuestFetchException.class, () -> ModuleIndex.write(xz));
        assertTrue(thrown.getMessage().startsWith("guest module kernel/broken.ko.xz cannot be decompressed"), thrown.getMessage());
    }

    /**
     * Debian's real modules of the cached guest: Flint's index names, for every module, exactly the
     * modules kmod's depmod names, and orders each line so that a module comes before what it needs.
     */
    @Test
    void agreesWithDepmodOnDebiansModules() throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assumeTrue(assets.isFetched(), "the guest is not fetched (GuestAssetsTest fetches it)");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/depmod")) || Files.isExecutable(Path.of("/sbin/depmod")), "no depmod (bin/test installs kmod)");
        Path dir = assets.modulesDir();
        String version = dir.getFileName().toString();
        Path base = dir.getParent().getParent().getParent();
        List<String> depmod = HostTools.run(dir, null, "depmod", "-n", "-b", base.toString(), version).stream()
                .takeWhile(l -> !l.startsWith("#")).toList();
        Map<String, List<String>> expected = parse(depmod);
        Map<String, List<String>> ours = parse(ModuleIndex.render(ModuleIndex.read(dir)).lines().toList());

        assertTrue(expected.size() > 1000, "depmod indexed " + expected.size() + " modules");
        assertEquals(expected.keySet(), ours.keySet());
        for (var e : expected.entrySet()) {
            assertEquals(new HashSet<>(e.getValue()), new HashSet<>(ours.get(e.getKey())), e.getKey());
        }
        for (List<String> line : ours.values()) {
            for (int i = 0; i < line.size(); i++) {
                for (String needed : ours.get(line.get(i))) {
                    assertTrue(line.indexOf(needed) > i, line.get(i) + " needs " + needed + ", which must come later in " + line);
                }
            }
        }
    }

    private static Map<String, List<String>> parse(List<String> lines) {
        Map<String, List<String>> deps = new HashMap<>();
        for (String line : lines) {
            int colon = line.indexOf(':');
            String rest = line.substring(colon + 1).trim();
            deps.put(line.substring(0, colon), rest.isEmpty() ? List.of() : List.of(rest.split(" ")));
        }
        return deps;
    }
}
