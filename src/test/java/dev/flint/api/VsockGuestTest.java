package dev.flint.api;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vsock streams both ways between the host and the stock guest on the emu engine ({@link VsockGuest}). */
class VsockGuestTest {
    @Test
    void hostAndGuestStreamsBothWaysManyAtOnce(@TempDir Path dir) throws Exception {
        VsockGuest.run("emu", dir);
    }
}
