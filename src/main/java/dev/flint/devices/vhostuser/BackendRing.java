package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.Virtqueue;
import dev.flint.sys.FileDescriptor;

/**
 * One ring of a back-end connection: the queue (addresses translated to guest-physical), its eventfds,
 * and where it is in the vhost-user ring life cycle. It runs once it has addresses and a kick descriptor
 * and is enabled; GET_VRING_BASE stops it.
 */
final class BackendRing {
    final Virtqueue queue;
    FileDescriptor kick, call, err;
    boolean enabled, addressed, broken;
    int size;
    int base;

    BackendRing(int maxSize) {
        this.queue = new Virtqueue(maxSize);
        this.size = maxSize;
    }

    boolean running() { return addressed && kick != null && enabled && !broken; }

    /** Stops the ring (GET_VRING_BASE); returns the next available index for the front end to restore later. */
    int stop() {
        int next = addressed ? queue.nextAvail() : base;
        addressed = false;
        base = next;
        queue.reset();
        return next;
    }

    void closeFds() {
        for (FileDescriptor fd : new FileDescriptor[] {kick, call, err}) if (fd != null) fd.close();
        kick = call = err = null;
    }
}
