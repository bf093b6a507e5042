package dev.flint.devices.nvme;

import dev.flint.devices.RecordingFastPaths;
import dev.flint.devices.nvme.NvmeTestDriver.Command;
import dev.flint.devices.nvme.NvmeTestDriver.Completion;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.machine.IoFastPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Shadow doorbells (Doorbell Buffer Config) as Linux uses them, and the engine shortcut they allow: while
 * they are on, the I/O queues' SQ doorbells are diverted to the I/O thread's eventfd (kvm ioeventfd),
 * the tail comes from guest memory and the controller says through the event index when to ring again.
 */
class NvmeShadowDoorbellTest {
    private static final long SHADOW = 0x1E0000, EVENT_INDEX = 0x1E1000;

    @TempDir
    Path dir;

    @Test
    void ringsByEventfdWithTheTailInGuestMemoryAndTheDiversionEndsWithAReset() throws IOException {
        Path img = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        RecordingFastPaths engine = new RecordingFastPaths(8);
        try (NvmeRig rig = new NvmeRig(List.of(new DriveConfig(img, false, DriveConfig.Interface.NVME, null)), 2, 16 << 20,
                new IoFastPaths(Optional.of(engine), Optional.of(engine))).start()) {
            assertTrue(engine.registrations.stream().noneMatch(r -> r.open), "no diversion before shadow doorbells are on");
            assertEquals(NvmeSpec.SC_INVALID_FIELD, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_DOORBELL_BUFFER_CONFIG)
                    .prp1(SHADOW + 8).prp2(EVENT_INDEX)).status(), "pages must be page aligned");
            rig.memory.write(SHADOW, new byte[8192]);
            assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_DOORBELL_BUFFER_CONFIG)
                    .prp1(SHADOW).prp2(EVENT_INDEX)).status());
            var open = engine.registrations.stream().filter(r -> r.open).toList();
            assertEquals(List.of(NvmeTestDriver.BAR + 0x1008, NvmeTestDriver.BAR + 0x1010), open.stream().map(r -> r.address).toList(),
                    "both I/O queues' SQ tail doorbells, not the admin queue's");
            assertTrue(open.stream().allMatch(r -> r.width == 4));

            for (int round = 1; round <= 3; round++) {
                var q = rig.queue;
                q.put(rig.rw(NvmeSpec.IO_READ, 1, 0, 8, NvmeRig.DATA));
                rig.memory.writeInt(SHADOW + 8, q.tail); // the driver's shadow tail ...
                open.getFirst().eventfd.signal();        // ... and the ring as KVM delivers it
                Completion c = pollWithoutMmio(rig);
                assertNotNull(c, "round " + round);
                assertEquals(0, c.status());
                assertEquals(q.tail, rig.memory.readInt(EVENT_INDEX + 8), "ring again once the tail passes what was served");
            }
            assertEquals(3L, rig.device.counters().get("notify_eventfd"));
            assertEquals(3L, rig.device.counters().get("read_count"));

            rig.driver.enable(); // a controller reset: shadow doorbells off, registers only
            assertTrue(engine.registrations.stream().noneMatch(r -> r.open), "the diversion ends with the reset");
            rig.queue = rig.driver.createIoQueue(1);
            assertEquals(0, rig.read(1, 0, 8, NvmeRig.DATA).status(), "and the registers serve again");
        }
    }

    /** The next I/O completion, consumed through the shadow CQ head (what Linux does with shadow doorbells on). */
    private static Completion pollWithoutMmio(NvmeRig rig) {
        var q = rig.queue;
        long entry = q.cq + (long) q.head * 16;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (((rig.memory.readInt(entry + 12) >>> 16) & 1) != (q.phase ? 1 : 0)) {
            if (System.nanoTime() > deadline) return null;
            Thread.onSpinWait();
        }
        int dw3 = rig.memory.readInt(entry + 12);
        if (++q.head == q.size) {
            q.head = 0;
            q.phase = !q.phase;
        }
        rig.memory.writeInt(SHADOW + 12, q.head);
        return new Completion(rig.memory.readInt(entry), 0, 1, dw3 & 0xFFFF, (dw3 >>> 17) & 0xFF);
    }
}
