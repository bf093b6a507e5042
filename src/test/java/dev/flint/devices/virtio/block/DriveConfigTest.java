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
    void parsesInterfaceAndSerial() {
        assertEquals(new DriveConfig(Path.of("v.img"), true, DriveConfig.Interface.NVME, "vol-0abc"),
                DriveConfig.parse("v.img,ro,if=nvme,serial=vol-0abc"));
        assertEquals(new DriveConfig(Path.of("a,b.img"), false, DriveConfig.Interface.NVME, null),
                DriveConfig.parse("a,b.img,if=nvme"));
        assertEquals(DriveConfig.Interface.VIRTIO, DriveConfig.parse("v.img,if=virtio").iface());
        assertEquals(new DriveConfig(Path.of("/run/blk.sock"), true, DriveConfig.Interface.VHOST_USER, null),
                DriveConfig.parse("/run/blk.sock,ro,if=vhost-user"));
        assertEquals("vhost-user", DriveConfig.Interface.VHOST_USER.option());
        assertEquals("v.img", DriveConfig.parse("v.img").serialOrDefault());
    }

    @Test
    void rejectsWithOneLineMessages() {
        assertEquals("--drive: unknown interface 'scsi' (if=virtio, if=nvme or if=vhost-user): x.img,if=scsi",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("x.img,if=scsi")).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("x.img,serial=this-serial-is-far-too-long"))
                .getMessage().startsWith("drive serial must be 1 to 20 printable ASCII characters"));
        assertEquals("--drive needs a path: --drive PATH[,ro][,if=virtio|nvme]",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("")).getMessage());
        assertEquals("--drive needs a path before the options: ,ro",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse(",ro")).getMessage());
        assertEquals("--drive: unknown option 'rw' (options: ro, if=virtio|nvme|vhost-user, serial=ID, bandwidth=SIZE/MS[/BURST], "
                        + "ops=SIZE/MS[/BURST]): x.img,rw",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("x.img,rw")).getMessage());
        assertEquals("bandwidth=1M/1000: SIZE, REFILL_MS and ONE_TIME_BURST are whole numbers",
                assertThrows(IllegalArgumentException.class, () -> DriveConfig.parse("x.img,bandwidth=1M/1000")).getMessage());
    }

    @Test
    void rateLimitOptionsBecomeTheDrivesBuckets() {
        DriveConfig d = DriveConfig.parse("a,b.img,if=nvme,bandwidth=1048576/1000,ops=100/1000/50");
        assertEquals(java.nio.file.Path.of("a,b.img"), d.path());
        assertEquals(new dev.flint.devices.ratelimit.RateLimit(new dev.flint.devices.ratelimit.BucketConfig(1048576, 0, 1000),
                new dev.flint.devices.ratelimit.BucketConfig(100, 50, 1000)), d.rateLimit());
        assertEquals(dev.flint.devices.ratelimit.RateLimit.NONE, DriveConfig.parse("x.img").rateLimit());
    }
}
