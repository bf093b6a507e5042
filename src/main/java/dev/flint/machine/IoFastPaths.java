package dev.flint.machine;

import java.util.Optional;

/**
 * The I/O shortcuts an engine offers devices (see {@code VirtualMachine#fastPaths()}). Both are optional
 * and devices work without them: the emu engine offers none, the kvm engine both (ioeventfd, irqfd).
 */
public record IoFastPaths(Optional<NotifyFastPath> notifications, Optional<InterruptRoutes> interrupts) {
    public static final IoFastPaths NONE = new IoFastPaths(Optional.empty(), Optional.empty());
}
