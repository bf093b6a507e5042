package dev.flint.api;

import dev.flint.machine.StopReason;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The API's only view of the VMM. The API validates requests and keeps Firecracker's state rules; the
 * backend runs the machine. Keeping this seam small lets every endpoint be tested against a fake, and
 * lets the real {@code dev.flint.vmm.Vmm} plug in with one adapter class.
 *
 * <p>Calls come from API threads one at a time (the API serializes state-changing requests).
 */
public interface VmmBackend {

    /** What this backend can attach; the API refuses InstanceStart for a machine it cannot build. */
    record Capabilities(boolean block, boolean net, boolean entropy) {
        public static final Capabilities NONE = new Capabilities(false, false, false);
    }

    Capabilities capabilities();

    /**
     * Builds and starts the machine. Returns a future completed when the machine stops (guest power-off,
     * reset, or failure). Throws {@link BackendException} if it cannot start; the message goes to the
     * client as the fault message.
     */
    CompletableFuture<StopReason> start(MachineSpec spec);

    void pause();

    void resume();

    /**
     * Attaches {@code drive} to the running machine as a new namespace of NVMe controller {@code controller}
     * (0 = the first) and returns the namespace ID. The API checked the drive and the index already; a
     * refusal here (the image is locked by another VM, say) is a {@link BackendException} with one line.
     */
    default int attachNvme(int controller, MachineSpec.DriveSpec drive) {
        throw new BackendException("this VMM cannot attach drives to a running microVM");
    }

    /** Detaches namespace {@code nsid} of NVMe controller {@code controller} from the running machine. */
    default void detachNvme(int controller, int nsid) {
        throw new BackendException("this VMM cannot detach drives from a running microVM");
    }

    /** Presses Ctrl+Alt+Del on the guest's i8042 keyboard controller. */
    void sendCtrlAltDel();

    /**
     * Cumulative counters since start, named "group.metric" (e.g. "vcpu.exit_io_in",
     * "block.read_bytes"); the metrics writer reports the change since its last flush. Empty before start.
     */
    Map<String, Long> counters();

    /** The backend refuses an operation; the message is one line for the API client. */
    final class BackendException extends RuntimeException {
        public BackendException(String message) { super(message); }

        public BackendException(String message, Throwable cause) { super(message, cause); }
    }
}
