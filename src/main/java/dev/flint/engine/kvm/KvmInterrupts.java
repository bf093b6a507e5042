package dev.flint.engine.kvm;

import dev.flint.machine.InterruptController;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileDescriptor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Interrupts into a KVM VM through its in-kernel irqchip. With KVM_CREATE_IRQCHIP the kernel installs its
 * default GSI routing: GSIs 0-15 go to both the PIC and the I/O APIC pin of the same number, 16-23 to
 * the I/O APIC only, which is exactly the layout {@link InterruptController} documents — so a GSI is
 * passed to KVM_IRQ_LINE unchanged.
 */
final class KvmInterrupts implements InterruptController {
    private static final Logger LOG = Logger.getLogger(KvmInterrupts.class.getName());
    static final int GSI_COUNT = 24;

    private final FileDescriptor vm;
    /** Readers: interrupt senders. Writer: {@link #close}, so no ioctl runs on a closed (or reused) fd. */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    KvmInterrupts(FileDescriptor vm) { this.vm = vm; }

    @Override
    public void setLevel(int gsi, boolean high) {
        if (gsi < 0 || gsi >= GSI_COUNT) throw new IllegalArgumentException("GSI " + gsi + " is not 0-23");
        lock.readLock().lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) return;
            MemorySegment level = arena.allocate(8, 4);
            level.set(JAVA_INT, 0, gsi);
            level.set(JAVA_INT, 4, high ? 1 : 0);
            vm.ioctl(KvmApi.IRQ_LINE, level);
        } catch (ErrnoException e) {
            LOG.warning("KVM_IRQ_LINE " + gsi + ": " + e.getMessage());
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void sendMsi(long address, int data) {
        lock.readLock().lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) return;
            MemorySegment msi = arena.allocate(Layouts.MSI_SIZE, 8);
            msi.set(JAVA_INT, 0, (int) address);
            msi.set(JAVA_INT, 4, (int) (address >>> 32));
            msi.set(JAVA_INT, 8, data);
            // KVM returns 0 when the guest had the vector masked (not delivered); that is not an error.
            vm.ioctl(KvmApi.SIGNAL_MSI, msi);
        } catch (ErrnoException e) {
            LOG.warning(String.format("KVM_SIGNAL_MSI 0x%x/0x%x: %s", address, data, e.getMessage()));
        } finally {
            lock.readLock().unlock();
        }
    }

    /** After this, interrupts are dropped (devices may still fire while the VM is torn down). */
    void close() {
        lock.writeLock().lock();
        try {
            closed = true;
        } finally {
            lock.writeLock().unlock();
        }
    }
}
