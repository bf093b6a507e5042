package dev.flint.devices.virtio.net;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A host TAP interface opened through /dev/net/tun in the mode virtio-net needs: Ethernet frames
 * (IFF_TAP) with no packet-information prefix (IFF_NO_PI) but with a virtio_net_hdr in front of each
 * frame (IFF_VNET_HDR, 12 bytes as virtio 1.x lays it out), so checksum and segmentation offloads pass
 * between the guest and the host stack unchanged.
 *
 * <p>TUNSETIFF attaches to an existing TAP of that name or creates one. A TAP it creates is not
 * persistent: the kernel removes it when this descriptor closes (also if Flint is killed). A persistent
 * TAP made beforehand ({@code ip tuntap add NAME mode tap}) is attached and left in place.
 */
public final class TapDevice implements NetBackend {
    static final String TUN = "/dev/net/tun";
    // _IOW('T', n, int) and _IOR('T', 210, unsigned int) from <linux/if_tun.h>.
    static final long TUNSETIFF = 0x4004_54CAL, TUNSETOFFLOAD = 0x4004_54D0L, TUNGETIFF = 0x8004_54D2L,
            TUNSETVNETHDRSZ = 0x4004_54D8L;
    static final short IFF_TAP = 0x0002, IFF_NO_PI = 0x1000, IFF_VNET_HDR = 0x4000, IFF_PERSIST = 0x0800;
    public static final int TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04;
    /** struct ifreq: a 16-byte name, then a union whose first member we use is the short flags. */
    private static final int IFREQ_BYTES = 40, IFR_FLAGS = 16;

    private final FileDescriptor fd;
    private final String name;
    private final boolean persistent;

    private TapDevice(FileDescriptor fd, String name, boolean persistent) {
        this.fd = fd;
        this.name = name;
        this.persistent = persistent;
    }

    /** Attaches to or creates TAP {@code name}; a {@link TapException} (one line) if the host refuses. */
    public static TapDevice open(String name, int vnetHeaderBytes) {
        String problem = NetConfig.nameProblem(name);
        if (problem != null) throw new TapException(problem, null);
        FileDescriptor fd;
        try {
            fd = FileDescriptor.open(TUN, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        } catch (ErrnoException e) {
            throw new TapException(switch (e.errno()) {
                case Libc.ENOENT -> TUN + " does not exist (load the tun module: modprobe tun)";
                case Libc.EACCES, Libc.EPERM -> "no permission to open " + TUN + " (TAP networking needs root or CAP_NET_ADMIN)";
                default -> "cannot open " + TUN + ": " + Libc.strerror(e.errno());
            }, e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = arena.allocate(IFREQ_BYTES, 8);
            byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            MemorySegment.copy(bytes, 0, ifr, ValueLayout.JAVA_BYTE, 0, bytes.length);
            ifr.set(ValueLayout.JAVA_SHORT, IFR_FLAGS, (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            try {
                fd.ioctl(TUNSETIFF, ifr);
            } catch (ErrnoException e) {
                throw new TapException(switch (e.errno()) {
                    case Libc.EPERM, Libc.EACCES -> "no permission to create or attach TAP device " + name
                            + " (needs CAP_NET_ADMIN, or a persistent TAP owned by this user)";
                    case Libc.EINVAL -> "cannot use " + name + " as a TAP device: an interface of that name exists and is"
                            + " not a single-queue TAP";
                    case Libc.EBUSY -> "TAP device " + name + " is in use by another process";
                    default -> "cannot attach TAP device " + name + ": " + Libc.strerror(e.errno());
                }, e);
            }
            MemorySegment size = arena.allocate(ValueLayout.JAVA_INT);
            size.set(ValueLayout.JAVA_INT, 0, vnetHeaderBytes);
            fd.ioctl(TUNSETVNETHDRSZ, size);
            fd.ioctl(TUNGETIFF, ifr);
            boolean persistent = (ifr.get(ValueLayout.JAVA_SHORT, IFR_FLAGS) & IFF_PERSIST) != 0;
            TapDevice tap = new TapDevice(fd, name, persistent);
            tap.enableOffloads(0); // until a driver says what it takes, the host finishes every frame
            return tap;
        } catch (RuntimeException e) {
            fd.close();
            if (e instanceof TapException t) throw t;
            throw new TapException("cannot set up TAP device " + name + ": " + e.getMessage(), e);
        }
    }

    public String name() { return name; }

    /** Whether the TAP outlives Flint (it existed as a persistent TAP); otherwise it goes when closed. */
    public boolean persistent() { return persistent; }

    @Override public int fd() { return fd.fd(); }

    @Override
    public void enableOffloads(int tunFlags) {
        fd.ioctl(TUNSETOFFLOAD, tunFlags & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
    }

    @Override
    public String describe() { return "TAP " + name; }

    @Override
    public void close() { fd.close(); }
}
