package dev.flint.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Writes {@code modules.dep} for a kernel's module tree in Java, so a fetch needs no depmod (kmod) on the
 * host. Debian generates the index at install time, not in the package.
 *
 * <p>Each module's dependencies come from its own {@code .modinfo} ELF section: modpost records there
 * ({@code depends=a,b}) the modules whose symbols it uses, the same facts depmod derives from the symbol
 * tables. A line lists every module the first one needs, directly or not, ordered so that a module comes
 * before the ones it needs (modprobe loads from the end of the line), as depmod writes it; busybox's
 * modprobe reads exactly this file. kmod's binary indexes ({@code .bin}) and the alias tables are not
 * written: a guest that wants kmod's modprobe runs depmod itself.
 *
 * <p>The files come from Debian's signed packages, but are still read as untrusted input: every offset is
 * checked against the file, and a malformed module is one clear error naming it.
 */
final class ModuleIndex {
    private static final int MAX_MODINFO = 1 << 20;

    private ModuleIndex() {}

    /** A module as modules.dep names it: its path under lib/modules/VERSION and what it depends on. */
    record Module(String path, String name, List<String> depends) {}

    /** Reads every module under {@code modulesDir} and writes {@code modulesDir/modules.dep}; returns the module count. */
    static int write(Path modulesDir) throws IOException {
        List<Module> modules = read(modulesDir);
        // Written aside and renamed, so a reader never sees half an index (the cache is shared).
        Path partial = Files.createTempFile(modulesDir, ".modules.dep-", ".tmp");
        try {
            Files.writeString(partial, render(modules), StandardCharsets.UTF_8);
            Files.move(partial, modulesDir.resolve("modules.dep"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
        return modules.size();
    }

    static List<Module> read(Path modulesDir) throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(modulesDir)) {
            files = walk.filter(Files::isRegularFile).filter(p -> isModule(p.getFileName().toString())).sorted().toList();
        }
        List<Module> modules = new ArrayList<>(files.size());
        for (Path file : files) {
            String path = modulesDir.relativize(file).toString();
            Map<String, String> info = modinfo(file, path);
            String name = info.getOrDefault("name", defaultName(file.getFileName().toString()));
            String depends = info.getOrDefault("depends", "");
            List<String> deps = depends.isEmpty() ? List.of() : List.of(depends.split(","));
            modules.add(new Module(path, name, deps));
        }
        return modules;
    }

    /**
     * The text of modules.dep: one line per module, {@code path: dep-path ...}, with each dependency after
     * every module of the line that needs it.
     */
    static String render(List<Module> modules) {
        Map<String, Module> byName = new HashMap<>();
        for (Module m : modules) byName.putIfAbsent(normalize(m.name()), m);
        StringBuilder out = new StringBuilder();
        for (Module m : modules) {
            out.append(m.path()).append(':');
            for (Module dep : closure(m, byName)) out.append(' ').append(dep.path());
            out.append('\n');
        }
        return out.toString();
    }

    /**
     * Every module {@code m} needs, in an order where each comes before those it needs: a depth-first
     * post-order gives dependencies before their users, reversed it gives users first. A dependency cycle
     * (which the kernel refuses to load anyway) or an unknown name cannot loop: each module is visited once.
     */
    private static List<Module> closure(Module m, Map<String, Module> byName) {
        List<Module> postOrder = new ArrayList<>();
        Set<String> visited = new HashSet<>();
        visited.add(m.path());
        for (String dep : m.depends()) visit(byName.get(normalize(dep)), byName, visited, postOrder);
        return postOrder.reversed();
    }

    private static void visit(Module m, Map<String, Module> byName, Set<String> visited, List<Module> postOrder) {
        if (m == null || !visited.add(m.path())) return;
        for (String dep : m.depends()) visit(byName.get(normalize(dep)), byName, visited, postOrder);
        postOrder.add(m);
    }

    /** The kernel treats '-' and '_' in module names alike. */
    private static String normalize(String name) { return name.replace('-', '_'); }

    static boolean isModule(String fileName) {
        return fileName.endsWith(".ko") || fileName.endsWith(".ko.xz") || fileName.endsWith(".ko.gz");
    }

    private static String defaultName(String fileName) {
        return normalize(fileName.substring(0, fileName.indexOf(".ko")));
    }

    /** The key=value strings of the module's .modinfo section (the first value of a repeated key wins). */
    static Map<String, String> modinfo(Path file, String shownAs) throws IOException {
        ByteBuffer elf = elfBytes(file, shownAs);
        Map<String, String> info = new LinkedHashMap<>();
        byte[] section = modinfoSection(elf, shownAs);
        int start = 0;
        for (int i = 0; i <= section.length; i++) {
            if (i == section.length || section[i] == 0) {
                if (i > start) {
                    String entry = new String(section, start, i - start, StandardCharsets.UTF_8);
                    int eq = entry.indexOf('=');
                    if (eq > 0) info.putIfAbsent(entry.substring(0, eq), entry.substring(eq + 1));
                }
                start = i + 1;
            }
        }
        return info;
    }

    /** An uncompressed .ko is mapped (only its headers and .modinfo get touched); a compressed one is inflated. */
    private static ByteBuffer elfBytes(Path file, String shownAs) throws IOException {
        String name = file.getFileName().toString();
        if (name.endsWith(".ko")) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = name.endsWith(".xz") ? new XZInputStream(raw) : new GZIPInputStream(raw)) {
            return ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException | UncheckedIOException e) {
            throw new GuestFetchException("guest module " + shownAs + " cannot be decompressed: " + e.getMessage(), e);
        }
    }

    private static byte[] modinfoSection(ByteBuffer elf, String shownAs) {
        long size = elf.capacity();
        // ELF64, little-endian, relocatable: what x86-64 kernel modules are.
        if (size < 64 || elf.getInt(0) != 0x464C457F || elf.get(4) != 2 || elf.get(5) != 1) {
            throw bad(shownAs, "is not a 64-bit little-endian ELF file");
        }
        long shoff = elf.getLong(0x28);
        int shentsize = Short.toUnsignedInt(elf.getShort(0x3A));
        int shnum = Short.toUnsignedInt(elf.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(elf.getShort(0x3E));
        if (shentsize < 64 || shstrndx >= shnum || shoff < 0 || shoff > size || (long) shnum * shentsize > size - shoff) {
            throw bad(shownAs, "has a section header table outside the file");
        }
        long[] names = section(elf, shoff + (long) shstrndx * shentsize, shownAs);
        for (int i = 0; i < shnum; i++) {
            long header = shoff + (long) i * shentsize;
            long nameOffset = Integer.toUnsignedLong(elf.getInt((int) header));
            if (".modinfo".equals(cString(elf, names[0], names[1], nameOffset))) {
                long[] modinfo = section(elf, header, shownAs);
                if (modinfo[1] > MAX_MODINFO) throw bad(shownAs, "has a .modinfo section of " + modinfo[1] + " bytes");
                byte[] bytes = new byte[(int) modinfo[1]];
                elf.get((int) modinfo[0], bytes);
                return bytes;
            }
        }
        throw bad(shownAs, "has no .modinfo section");
    }

    /** {offset, size} of the section whose header is at {@code header}, checked to lie inside the file. */
    private static long[] section(ByteBuffer elf, long header, String shownAs) {
        long offset = elf.getLong((int) header + 0x18);
        long length = elf.getLong((int) header + 0x20);
        if (offset < 0 || length < 0 || offset > elf.capacity() || length > elf.capacity() - offset) {
            throw bad(shownAs, "has a section outside the file");
        }
        return new long[] {offset, length};
    }

    private static String cString(ByteBuffer elf, long tableOffset, long tableSize, long at) {
        if (at >= tableSize) return null;
        int start = (int) (tableOffset + at);
        int end = start;
        int limit = (int) (tableOffset + tableSize);
        while (end < limit && elf.get(end) != 0) end++;
        byte[] bytes = new byte[end - start];
        elf.get(start, bytes);
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    private static GuestFetchException bad(String shownAs, String what) {
        return new GuestFetchException("guest module " + shownAs + " " + what);
    }
}
