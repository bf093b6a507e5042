package dev.flint.api;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link BalloonGuest} on the emu engine (kvm's runs in the nested KVM run). */
class BalloonGuestTest {
    @Test
    void inflatingReturnsGuestMemoryToTheHostAndDeflatingGivesItBack(@TempDir Path dir) throws Exception {
        BalloonGuest.run("emu", dir);
    }
}
