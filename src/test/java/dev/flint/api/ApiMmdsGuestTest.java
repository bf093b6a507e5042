package dev.flint.api;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.boot.NetNamespace;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** The metadata service reached by the stock guest on the emu engine, with each version ({@link ApiMmdsGuest}). */
@Tag("guest")
class ApiMmdsGuestTest {
    @ParameterizedTest
    @ValueSource(strings = {"V1", "V2"})
    void theGuestReadsTheMetadataServiceOverItsInterface(String version, @TempDir Path dir) throws Exception {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, "network namespaces unavailable: " + reason);
        ApiMmdsGuest.run("emu", version, dir);
    }
}
