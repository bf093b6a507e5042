package dev.flint.api;

import static dev.flint.api.ApiAssertions.assertFault;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flint.api.generated.model.Balloon;
import dev.flint.api.generated.model.BalloonStats;
import dev.flint.api.generated.model.BalloonStatsUpdate;
import dev.flint.api.generated.model.BalloonUpdate;
import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.FullVmConfiguration;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The balloon endpoints with Firecracker's rules, driven with models generated from its spec against a
 * fake VMM: configured before boot, target and polling interval changed after, statistics only when
 * enabled, and every refusal a 400 with a fault_message.
 */
class ApiBalloonTest extends ApiTestBase {

    private void start() throws Exception {
        assertEquals(204, api.client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())).status());
        assertEquals(204, api.client.send("PUT", "/actions",
                new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
    }

    @Test
    void configuredBeforeBootAndRetargetedAfter() throws Exception {
        var client = api.client;
        assertFault(client.get("/balloon"), "No balloon device");
        assertFault(client.send("PATCH", "/balloon", new BalloonUpdate().amountMib(1)), "No balloon device");
        assertFault(client.sendRaw("PUT", "/balloon", "{\"amount_mib\": 16}"), "deflate_on_oom");
        assertFault(client.send("PUT", "/balloon", new Balloon().amountMib(129).deflateOnOom(false)), "too many pages");
        assertFault(client.send("PUT", "/balloon", new Balloon().amountMib(1).deflateOnOom(false).freePageHinting(true)),
                "not supported");
        assertFault(client.sendRaw("PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 70000}"),
                "stats_polling_interval_s");

        assertEquals(204, client.send("PUT", "/balloon", new Balloon().amountMib(16).deflateOnOom(true).statsPollingIntervalS(1)).status());
        Balloon got = client.get("/balloon").as(Balloon.class);
        assertEquals(16, got.getAmountMib());
        assertEquals(true, got.getDeflateOnOom());
        assertEquals(1, got.getStatsPollingIntervalS());
        assertFault(client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(1).memSizeMib(8)), "balloon");
        assertFault(client.get("/balloon/statistics"), "not supported before starting");
        // Before boot a PATCH changes the configuration (the spec: "before or after machine startup").
        assertEquals(204, client.send("PATCH", "/balloon", new BalloonUpdate().amountMib(20)).status());
        assertEquals(20, client.get("/balloon").as(Balloon.class).getAmountMib());
        assertEquals(20, client.get("/vm/config").as(FullVmConfiguration.class).getBalloon().getAmountMib());

        start();
        MachineSpec.BalloonSpec spec = api.backend.started.balloon();
        assertEquals(new MachineSpec.BalloonSpec(20, true, 1), spec);
        assertFault(client.send("PUT", "/balloon", new Balloon().amountMib(1).deflateOnOom(false)), "not supported after starting");

        assertEquals(204, client.send("PATCH", "/balloon", new BalloonUpdate().amountMib(64)).status());
        assertEquals(64, client.get("/balloon").as(Balloon.class).getAmountMib());
        assertFault(client.send("PATCH", "/balloon", new BalloonUpdate().amountMib(500)), "too many pages");
        api.backend.refuseBalloon = "the balloon device is not active";
        assertFault(client.send("PATCH", "/balloon", new BalloonUpdate().amountMib(8)), "not active");
        assertEquals(64, client.get("/balloon").as(Balloon.class).getAmountMib(), "a refused PATCH changes nothing");
        api.backend.refuseBalloon = null;

        BalloonStats stats = client.get("/balloon/statistics").as(BalloonStats.class);
        assertEquals(64 * 256, stats.getTargetPages());
        assertEquals(64, stats.getTargetMib());
        assertEquals(32, stats.getActualMib());
        assertEquals(128L << 20, stats.getTotalMemory());

        assertFault(client.send("PATCH", "/balloon/statistics", new BalloonStatsUpdate().statsPollingIntervalS(0)),
                "Cannot enable or disable");
        assertEquals(204, client.send("PATCH", "/balloon/statistics", new BalloonStatsUpdate().statsPollingIntervalS(5)).status());
        assertEquals(5, client.get("/balloon").as(Balloon.class).getStatsPollingIntervalS());
        assertEquals(List.of("start", "balloon-target 64", "balloon-stats-interval 5"), api.backend.calls());
    }

    @Test
    void statisticsAreRefusedWhenDisabled() throws Exception {
        var client = api.client;
        assertEquals(204, client.sendRaw("PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false}").status());
        assertFault(client.get("/balloon/statistics"), "Statistics for the balloon device are not enabled");
        start();
        assertFault(client.get("/balloon/statistics"), "Statistics for the balloon device are not enabled");
        assertFault(client.send("PATCH", "/balloon/statistics", new BalloonStatsUpdate().statsPollingIntervalS(3)),
                "Cannot enable or disable");
        assertFault(client.sendRaw("PATCH", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}"), "deflate_on_oom");
        assertFault(client.sendRaw("PATCH", "/balloon/hinting/start", "{}"), "not supported");
        assertEquals(200, client.get("/").status(), "the server keeps serving");
    }
}
