package dev.flint.api;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ApiDiffSnapshotGuest} on the emu engine (the nested KVM run runs it on kvm). */
@Tag("guest")
class ApiDiffSnapshotGuestTest {
    @Test
    void aDiffMergedOntoItsBaseRestoresWhatTheGuestWroteAfterTheBase(@TempDir Path dir) throws Exception {
        ApiDiffSnapshotGuest.run("emu", dir);
    }
}
