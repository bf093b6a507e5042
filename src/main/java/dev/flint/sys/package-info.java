/**
 * The libc calls Flint needs (open/close/ioctl/mmap/munmap/eventfd/read/write/writev/poll/socketpair, signal masks, tgkill) as
 * FFM downcalls, with errno captured per call and turned into {@link dev.flint.sys.ErrnoException}; plus
 * owned wrappers for a file descriptor and an mmap'd region; a typed epoll poller ({@link dev.flint.sys.Epoll}) and hole
 * punching ({@link dev.flint.sys.FileHoles}). Shared by the kvm engine and host devices
 * (the TAP behind virtio-net).
 */
package dev.flint.sys;
