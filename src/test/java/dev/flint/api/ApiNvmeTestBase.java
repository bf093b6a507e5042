package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;

/**
 * The fixture of the NVMe attach tests over the fake VMM (ApiNvmeHotAttachTest, ApiPciHotplugTest): a backend
 * that can hot-attach, a boot source, an 8 KiB volume image, and the steps both take.
 */
abstract class ApiNvmeTestBase extends ApiTestBase {
    UnixSocketClient client;
    Path vol;

    @BeforeEach
    void setUpNvme() throws Exception {
        client = api.client;
        api.backend.capabilities = new VmmBackend.Capabilities(true, true, true);
        vol = Files.write(dir.resolve("vol.img"), new byte[8192]);
        assertEquals(204, client.sendRaw("PUT", "/boot-source", "{\"kernel_image_path\": \"" + api.kernel + "\"}").status());
    }

    void assertFault(UnixSocketClient.Reply reply, String containing) {
        assertEquals(400, reply.status(), reply.body());
        String fault = reply.fault();
        assertNotNull(fault, reply.body());
        assertTrue(fault.contains(containing), "fault `" + fault + "` should contain `" + containing + "`");
    }

    void start() throws Exception {
        var reply = client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
        assertEquals(204, reply.status(), reply.body());
    }
}
