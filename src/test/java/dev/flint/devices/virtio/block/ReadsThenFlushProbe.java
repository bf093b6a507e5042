package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.VirtioTestDriver.Segment;

import java.nio.file.Path;
import java.util.List;

/**
 * Run in a JVM of its own by {@link VirtioBlockDurabilityTest}: publishes eight 1 MiB reads, a 4 KiB write of 0x5A at
 * sector 16 and a FLUSH in one notification (one batch, whose large reads are partly copied by io_uring's kernel
 * workers), prints "flushed" as soon as the flush's status byte says OK, and waits to be killed.
 */
public final class ReadsThenFlushProbe {
    public static void main(String[] args) throws InterruptedException {
        BlockRig rig = new BlockRig(new DriveConfig(Path.of(args[0]), false), 48L << 20).start(true);
        long mib = 1 << 20, flushStatus = BlockRig.STATUS + 9, writeData = BlockRig.DATA + 8 * mib;
        for (int i = 0; i < 8; i++) {
            long header = BlockRig.HEADER + 16L * i;
            rig.memory.writeInt(header, VirtioBlock.T_IN);
            rig.memory.writeLong(header + 8, 2048L * i);
            rig.queue.publish(rig.queue.addChain(List.of(Segment.in(header, 16), Segment.out(BlockRig.DATA + i * mib, mib),
                    Segment.out(BlockRig.STATUS + i, 1))));
        }
        byte[] data = new byte[4096];
        java.util.Arrays.fill(data, (byte) 0x5A);
        rig.memory.write(writeData, data, 0, data.length);
        long writeHeader = BlockRig.HEADER + 16 * 8, flushHeader = BlockRig.HEADER + 16 * 9;
        rig.memory.writeInt(writeHeader, VirtioBlock.T_OUT);
        rig.memory.writeLong(writeHeader + 8, 16);
        rig.queue.publish(rig.queue.addChain(List.of(Segment.in(writeHeader, 16), Segment.in(writeData, 4096),
                Segment.out(BlockRig.STATUS + 8, 1))));
        rig.memory.writeInt(flushHeader, VirtioBlock.T_FLUSH);
        rig.memory.writeLong(flushHeader + 8, 0);
        rig.memory.writeByte(flushStatus, (byte) 0x7F);
        rig.queue.publish(rig.queue.addChain(List.of(Segment.in(flushHeader, 16), Segment.out(flushStatus, 1))));
        rig.queue.kick();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (rig.memory.readByte(flushStatus) == 0x7F) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("flush not completed");
            Thread.onSpinWait();
        }
        if (rig.memory.readByte(flushStatus) != VirtioBlock.S_OK) throw new IllegalStateException("flush failed");
        System.out.println("flushed");
        System.out.flush();
        Thread.sleep(600_000);
    }
}
