package dev.flint.api;

import static dev.flint.api.ApiAssertions.assertFault;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.FullVmConfiguration;
import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rate limiters through the API: PUT bodies reach the VMM as buckets, PATCH changes them on the running
 * microVM with Firecracker's partial-update rules, and bad bodies are a 400 naming the field.
 */
class ApiRateLimitTest extends ApiTestBase {
    private UnixSocketClient client;
    private Path disk;

    @BeforeEach
    void setUp() throws Exception {
        client = api.client;
        disk = Files.write(dir.resolve("disk.img"), new byte[8192]);
    }

    private String drive(String limiter) {
        return "{\"drive_id\": \"data\", \"path_on_host\": \"" + disk + "\", \"is_root_device\": false"
                + (limiter == null ? "" : ", \"rate_limiter\": " + limiter) + "}";
    }

    private void start() throws Exception {
        assertEquals(204, client.sendRaw("PUT", "/boot-source", "{\"kernel_image_path\": \"" + api.kernel + "\"}").status());
        api.backend.capabilities = new VmmBackend.Capabilities(true, true, false);
        assertEquals(204, client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}").status());
    }

    @Test
    void badBucketsAreRefusedWithTheFieldTheyAreIn() throws Exception {
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"bandwidth\": {\"refill_time\": 100}}")),
                "missing required field `rate_limiter.bandwidth.size`");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"ops\": {\"size\": 100}}")),
                "missing required field `rate_limiter.ops.refill_time`");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"ops\": {\"size\": -1, \"refill_time\": 100}}")),
                "rate_limiter.ops: size must not be negative");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"ops\": {\"size\": 1, \"refill_time\": 100, \"one_time_burst\": -5}}")),
                "one_time_burst");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"ops\": {\"size\": 1, \"refill_time\": 9223372036854775807}}")),
                "refill_time must be between 0 and");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"ops\": {\"size\": \"big\", \"refill_time\": 1}}")), "size");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("{\"bandwidht\": {}}")), "bandwidht");
        assertFault(client.sendRaw("PUT", "/drives/data", drive("[]")), "rate_limiter");
        assertFault(client.sendRaw("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"tx_rate_limiter\": {\"ops\": {\"size\": 10}}}"), "tx_rate_limiter.ops.refill_time");
        assertTrue(client.get("/vm/config").as(FullVmConfiguration.class).getDrives().isEmpty(), "nothing refused was kept");
    }

    @Test
    void putLimitsReachTheVmmAndZeroBucketsLimitNothing() throws Exception {
        assertEquals(204, client.sendRaw("PUT", "/drives/data", drive("{\"bandwidth\": {\"size\": 1048576, \"refill_time\": 1000, "
                + "\"one_time_burst\": 4096}, \"ops\": {\"size\": 0, \"refill_time\": 1000}}")).status());
        assertEquals(204, client.sendRaw("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"rx_rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 1000}}, \"tx_rate_limiter\": {}}").status());
        start();
        MachineSpec spec = api.backend.started;
        assertEquals(new RateLimit(new BucketConfig(1048576, 4096, 1000), null), spec.drives().getFirst().rateLimit());
        assertEquals(new RateLimit(null, new BucketConfig(100, 0, 1000)), spec.networkInterfaces().getFirst().rxRateLimit());
        assertEquals(RateLimit.NONE, spec.networkInterfaces().getFirst().txRateLimit());
    }

    @Test
    void patchChangesOnlyTheBucketsItNamesOnTheRunningMicroVm() throws Exception {
        assertEquals(204, client.sendRaw("PUT", "/drives/data", drive("{\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}, "
                + "\"ops\": {\"size\": 10, \"refill_time\": 100}}")).status());
        assertEquals(204, client.sendRaw("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}").status());
        assertFault(client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": {}}"),
                VmmController.NOT_BEFORE_START);
        start();

        assertEquals(204, client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": "
                + "{\"bandwidth\": {\"size\": 5000, \"refill_time\": 100}}}").status());
        assertEquals(204, client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": "
                + "{\"ops\": {\"size\": 0, \"refill_time\": 0}}}").status());
        assertEquals(204, client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + disk + "\"}").status(),
                "the same path and no limiter: nothing to change");
        assertEquals(204, client.sendRaw("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": "
                + "{\"bandwidth\": {\"size\": 100, \"refill_time\": 10, \"one_time_burst\": 7}}}").status());
        assertEquals(List.of("start",
                "drive-limit data bandwidth=5000 per 100 ms (+ 0 once) ops=null",
                "drive-limit data bandwidth=null ops=0 per 0 ms (+ 0 once)",
                "net-limit eth0 rx=100 per 10 ms (+ 7 once),null tx=null,null"), api.backend.calls());

        var shown = client.get("/vm/config").as(FullVmConfiguration.class);
        var limiter = shown.getDrives().getFirst().getRateLimiter();
        assertEquals(5000L, limiter.getBandwidth().getSize(), "GET /vm/config shows the limits in force");
        assertNull(limiter.getOps(), "the removed ops bucket is gone");
        assertEquals(7L, shown.getNetworkInterfaces().getFirst().getRxRateLimiter().getBandwidth().getOneTimeBurst());

        assertFault(client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": {\"size\": 1}}}"),
                "rate_limiter.ops.refill_time");
        assertFault(client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/elsewhere.img\"}"),
                "not supported by Flint");
        assertFault(client.sendRaw("PATCH", "/drives/other", "{\"drive_id\": \"other\", \"rate_limiter\": {}}"), "no drive with id other");
        assertFault(client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"elsewhere\"}"), "does not match");
        assertFault(client.sendRaw("PATCH", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"tx_rate_limiter\": {}}"),
                "no network interface with id eth1");
        assertFault(client.sendRaw("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": "
                + "{\"bandwidth\": {\"size\": 1, \"refill_time\": -3}}}"), "tx_rate_limiter.bandwidth: refill_time");
        assertEquals(4, api.backend.calls().size(), "refused patches reach nothing");
    }
}
