package dev.flint.devices.virtio.block;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

import java.util.List;

/** A virtio-blk function on a PCI bus with a test driver that has negotiated and set up its queue. */
final class BlockRig implements AutoCloseable {
    static final long QUEUE_BASE = 0x10000, HEADER = 0x20000, STATUS = 0x20100, DATA = 0x100000;

    final GuestMemory memory;
    final RecordingInterrupts irq = new RecordingInterrupts();
    final Bus io = new Bus("io"), mmio = new Bus("mmio");
    final VirtioPciDevice device;
    final VirtioTestDriver driver;
    final int slot;
    long features;
    VirtioTestDriver.Queue queue;

    BlockRig(DriveConfig drive, long memoryBytes) {
        memory = GuestMemory.allocate(memoryBytes);
        PciHostBridge bridge = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq);
        device = VirtioBlock.pciDevice(drive, memory, irq);
        slot = bridge.addDevice(device);
        driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
    }

    /** Negotiates everything offered, sets up the request queue and sets DRIVER_OK. */
    BlockRig start(boolean msix) { return start(msix, -1L); }

    /** As {@link #start(boolean)}, negotiating {@code wanted} ({@code -1}: everything offered but event-idx). */
    BlockRig start(boolean msix, long wanted) {
        if (msix) driver.enableMsix(2);
        features = driver.negotiate(wanted);
        if (msix) driver.common(0x10, 2, 0);
        queue = driver.setupQueue(0, VirtioBlock.QUEUE_SIZE, QUEUE_BASE, msix ? 1 : 0xFFFF);
        driver.driverOk();
        return this;
    }

    /** One request with the header at HEADER and the status byte at STATUS; returns the status. */
    int request(int type, long sector, List<Segment> data) {
        memory.writeInt(HEADER, type);
        memory.writeInt(HEADER + 4, 0);
        memory.writeLong(HEADER + 8, sector);
        memory.writeByte(STATUS, (byte) 0x7F);
        var segments = new java.util.ArrayList<Segment>();
        segments.add(Segment.in(HEADER, 16));
        segments.addAll(data);
        segments.add(Segment.out(STATUS, 1));
        queue.submit(segments);
        return memory.readByte(STATUS);
    }

    int read(long sector, long address, int length) {
        return request(VirtioBlock.T_IN, sector, List.of(Segment.out(address, length)));
    }

    int write(long sector, long address, int length) {
        return request(VirtioBlock.T_OUT, sector, List.of(Segment.in(address, length)));
    }

    @Override
    public void close() {
        device.close();
        memory.close();
    }
}
