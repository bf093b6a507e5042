/**
 * vhost-user: a virtio device whose rings are served by another process over a Unix socket, the
 * software form of a Nitro card. {@link dev.flint.devices.vhostuser.Frame} and
 * {@link dev.flint.devices.vhostuser.VhostUserMessage} are the wire codec (every field from the peer
 * validated: the peer is as hostile as a guest); {@link dev.flint.devices.vhostuser.BlockBackend} serves
 * a disk image to any front end ({@code flint device blk}); {@link dev.flint.devices.vhostuser.FrontEndMemory}
 * maps the front end's guest RAM from the file descriptors it sends.
 */
package dev.flint.devices.vhostuser;
