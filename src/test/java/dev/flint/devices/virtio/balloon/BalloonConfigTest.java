package dev.flint.devices.virtio.balloon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code flint run --balloon MIB[,deflate_on_oom]} and the limits every configuration keeps. */
class BalloonConfigTest {
    @Test
    void parsesTheCommandLineForm() {
        assertEquals(new BalloonConfig(64, false, 0), BalloonConfig.parse("64"));
        assertEquals(new BalloonConfig(0, true, 0), BalloonConfig.parse("0,deflate_on_oom"));
        for (String bad : new String[] {"", "x", "-1", "64,stats=1", "64,", "99999999999"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> BalloonConfig.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("--balloon " + bad + ":"), e.getMessage());
        }
    }

    @Test
    void keepsTheTargetAndIntervalInTheirFields() {
        assertThrows(BalloonException.class, () -> new BalloonConfig(BalloonConfig.MAX_AMOUNT_MIB + 1, false, 0));
        assertThrows(BalloonException.class, () -> new BalloonConfig(1, false, 65536));
        assertThrows(BalloonException.class, () -> new BalloonConfig(1, false, -1));
        assertTrue(new BalloonConfig(1, false, 65535).statsEnabled());
    }
}
