package dev.flint.vmm;

import dev.flint.machine.StopReason;
import dev.flint.machine.SystemControl;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Where devices, engines and the VMM itself report that the machine must stop. The first reason wins:
 * a power-off followed by the vCPUs noticing they were stopped is still a power-off.
 */
final class StopSignal implements SystemControl {
    private final CompletableFuture<StopReason> reason = new CompletableFuture<>();

    @Override
    public void requestStop(StopReason stop) {
        reason.complete(stop);
    }

    boolean stopped() { return reason.isDone(); }

    /** Completes with the reason; completing the returned future does not stop the machine. */
    CompletableFuture<StopReason> future() { return reason.copy(); }

    StopReason await() throws InterruptedException {
        try {
            return reason.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("a stop reason is never exceptional", e);
        }
    }

    Optional<StopReason> await(Duration timeout) throws InterruptedException {
        try {
            return Optional.of(reason.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new IllegalStateException("a stop reason is never exceptional", e);
        }
    }
}
