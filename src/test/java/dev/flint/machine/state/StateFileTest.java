package dev.flint.machine.state;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class StateFileTest {
    @TempDir Path dir;

    private Path sample() {
        StateWriter w = new StateWriter();
        try (var s = w.section("cpu.0")) {
            s.putLong(0xFFFF_FFFF_8100_0000L).putInt(-7).putBoolean(true).putString("ok")
                    .putLongs(new long[] {1, 2, 3}).putInts(new int[] {4, 5}).putBytes(new byte[] {9, 8});
        }
        try (var s = w.section("serial")) {
            s.putInt(0x3F8);
        }
        Path p = dir.resolve("vm.state");
        StateFile.write(p, "emu", w);
        return p;
    }

    @Test
    void roundTripsEverySection() {
        StateReader r = StateFile.read(sample(), "emu");
        var cpu = r.section("cpu.0");
        assertEquals(0xFFFF_FFFF_8100_0000L, cpu.getLong());
        assertEquals(-7, cpu.getInt());
        assertTrue(cpu.getBoolean());
        assertEquals("ok", cpu.getString());
        assertArrayEquals(new long[] {1, 2, 3}, cpu.getLongs(3));
        assertArrayEquals(new int[] {4, 5}, cpu.getInts(2));
        assertArrayEquals(new byte[] {9, 8}, cpu.getBytes(2));
        cpu.end();
        var serial = r.section("serial");
        assertEquals(0x3F8, serial.getInt());
        serial.end();
        assertFalse(Files.exists(dir.resolve("vm.state.tmp")), "no temporary file left");
    }

    @Test
    void aSectionReadAsTheWrongShapeIsRefused() {
        StateReader r = StateFile.read(sample(), "emu");
        var serial = r.section("serial");
        assertEquals("state of serial ends early", assertThrows(SnapshotException.class, serial::getLong).getMessage());
        var cpu = r.section("cpu.0");
        cpu.getLong();
        cpu.getInt();
        cpu.getBoolean();
        cpu.getString();
        assertTrue(assertThrows(SnapshotException.class, () -> cpu.getLongs(4)).getMessage().contains("does not fit this machine"));
        assertEquals("the snapshot holds no state for rtc", assertThrows(SnapshotException.class, () -> r.section("rtc")).getMessage());
        var partly = r.section("serial");
        assertThrows(SnapshotException.class, partly::end, "unread bytes are a layout mismatch");
    }

    @Test
    void refusesATruncatedFile() throws Exception {
        Path p = sample();
        byte[] all = Files.readAllBytes(p);
        for (int keep : new int[] {all.length - 1, all.length - 40, 12}) {
            Files.write(p, Arrays.copyOf(all, keep));
            String m = assertThrows(SnapshotException.class, () -> StateFile.read(p, "emu")).getMessage();
            assertTrue(m.startsWith(p + " is truncated"), m);
        }
    }

    @Test
    void refusesACorruptedFile() throws Exception {
        Path p = sample();
        byte[] all = Files.readAllBytes(p);
        all[all.length / 2] ^= 0x10;
        Files.write(p, all);
        assertEquals(p + " is corrupted (its SHA-256 does not match its content)",
                assertThrows(SnapshotException.class, () -> StateFile.read(p, "emu")).getMessage());
    }

    @Test
    void refusesAnotherFormatVersion() throws Exception {
        Path p = sample();
        byte[] all = Files.readAllBytes(p);
        ByteBuffer.wrap(all).putInt(8, StateFile.FORMAT_VERSION + 1);
        Files.write(p, all);
        assertEquals(p + " has snapshot format version " + (StateFile.FORMAT_VERSION + 1) + "; this Flint reads version "
                + StateFile.FORMAT_VERSION, assertThrows(SnapshotException.class, () -> StateFile.read(p, "emu")).getMessage());
    }

    @Test
    void refusesAFileOfTheOtherEngine() {
        Path p = sample();
        assertEquals(p + " was taken on the emu engine; this VMM runs the kvm engine",
                assertThrows(SnapshotException.class, () -> StateFile.read(p, "kvm")).getMessage());
    }

    @Test
    void refusesSomethingElseEntirely() throws Exception {
        Path p = dir.resolve("mem");
        Files.write(p, new byte[4096]);
        assertEquals(p + " is not a Flint snapshot state file",
                assertThrows(SnapshotException.class, () -> StateFile.read(p, "emu")).getMessage());
        Path missing = dir.resolve("nope");
        assertTrue(assertThrows(SnapshotException.class, () -> StateFile.read(missing, "emu")).getMessage()
                .startsWith("cannot read snapshot " + missing));
    }
}
