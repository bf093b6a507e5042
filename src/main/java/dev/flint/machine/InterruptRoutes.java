package dev.flint.machine;

/**
 * An engine's shortcut for message-signalled interrupts: a route is an interrupt line of its own that
 * delivers the MSI last programmed into it whenever it is fired, and firing is a write to an eventfd the
 * engine watches (KVM: a GSI with an MSI routing entry, KVM_SET_GSI_ROUTING, bound to an irqfd), not a
 * request a Flint thread makes per interrupt. Masking stays the device's business: it simply does not
 * fire a masked vector. An engine without routes does not offer this (see {@link IoFastPaths}); devices
 * then use {@link InterruptController#sendMsi}.
 */
public interface InterruptRoutes {
    /** A new, not yet programmed route, or null when the engine has no more (use sendMsi then). */
    MsiRoute newMsiRoute();

    /** One route. Thread-safe; {@link #fire} may run on a device's I/O thread while a vCPU reprograms. */
    interface MsiRoute extends AutoCloseable {
        /** The message later {@link #fire} calls deliver: the address and data the guest programmed. */
        void program(long address, int data);

        /** Delivers the programmed message once. Does nothing before the first {@link #program}. */
        void fire();

        /** Releases the route; later calls do nothing. */
        @Override
        void close();
    }
}
