package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.machine.GuestMemory;
import dev.flint.vmm.Engines;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flint snapshot rebase}: a Full memory file plus the Diff files taken after it, merged oldest first,
 * give RAM as the last diff found it; files that do not belong together are refused with one line and
 * leave the base untouched.
 */
class SnapshotCommandTest {
    private static final long RAM = 1 << 20;
    private final CliRunner cli = new CliRunner(new Engines(List.of()));

    @Test
    void mergesDiffsOntoTheBaseOldestFirst(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.mem"), d1 = dir.resolve("d1.mem"), d2 = dir.resolve("d2.mem");
        byte[] expected;
        try (GuestMemory memory = GuestMemory.allocate(RAM)) {
            var log = memory.trackDirtyPages();
            memory.write(0x3000, "base".getBytes());
            memory.write(0x8000, "base too".getBytes());
            memory.writeTo(base);
            log.clear();
            memory.write(0x3000, "first diff".getBytes());
            memory.write(0x20000, "new in the first".getBytes());
            memory.writeDirtyTo(d1);
            log.clear();
            memory.write(0x3000, "second".getBytes());
            memory.write(0x8000, new byte[8]);
            memory.writeDirtyTo(d2);
            expected = memory.segment().toArray(ValueLayout.JAVA_BYTE);
        }
        var r = cli.run("snapshot", "rebase", "--memory-path", base.toString(), "--diff-path", d1.toString(),
                "--diff-path", d2.toString());
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals(List.of("merged " + d1 + " onto " + base + ": 2 pages in 2 runs",
                "merged " + d2 + " onto " + base + ": 2 pages in 2 runs"), r.stdout().lines().toList());
        assertArrayEquals(expected, Files.readAllBytes(base));
    }

    @Test
    void refusesFilesThatDoNotBelongTogether(@TempDir Path dir) throws Exception {
        Path base = Files.write(dir.resolve("base.mem"), new byte[8192]);
        Path other = Files.write(dir.resolve("other.mem"), new byte[4096]);
        var r = cli.run("snapshot", "merge", "--memory-path", base.toString(), "--diff-path", other.toString());
        assertEquals(Main.FAILED, r.exitCode());
        assertEquals(List.of("flint: the diff " + other + " holds 4096 bytes but the base " + base
                + " holds 8192: not memory files of the same guest"), r.stderrLines());
        var missing = cli.run("snapshot", "rebase", "--memory-path", base.toString());
        assertEquals(Main.USAGE, missing.exitCode());
        assertTrue(missing.stderr().contains("--diff-path"), missing.stderr());
        assertArrayEquals(new byte[8192], Files.readAllBytes(base));
    }
}
