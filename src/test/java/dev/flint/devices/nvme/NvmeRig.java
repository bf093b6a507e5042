package dev.flint.devices.nvme;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.bus.Bus;

import java.util.List;

/** An NVMe controller on a PCI bus with a test driver that probed and enabled it and made I/O queue 1. */
final class NvmeRig implements AutoCloseable {
    static final long DATA = 0x100000, LIST = 0xF0000;

    final GuestMemory memory;
    final RecordingInterrupts irq = new RecordingInterrupts();
    final Bus io = new Bus("io"), mmio = new Bus("mmio");
    final NvmePciFunction device;
    final NvmeTestDriver driver;
    NvmeTestDriver.Queue queue;

    NvmeRig(List<DriveConfig> drives, int ioQueues, long memoryBytes) {
        this(drives, ioQueues, memoryBytes, IoFastPaths.NONE);
    }

    /** With the engine shortcuts {@code paths} offered before the function goes on the bus, as the board does. */
    NvmeRig(List<DriveConfig> drives, int ioQueues, long memoryBytes, IoFastPaths paths) {
        memory = GuestMemory.allocate(memoryBytes);
        PciHostBridge bridge = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq);
        device = NvmePciFunction.create(NvmeIdentity.of("vol0123456789abcdef0"), drives, ioQueues, memory, irq);
        device.useFastPaths(paths);
        int slot = bridge.addDevice(device);
        driver = new NvmeTestDriver(io, mmio, memory, slot).probe();
    }

    NvmeRig start() {
        driver.enable();
        queue = driver.createIoQueue(1);
        return this;
    }

    NvmeTestDriver.Completion read(int nsid, long lba, int blocks, long address) {
        return queue.run(rw(NvmeSpec.IO_READ, nsid, lba, blocks, address));
    }

    NvmeTestDriver.Completion write(int nsid, long lba, int blocks, long address) {
        return queue.run(rw(NvmeSpec.IO_WRITE, nsid, lba, blocks, address));
    }

    /** A Read or Write with PRPs for a buffer of contiguous pages at {@code address} (list at LIST if needed). */
    NvmeTestDriver.Command rw(int opcode, int nsid, long lba, int blocks, long address) {
        long bytes = (long) blocks * 512;
        long firstPage = 4096 - (address & 4095);
        long prp2 = 0;
        if (bytes > firstPage) {
            long next = (address & ~4095L) + 4096;
            if (bytes - firstPage <= 4096) {
                prp2 = next;
            } else {
                prp2 = LIST;
                int n = 0;
                for (long left = bytes - firstPage; left > 0; left -= 4096, n++) memory.writeLong(LIST + 8L * n, next + 4096L * n);
            }
        }
        return NvmeTestDriver.Command.of(opcode).nsid(nsid).prp1(address).prp2(prp2).lba(lba, blocks);
    }

    @Override
    public void close() {
        device.close();
        memory.close();
    }
}
