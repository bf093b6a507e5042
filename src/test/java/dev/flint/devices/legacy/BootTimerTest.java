package dev.flint.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.machine.bus.Bus;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

class BootTimerTest {

    @Test
    void onlyTheMagicByteAtOffsetZeroEndsTheBootClockAndIsLogged() {
        List<String> lines = new ArrayList<>();
        Handler capture = new Handler() {
            @Override public void publish(LogRecord r) { lines.add(r.getMessage()); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        Logger log = Logger.getLogger(BootTimer.class.getName());
        log.addHandler(capture);
        // Another test may have set "dev.flint" to warnings only (the CLI does without --debug).
        Level before = log.getLevel();
        log.setLevel(Level.INFO);
        try {
            long start = System.nanoTime();
            BootTimer timer = new BootTimer(start);
            Bus mmio = new Bus("mmio");
            mmio.register(dev.flint.arch.x86.Layout.BOOT_TIMER, BootTimer.MMIO_LENGTH, timer, "boot-timer");

            mmio.write(0xC000_0000L, 1, 122);          // wrong value
            mmio.write(0xC000_0001L, 1, 123);          // wrong offset
            assertTrue(timer.bootTimeNanos().isEmpty());
            assertEquals(0, mmio.read(0xC000_0000L, 4));

            mmio.write(0xC000_0000L, 1, 123);          // what `devmem 0xc0000000 8 123` does
            long measured = timer.bootTimeNanos().orElseThrow();
            assertTrue(measured >= 0 && measured <= System.nanoTime() - start, "measured " + measured);
            assertEquals(1, lines.size(), lines.toString());
            assertTrue(lines.getFirst().startsWith("Guest-boot-time = "), lines.getFirst());

            mmio.write(0xC000_0000L, 1, 123);          // a second signal keeps the first time
            assertEquals(measured, timer.bootTimeNanos().orElseThrow());
        } finally {
            log.setLevel(before);
            log.removeHandler(capture);
        }
    }
}
