package dev.flint.api;

import static dev.flint.api.ApiAssertions.assertFault;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.flint.api.generated.model.FullVmConfiguration;
import dev.flint.api.generated.model.MmdsConfig;
import dev.flint.api.generated.model.NetworkInterface;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code /mmds} and {@code /mmds/config} over the socket, with the spec's models, and what reaches the VMM. */
class ApiMmdsTest extends ApiTestBase {

    @Test
    void theDataStoreIsPutPatchedAndReadAtAnyTime() throws Exception {
        assertEquals("{}", api.client.get("/mmds").body());
        assertEquals(204, api.client.sendRaw("PUT", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"k\": 1}}}").status());
        assertEquals(204, api.client.sendRaw("PATCH", "/mmds", "{\"latest\": {\"meta-data\": {\"k\": null, \"r\": \"x\"}}}").status());
        assertEquals("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"r\":\"x\"}}}", api.client.get("/mmds").body());
        assertFault(api.client.sendRaw("PUT", "/mmds", "[1]"), "JSON object");
        assertFault(api.client.sendRaw("PUT", "/mmds", "{\"a\": 1, \"a\": 2}"), "Duplicate field");
        assertFault(api.client.sendRaw("PATCH", "/mmds", "{\"a\": "), "invalid JSON");
        assertEquals("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"r\":\"x\"}}}", api.client.get("/mmds").body(),
                "a refused change changes nothing");
    }

    @Test
    void theSizeLimitHoldsForPutAndPatch() throws Exception {
        try (ApiFixture small = new ApiFixture(Files.createDirectory(dir.resolve("small")), ApiServer.DEFAULT_MAX_PAYLOAD, 100)) {
            assertEquals(204, small.client.sendRaw("PUT", "/mmds", "{\"a\": \"" + "x".repeat(80) + "\"}").status());
            assertFault(small.client.sendRaw("PATCH", "/mmds", "{\"b\": \"" + "y".repeat(20) + "\"}"), "over its limit of 100");
            assertFault(small.client.sendRaw("PUT", "/mmds", "{\"a\": \"" + "x".repeat(100) + "\"}"), "over its limit of 100");
        }
    }

    @Test
    void theConfigurationNamesConfiguredInterfacesBeforeBootAndReachesThem() throws Exception {
        assertFault(api.client.send("PUT", "/mmds/config", new MmdsConfig().networkInterfaces(List.of("eth0"))), "eth0");
        assertEquals(204, api.client.send("PUT", "/network-interfaces/eth0",
                new NetworkInterface().ifaceId("eth0").hostDevName("tap0")).status());
        assertEquals(204, api.client.send("PUT", "/network-interfaces/eth1",
                new NetworkInterface().ifaceId("eth1").hostDevName("tap1")).status());
        assertFault(api.client.send("PUT", "/mmds/config", new MmdsConfig().networkInterfaces(List.of())), "at least one");
        assertFault(api.client.sendRaw("PUT", "/mmds/config", "{\"version\": \"V2\"}"), "network_interfaces");
        assertFault(api.client.sendRaw("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": \"V3\"}"), "version");
        assertFault(api.client.send("PUT", "/mmds/config", new MmdsConfig().networkInterfaces(List.of("eth0"))
                .ipv4Address("10.0.0.1")), "link-local");
        assertEquals(204, api.client.send("PUT", "/mmds/config", new MmdsConfig().networkInterfaces(List.of("eth1"))
                .version(MmdsConfig.VersionEnum.V2).ipv4Address("169.254.170.2").imdsCompat(true)).status());
        MmdsConfig shown = api.client.get("/vm/config").as(FullVmConfiguration.class).getMmdsConfig();
        assertEquals(MmdsConfig.VersionEnum.V2, shown.getVersion());
        assertEquals("169.254.170.2", shown.getIpv4Address());
        assertEquals(List.of("eth1"), shown.getNetworkInterfaces());

        api.backend.capabilities = new VmmBackend.Capabilities(false, true, false); // a backend with virtio-net
        assertEquals(204, api.client.sendRaw("PUT", "/boot-source", "{\"kernel_image_path\": \"" + api.kernel + "\"}").status());
        assertEquals(204, api.client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}").status());
        List<MachineSpec.NetSpec> nets = api.backend.started.networkInterfaces();
        assertNull(nets.get(0).mmds(), "eth0 does not answer for the MMDS");
        assertNotNull(nets.get(1).mmds());
        assertSame(nets.get(1).mmds().store().snapshot(), nets.get(1).mmds().store().snapshot());
        assertEquals("169.254.170.2", dev.flint.devices.mmds.Mmds.format(nets.get(1).mmds().settings().ipv4()));

        assertFault(api.client.send("PUT", "/mmds/config", new MmdsConfig().networkInterfaces(List.of("eth0"))),
                VmmController.NOT_AFTER_START);
        assertEquals(204, api.client.sendRaw("PUT", "/mmds", "{\"after\": \"boot\"}").status(), "the data store changes at run time");
        assertEquals("{\"after\":\"boot\"}", nets.get(1).mmds().store().snapshot().toString());
    }
}
