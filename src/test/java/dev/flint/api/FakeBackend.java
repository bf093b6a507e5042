package dev.flint.api;

import dev.flint.machine.StopReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** A VMM that records what the API asked of it; tests stop the "guest" by completing {@link #running}. */
final class FakeBackend implements VmmBackend {
    final List<String> calls = new ArrayList<>();
    volatile Capabilities capabilities = Capabilities.NONE;
    volatile MachineSpec started;
    volatile String refuseStart;
    final CompletableFuture<StopReason> running = new CompletableFuture<>();

    @Override
    public Capabilities capabilities() { return capabilities; }

    @Override
    public synchronized CompletableFuture<StopReason> start(MachineSpec spec) {
        if (refuseStart != null) throw new BackendException(refuseStart);
        calls.add("start");
        started = spec;
        return running;
    }

    /** Set to make attachNvme refuse, as the real backend does when another VM holds the image's lock. */
    volatile String refuseAttach;
    private int nextNamespace = 1;

    @Override
    public synchronized int attachNvme(int controller, MachineSpec.DriveSpec drive) {
        if (refuseAttach != null) throw new BackendException(refuseAttach);
        calls.add("attach-nvme " + controller + " " + drive.id() + " " + drive.path() + (drive.readOnly() ? " ro" : ""));
        return nextNamespace++;
    }

    @Override
    public synchronized void detachNvme(int controller, int nsid) {
        calls.add("detach-nvme " + controller + " " + nsid);
    }

    @Override
    public synchronized void pause() { calls.add("pause"); }

    @Override
    public synchronized void resume() { calls.add("resume"); }

    @Override
    public synchronized void sendCtrlAltDel() { calls.add("ctrl-alt-del"); }

    @Override
    public Map<String, Long> counters() {
        return started == null ? Map.of() : Map.of("vcpu.exit_io_in", 42L, "vcpu.exit_mmio_write", 7L);
    }

    synchronized List<String> calls() { return List.copyOf(calls); }
}
