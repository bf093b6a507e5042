/**
 * The libc calls Flint needs (open/close/ioctl/mmap/munmap/eventfd/read/write, signal masks, tgkill) as
 * FFM downcalls, with errno captured per call and turned into {@link dev.flint.sys.ErrnoException}; plus
 * owned wrappers for a file descriptor and an mmap'd region. Shared by the kvm engine and, later, host
 * devices such as TAP networking.
 */
package dev.flint.sys;
