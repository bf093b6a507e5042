package dev.flint.devices.virtio.net;

import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A TAP stand-in for host tests: one end of a SOCK_SEQPACKET pair is the device's backend (one frame per
 * read or write, like a TAP); the test plays the host network on the other end. Offload requests are
 * recorded instead of configuring anything.
 */
final class SocketPairBackend implements NetBackend {
    private final FileDescriptor device, host;
    volatile int offloads = -1;

    SocketPairBackend() {
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
        device = new FileDescriptor(pair[0]);
        host = new FileDescriptor(pair[1]);
    }

    @Override public int fd() { return device.fd(); }
    @Override public void enableOffloads(int tunFlags) { offloads = tunFlags; }
    @Override public String describe() { return "socket pair"; }

    /** The host network sends a frame (virtio_net_hdr included) towards the guest. */
    void sendToGuest(byte[] frame) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, frame.length));
            MemorySegment.copy(frame, 0, buf, ValueLayout.JAVA_BYTE, 0, frame.length);
            Libc.write(host.fd(), buf.asSlice(0, frame.length));
        }
    }

    /** The next frame the guest sent, or null if none arrives within {@code millis}. */
    byte[] receiveFromGuest(int millis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Libc.POLLFD_BYTES, 8);
            fds.set(ValueLayout.JAVA_INT, 0, host.fd());
            fds.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
            if (Libc.poll(fds, 1, millis) == 0) return null;
            MemorySegment buf = arena.allocate(1 << 17);
            long n = Libc.read(host.fd(), buf);
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Drops the frames still queued towards the device (a test that reset the device starts afresh). */
    void discardTowardsGuest() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1 << 17);
            while (true) Libc.read(device.fd(), buf);
        } catch (dev.flint.sys.ErrnoException e) {
            // EAGAIN: none left
        }
    }

    @Override
    public void close() {
        device.close();
        host.close();
    }
}
