package dev.flint.api;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Firecracker workflow against a real guest on the emu engine ({@link ApiGuestBoot}; the kvm engine
 * runs the same scenario nested, in {@code dev.flint.nested.KvmGuestTest}).
 */
@Tag("guest")
class ApiGuestBootTest {
    @Test
    void aGuestStartedOverTheApiBootsWhileTheApiAnswersAndCtrlAltDelEndsIt(@TempDir Path dir) throws Exception {
        ApiGuestBoot.run("emu", dir);
    }
}
