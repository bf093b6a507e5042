package dev.flint.devices.virtio;

/**
 * Numbers from the virtio 1.x specification that the transport and the devices share: device status
 * bits, transport feature bits, and the "no vector" marker of the MSI-X vector registers.
 */
public final class VirtioSpec {
    private VirtioSpec() { }

    public static final int STATUS_ACKNOWLEDGE = 0x01, STATUS_DRIVER = 0x02, STATUS_DRIVER_OK = 0x04,
            STATUS_FEATURES_OK = 0x08, STATUS_NEEDS_RESET = 0x40, STATUS_FAILED = 0x80;

    /** Descriptors may point at a table of further descriptors. */
    public static final long F_INDIRECT_DESC = 1L << 28;
    /**
     * VIRTIO_F_EVENT_IDX (VIRTIO_RING_F_EVENT_IDX): instead of the rings' on/off flags, the driver names the
     * used index it wants an interrupt at (used_event, after the available ring) and the device names the
     * available index it wants a notification at (avail_event, after the used ring).
     */
    public static final long F_EVENT_IDX = 1L << 29;
    /** The modern (1.x) interface; a driver that does not accept it is refused at FEATURES_OK. */
    public static final long F_VERSION_1 = 1L << 32;

    /** An MSI-X vector register holding this value means "do not signal". */
    public static final int NO_VECTOR = 0xFFFF;

    /** PCI identity: every virtio function uses this vendor; modern device IDs are 0x1040 + device type. */
    public static final int PCI_VENDOR = 0x1AF4, PCI_DEVICE_BASE = 0x1040, PCI_REVISION = 1;
    public static final int PCI_SUBSYSTEM_VENDOR = 0x1AF4, PCI_SUBSYSTEM_ID = 0x1100;
}
