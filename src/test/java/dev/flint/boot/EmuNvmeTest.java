package dev.flint.boot;

import dev.flint.guest.GuestAssets;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NVMe disks as a user of the default guest sees them on the emu engine (the checks are
 * {@link GuestNvmeChecks}; {@code KvmGuestTest} makes the same ones on kvm, nested).
 */
@Tag("guest")
class EmuNvmeTest {
    @BeforeAll
    static void fetchGuest() {
        GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.out);
    }

    @Test
    void theGuestReadsWritesAndFindsANamespaceAttachedWhileItRuns(@TempDir Path dir) throws Exception {
        GuestNvmeChecks.inProcess("emu", dir);
    }
}
