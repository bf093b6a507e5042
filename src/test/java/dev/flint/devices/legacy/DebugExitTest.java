package dev.flint.devices.legacy;

import dev.flint.machine.StopReason;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DebugExitTest {
    private final List<StopReason> stops = new ArrayList<>();
    private final Bus io = new Bus("io");

    DebugExitTest() {
        io.register(0xF4, DebugExit.LENGTH, new DebugExit(stops::add), "isa-debug-exit");
    }

    @Test
    void eachWriteWidthEndsWithItsOwnValueShiftedAndOred() {
        io.write(0xF4, 1, 0x1FF);          // a byte write sees only the low byte
        io.write(0xF4, 2, 0x1_2345);
        io.write(0xF4, 4, 0x7FFF_FFFFL);
        assertEquals(List.of(new StopReason.DebugExit(0xFF), new StopReason.DebugExit(0x2345),
                new StopReason.DebugExit(0x7FFF_FFFFL)), stops);
        assertEquals(0x1FF, ((StopReason.DebugExit) stops.get(0)).exitStatus());
        assertEquals(1, new StopReason.DebugExit(0).exitStatus(), "a write of 0 still does not read as success");
    }

    @Test
    void readsAndWritesPastTheBasePortDoNothing() {
        assertEquals(0, io.read(0xF4, 1));
        io.write(0xF5, 1, 1);
        assertEquals(List.of(), stops);
    }
}
