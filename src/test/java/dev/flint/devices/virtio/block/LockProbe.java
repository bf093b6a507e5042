package dev.flint.devices.virtio.block;

/** Run in a second JVM by {@link DiskImageLockTest}: opens an image as another VMM would and says what happened. */
public final class LockProbe {
    private LockProbe() { }

    public static void main(String[] args) {
        try (DiskImage image = DiskImage.open(DriveConfig.parse(args[0]))) {
            System.out.println("opened " + image.sectors());
        } catch (DiskImageException e) {
            System.out.println(e.getMessage());
        }
    }
}
