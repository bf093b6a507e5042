package dev.flint.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.machine.StopReason;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class StopSignalTest {
    @Test
    void theFirstReasonWins() throws Exception {
        StopSignal signal = new StopSignal();
        assertTrue(signal.await(Duration.ofMillis(1)).isEmpty());
        signal.requestStop(new StopReason.TripleFault("dump"));
        signal.requestStop(new StopReason.PowerOff()); // the VMM tearing down afterwards
        assertInstanceOf(StopReason.TripleFault.class, signal.await());
        assertEquals("dump", ((StopReason.TripleFault) signal.await(Duration.ZERO).orElseThrow()).cpuDump());
    }

    @Test
    void theFutureIsAViewThatCannotStopTheMachine() throws Exception {
        StopSignal signal = new StopSignal();
        CompletableFuture<StopReason> view = signal.future();
        view.complete(new StopReason.Reset("caller"));
        assertFalse(signal.stopped());
        CompletableFuture<StopReason> later = signal.future();
        signal.requestStop(new StopReason.PowerOff());
        assertInstanceOf(StopReason.PowerOff.class, later.get());
    }
}
