package dev.flint.cloud.compute;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The seam between the EC2 control plane (records, state machine, handlers) and the machines under it.
 * The control plane decides <em>what</em> runs (ids, addresses, volumes) and stores every transition
 * before it acts; a runtime only makes it so on this host: one Flint VMM process per instance, driven
 * through the Firecracker API on its own socket, plus the host networking the instance needs.
 *
 * <p>Calls return once the action is under way; outcomes arrive on the {@link Listener}, because a
 * guest boots and shuts down on its own time. Every method is safe to call from several threads.
 */
public interface InstanceRuntime extends AutoCloseable {

    /** What one instance is made of. Validated by the control plane; the runtime trusts it. */
    record LaunchSpec(
            String instanceId,
            int vcpus,
            int memoryMib,
            /** The instance's own copy of its image: an ext4 root file system, raw. */
            Path rootVolume,
            /** Further volumes, in order (the guest sees them after the root disk). */
            List<Disk> dataVolumes,
            /** The private IPv4 the guest takes, on the runtime's instance network. */
            String privateIp,
            /** The guest NIC's MAC address, unicast and locally administered. */
            String macAddress) {
        public LaunchSpec {
            dataVolumes = List.copyOf(dataVolumes);
        }
    }

    /**
     * One EBS volume as a machine sees it: its id (which the guest reads back as the disk's NVMe serial,
     * without the dash, as on EC2) and its raw file.
     */
    record Disk(String volumeId, Path file) {
        /** {@code vol-0123...} as the 20-character NVMe serial {@code vol0123...} EC2 gives its volumes. */
        public String serial() {
            return volumeId.replace("-", "");
        }
    }

    /** How the runtime reports what happened to an instance's machine. */
    interface Listener {
        /** The guest said it has booted (its init reached the point where SSH answers). */
        void booted(String instanceId);

        /** The VMM process ended: the guest powered off, it was killed, or it failed ({@code detail}). */
        void exited(String instanceId, String detail);

        /**
         * The guest reset its machine (a reboot from inside it) and the VMM ended, as Firecracker's does on a
         * reset. An instance comes back from this as from RebootInstances; a listener that does not say
         * otherwise treats it as an exit.
         */
        default void reset(String instanceId, String detail) {
            exited(instanceId, detail);
        }
    }

    /** Starts the VMM and boots the instance. Throws if the machine cannot be made; nothing is left behind then. */
    void launch(LaunchSpec spec) throws RuntimeFailure;

    /**
     * Adds {@code disk} to the running instance's machine without a reboot. Throws, changing nothing, when
     * the machine cannot take it (no hot-plug path, the VMM refused): the message is for the user.
     */
    default void attachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        throw new RuntimeFailure("this runtime cannot attach a volume to a running instance; stop the instance first");
    }

    /**
     * Removes a volume from the running machine the way a plain DetachVolume does: a volume hot-plugged while
     * the instance ran is asked back from the guest, and this returns only once the guest let go of it and the
     * machine closed the file, which a guest may never do (then a {@link #forceDetachVolume} of the same disk,
     * or the machine's end, returns it: the latter as a {@link RuntimeFailure} with the instance no longer
     * running). Others (attached at launch) go at once.
     */
    default void detachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        throw new RuntimeFailure("this runtime cannot detach a volume from a running instance; stop the instance first");
    }

    /**
     * DetachVolume with Force: removes the volume from the running machine at once, whatever the guest does
     * (a surprise removal for it); returns once the file is closed. Any {@link #detachVolume} waiting for the
     * same disk returns then too.
     */
    default void forceDetachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        detachVolume(instanceId, disk);
    }

    /**
     * Tells the running instance's machine that {@code disk}'s file grew (ModifyVolume): the guest sees the new
     * size without a reboot. Throws when the machine cannot (the disk is not one it can resize while running).
     */
    default void resizeVolume(String instanceId, Disk disk) throws RuntimeFailure {
        throw new RuntimeFailure("this runtime cannot resize a running instance's volume; the guest sees the new size at its next start");
    }

    /**
     * Holds the running instance's vCPUs (its devices finish what the guest already submitted), so a copy of
     * its disks taken until {@link #resume} is crash-consistent: every write the guest saw complete is in it,
     * nothing the guest does afterwards is.
     */
    default void pause(String instanceId) throws RuntimeFailure {
        throw new RuntimeFailure("this runtime cannot pause an instance");
    }

    /** Lets a {@link #pause}d instance run again. */
    default void resume(String instanceId) throws RuntimeFailure {
        throw new RuntimeFailure("this runtime cannot resume an instance");
    }

    /** Asks the guest to shut down cleanly (it powers off on its own; {@link Listener#exited} follows). */
    void requestShutdown(String instanceId);

    /** Ends the VMM at once (stop with Force, terminate, or a shutdown that timed out). */
    void kill(String instanceId);

    /** Whether the instance's VMM process is alive on this host. */
    boolean isRunning(String instanceId);

    /** The newest part of the instance's serial console output (at most 64 KiB), if it ever ran. */
    Optional<byte[]> consoleOutput(String instanceId);

    /**
     * Drops what the runtime kept of an instance that is gone for good (a terminated instance the control plane
     * no longer lists): its console log and working folder. Never called while its VMM runs.
     */
    default void forget(String instanceId) {
    }

    /**
     * After a daemon restart: takes back the VMMs that outlived the previous daemon and still run. Returns
     * the ids it adopted; their later exits reach the listener like any other.
     */
    List<String> adoptSurvivors();

    /**
     * Attaches to a running instance's serial console (the web console's live terminal): what the guest
     * prints goes to {@code guestOutput}, from a thread of the runtime's, until the attachment is closed or
     * the instance stops. Empty when the instance does not run here, or the runtime has no console to offer.
     */
    default Optional<ConsoleAttachment> attachConsole(String instanceId, Consumer<byte[]> guestOutput) {
        return Optional.empty();
    }

    /** Recent resource use of a running instance's machine, oldest first (empty when there is none). */
    default List<UsageSample> usage(String instanceId) {
        return List.of();
    }

    /** One attachment to a serial console. Closing it detaches; the guest keeps running. */
    interface ConsoleAttachment extends AutoCloseable {
        /** Types {@code keys} on the guest's serial port, as a terminal sends them. */
        void write(byte[] keys);

        @Override
        void close();
    }

    /**
     * One measurement of an instance's machine: byte counts are totals since its VMM started, and
     * {@code cpuPercent} is the VMM's CPU use since the previous sample (100 = one host core).
     */
    record UsageSample(long epochMillis, double cpuPercent, long blockReadBytes, long blockWriteBytes,
                       long netRxBytes, long netTxBytes) {}

    /**
     * Makes {@code plan} the instance network's packet filter, replacing the previous one at once, running
     * instances included. Until the first call nothing is filtered; after it, an instance address the plan
     * does not name gets no new connections at all.
     */
    void applyFirewall(FirewallPlan plan) throws RuntimeFailure;

    /** Host memory (MiB) that instances may use in total, for capacity checks. */
    long memoryCapacityMib();

    /** Stops watching; the VMMs themselves keep running (they outlive the daemon). */
    @Override
    void close();

    /** The machine could not be made (no memory, TAP refused, image unusable): one line for the user. */
    final class RuntimeFailure extends Exception {
        public RuntimeFailure(String message) { super(message); }
        public RuntimeFailure(String message, Throwable cause) { super(message, cause); }
    }
}
