package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.machine.GuestMemory;

/** A device model a vhost-user back end serves: what it offers, and the model bound to a front end's memory. */
public interface BackendDevice {
    /** Virtio feature bits offered, transport bits (VERSION_1, INDIRECT_DESC) included. */
    long features();

    int queueCount();

    int maxQueueSize();

    /** {@code size} bytes of the device configuration from {@code offset}; zeroes past its end. */
    byte[] config(int offset, int size);

    /** The model serving requests in {@code memory} (a new front-end memory table gets a new one). */
    VirtioDevice bind(GuestMemory memory);
}
