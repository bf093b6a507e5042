package dev.flint.engine.emu.diff;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Base for tests that run sequences on the host CPU: one native child per test class. */
abstract class HostCpuTest {
    static NativeCpuProcess host;

    @BeforeAll
    static void startHost() {
        host = new NativeCpuProcess(Layout.RIG);
    }

    @AfterAll
    static void stopHost() {
        host.close();
    }
}
