package dev.flint.api;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** Each test gets a served API on a fresh socket in its own directory, with a fake VMM behind it. */
abstract class ApiTestBase {
    @TempDir
    Path dir;
    ApiFixture api;

    @BeforeEach
    void serve() throws Exception {
        api = new ApiFixture(dir);
    }

    @AfterEach
    void stop() throws Exception {
        api.close();
    }
}
