package dev.flint.devices.virtio.block;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DriveConfigTest {
    @Test
    void parsesPathAndReadOnlyFlag() {
        assertEquals(new DriveConfig(Path.of("/images/root.img"), false), DriveConfig.parse("/images/root.img"));
        assertEquals(new DriveConfig(Path.of("root.img"), true), DriveConfig.parse("root.img,ro"));
        assertEquals(new DriveConfig(Path.of("a,b.img"), true), DriveConfig.parse("a,b.img,ro"), "commas in paths survive");
    }

    @Test
    void rejectsWithOneLineMessages() {
        assertEquals("--drive needs a path: --drive PATH[,ro]",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("")).getMessage());
        assertEquals("--drive needs a path before the options: ,ro",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse(",ro")).getMessage());
        assertEquals("--drive: unknown option 'rw' (the only option is ro): x.img,rw",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("x.img,rw")).getMessage());
    }
}
