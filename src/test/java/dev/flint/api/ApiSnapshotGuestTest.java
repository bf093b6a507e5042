package dev.flint.api;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ApiSnapshotGuest}'s round trip on the emu engine (kvm's runs in the nested KVM run). */
@Tag("guest")
class ApiSnapshotGuestTest {
    @Test
    void aRestoredGuestAnswersAndKeepsItsDiskAndClock(@TempDir Path dir) throws Exception {
        ApiSnapshotGuest.run("emu", 1, false, dir);
    }
}
