package dev.flint.api;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.boot.NetNamespace;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A network interface configured over the API, on the emu engine ({@link ApiNetworkGuest}; the kvm engine
 * runs the same scenario nested, in {@code dev.flint.nested.KvmGuestTest}).
 */
@Tag("guest")
class ApiNetworkGuestTest {
    @Test
    void anInterfacePutBeforeInstanceStartCarriesTheGuestsTraffic(@TempDir Path dir) throws Exception {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, "network namespaces unavailable: " + reason);
        ApiNetworkGuest.run("emu", dir);
    }
}
