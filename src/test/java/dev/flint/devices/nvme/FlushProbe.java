package dev.flint.devices.nvme;

import dev.flint.devices.virtio.block.DriveConfig;

import java.nio.file.Path;
import java.util.List;

/**
 * Run in a JVM of its own by {@link NvmeDurabilityTest}: writes 8 blocks of 0x5A at LBA 16 of the image
 * through the controller, flushes, prints "flushed" and waits to be killed.
 */
public final class FlushProbe {
    public static void main(String[] args) throws InterruptedException {
        NvmeRig rig = new NvmeRig(List.of(new DriveConfig(Path.of(args[0]), false, DriveConfig.Interface.NVME, null)), 1, 16 << 20).start();
        byte[] data = new byte[4096];
        java.util.Arrays.fill(data, (byte) 0x5A);
        rig.memory.write(NvmeRig.DATA, data);
        if (rig.write(1, 16, 8, NvmeRig.DATA).status() != 0) throw new IllegalStateException("write failed");
        if (rig.queue.run(NvmeTestDriver.Command.of(NvmeSpec.IO_FLUSH).nsid(1)).status() != 0) throw new IllegalStateException("flush failed");
        System.out.println("flushed");
        System.out.flush();
        Thread.sleep(600_000);
    }
}
