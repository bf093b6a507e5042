package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.block.DiskImage;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.devices.virtio.block.VirtioBlock;
import dev.flint.machine.GuestMemory;

/**
 * A disk image served as vhost-user-blk: Flint's own virtio-blk model ({@link VirtioBlock}) on rings in a
 * front end's memory. The image is opened and locked once and outlives every connection.
 */
public final class BlockBackend implements BackendDevice, AutoCloseable {
    private final DiskImage image;
    private final String serial;
    /** Answers features and configuration; never touches memory. */
    private final VirtioBlock describing;

    private BlockBackend(DiskImage image, String serial) {
        this.image = image;
        this.serial = serial;
        this.describing = new VirtioBlock(image, null, serial);
    }

    /** Opens and locks the drive's image (a one-line {@code DiskImageException} if it cannot). */
    public static BlockBackend open(DriveConfig drive) {
        return new BlockBackend(DiskImage.open(drive), drive.serialOrDefault());
    }

    @Override
    public long features() {
        return describing.features() | VirtioSpec.F_VERSION_1 | VirtioSpec.F_INDIRECT_DESC;
    }

    @Override public int queueCount() { return describing.queueCount(); }
    @Override public int maxQueueSize() { return describing.maxQueueSize(); }

    @Override
    public byte[] config(int offset, int size) {
        byte[] out = new byte[size];
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at < describing.configSize()) out[i] = (byte) describing.readConfig(at, 1);
        }
        return out;
    }

    @Override
    public VirtioDevice bind(GuestMemory memory) {
        return new VirtioBlock(image, memory, serial);
    }

    public long sectors() { return image.sectors(); }

    @Override
    public void close() { image.close(); }
}
