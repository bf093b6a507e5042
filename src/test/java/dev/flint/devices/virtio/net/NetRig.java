package dev.flint.devices.virtio.net;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.mmds.MmdsNetStack;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

/** A virtio-net function on a PCI bus over a {@link SocketPairBackend}, with a host-side test driver. */
final class NetRig implements AutoCloseable {
    static final long RX_BASE = 0x10000, TX_BASE = 0x20000, BUFFERS = 0x100000;
    static final MacAddress MAC = MacAddress.parse("06:00:0a:00:00:02");

    final GuestMemory memory;
    final RecordingInterrupts irq = new RecordingInterrupts();
    final Bus io = new Bus("io"), mmio = new Bus("mmio");
    final SocketPairBackend backend = new SocketPairBackend();
    final VirtioPciDevice device;
    final VirtioTestDriver driver;
    long features;
    VirtioTestDriver.Queue rx, tx;

    NetRig(long memoryBytes, Integer mtu) {
        this(memoryBytes, mtu, null);
    }

    /** @param mmds the metadata service this interface answers for, or null */
    NetRig(long memoryBytes, Integer mtu, Mmds mmds) {
        this(memoryBytes, mtu, mmds, dev.flint.devices.ratelimit.RateLimit.NONE, dev.flint.devices.ratelimit.RateLimit.NONE);
    }

    /** With receive and transmit rate limits. */
    NetRig(long memoryBytes, Integer mtu, Mmds mmds, dev.flint.devices.ratelimit.RateLimit rx,
           dev.flint.devices.ratelimit.RateLimit tx) {
        memory = GuestMemory.allocate(memoryBytes);
        VirtioNet net = new VirtioNet(backend, memory, MAC, mtu, rx, tx);
        if (mmds != null) net.serveMmds(new MmdsNetStack(mmds));
        device = VirtioNet.attach(net, memory, irq);
        int slot = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq).addDevice(device);
        driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
    }

    /** Negotiates {@code wanted} (of what is offered), sets up both queues with MSI-X vectors 1 and 2, DRIVER_OK. */
    NetRig start(long wanted) {
        driver.enableMsix(3);
        features = driver.negotiate(wanted);
        driver.common(0x10, 2, 0);
        rx = driver.setupQueue(VirtioNet.RX, VirtioNet.QUEUE_SIZE, RX_BASE, 1);
        tx = driver.setupQueue(VirtioNet.TX, VirtioNet.QUEUE_SIZE, TX_BASE, 2);
        driver.driverOk();
        return this;
    }

    @Override
    public void close() {
        device.close();
        memory.close();
    }
}
