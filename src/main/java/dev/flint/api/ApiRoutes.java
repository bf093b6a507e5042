package dev.flint.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flint.api.model.BootSource;
import dev.flint.api.model.Drive;
import dev.flint.api.model.DriveRemoval;
import dev.flint.api.model.EntropyDevice;
import dev.flint.api.model.InstanceActionInfo;
import dev.flint.api.model.LoggerConfig;
import dev.flint.api.model.MachineConfiguration;
import dev.flint.api.model.MetricsConfig;
import dev.flint.api.model.MmdsConfig;
import dev.flint.api.model.NetworkInterface;
import dev.flint.api.model.PartialDrive;
import dev.flint.api.model.PartialNetworkInterface;
import dev.flint.api.model.SerialDevice;
import dev.flint.api.model.VmState;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The URL space of Firecracker's API: which (method, path) runs what, and under which metric name it is
 * counted. Every operation of the spec is listed: the implemented ones call {@link VmmController}, the
 * others answer a 400 saying Flint does not support them. Anything else is an invalid method or path.
 */
final class ApiRoutes {

    /** The outcome of an API call: 200 with a JSON body, or 204 with none. */
    record Answer(int status, Object body) {
        static final Answer NO_CONTENT = new Answer(204, null);
        /** A change the guest has to finish (a hot-plugged drive's eject): under way, its state in GET /vm/config. */
        static final Answer ACCEPTED = new Answer(202, null);

        static Answer ok(Object body) { return new Answer(200, body); }
    }

    @FunctionalInterface
    interface Action {
        /** @param id the {drive_id}/{iface_id} path segment, null on paths without one */
        Answer run(VmmController vmm, String id, byte[] body);
    }

    /**
     * One operation. {@code pattern} is the spec's path with "{id}" for a path parameter.
     * {@code metric} is "get_api_requests.machine_cfg" style, counted as "_count" and "_fails".
     */
    record Route(String method, String pattern, String metric, Action action) {}

    private static final List<Route> ROUTES = List.of(
            new Route("GET", "/", "get_api_requests.instance_info",
                    (vmm, id, body) -> Answer.ok(vmm.instanceInfo())),
            new Route("GET", "/version", "get_api_requests.vmm_version",
                    (vmm, id, body) -> Answer.ok(vmm.version())),
            new Route("GET", "/machine-config", "get_api_requests.machine_cfg",
                    (vmm, id, body) -> Answer.ok(vmm.machineConfig())),
            new Route("GET", "/vm/config", "get_api_requests.vm_config",
                    (vmm, id, body) -> Answer.ok(vmm.vmConfig())),
            new Route("PUT", "/machine-config", "put_api_requests.machine_cfg",
                    (vmm, id, body) -> done(() -> vmm.putMachineConfig(Json.parse(body, MachineConfiguration.class)))),
            new Route("PATCH", "/machine-config", "patch_api_requests.machine_cfg",
                    (vmm, id, body) -> done(() -> vmm.patchMachineConfig(Json.parse(body, MachineConfiguration.class)))),
            new Route("PUT", "/boot-source", "put_api_requests.boot_source",
                    (vmm, id, body) -> done(() -> vmm.putBootSource(Json.parse(body, BootSource.class)))),
            new Route("PUT", "/drives/{id}", "put_api_requests.drive",
                    (vmm, id, body) -> done(() -> vmm.putDrive(id, Json.parse(body, Drive.class)))),
            new Route("DELETE", "/drives/{id}", "delete_api_requests.drive",
                    (vmm, id, body) -> vmm.deleteDrive(id, removal(body).force() == Boolean.TRUE) ? Answer.NO_CONTENT : Answer.ACCEPTED),
            new Route("PATCH", "/drives/{id}", "patch_api_requests.drive",
                    (vmm, id, body) -> done(() -> vmm.patchDrive(id, Json.parse(body, PartialDrive.class)))),
            new Route("PUT", "/network-interfaces/{id}", "put_api_requests.network",
                    (vmm, id, body) -> done(() -> vmm.putNetworkInterface(id, Json.parse(body, NetworkInterface.class)))),
            new Route("PATCH", "/network-interfaces/{id}", "patch_api_requests.network",
                    (vmm, id, body) -> done(() -> vmm.patchNetworkInterface(id, Json.parse(body, PartialNetworkInterface.class)))),
            new Route("PUT", "/entropy", "put_api_requests.entropy",
                    (vmm, id, body) -> done(() -> vmm.putEntropy(Json.parse(body, EntropyDevice.class)))),
            new Route("PUT", "/vsock", "put_api_requests.vsock",
                    (vmm, id, body) -> done(() -> vmm.putVsock(Json.parse(body, dev.flint.api.model.Vsock.class)))),
            new Route("GET", "/balloon", "get_api_requests.balloon",
                    (vmm, id, body) -> Answer.ok(vmm.getBalloon())),
            new Route("PUT", "/balloon", "put_api_requests.balloon",
                    (vmm, id, body) -> done(() -> vmm.putBalloon(Json.parse(body, dev.flint.api.model.Balloon.class)))),
            new Route("PATCH", "/balloon", "patch_api_requests.balloon",
                    (vmm, id, body) -> done(() -> vmm.patchBalloon(Json.parse(body, dev.flint.api.model.BalloonUpdate.class)))),
            new Route("GET", "/balloon/statistics", "get_api_requests.balloon",
                    (vmm, id, body) -> Answer.ok(vmm.getBalloonStats())),
            new Route("PATCH", "/balloon/statistics", "patch_api_requests.balloon",
                    (vmm, id, body) -> done(() -> vmm.patchBalloonStats(Json.parse(body, dev.flint.api.model.BalloonStatsUpdate.class)))),
            new Route("PUT", "/serial", "put_api_requests.serial",
                    (vmm, id, body) -> done(() -> vmm.putSerial(Json.parse(body, SerialDevice.class)))),
            new Route("PUT", "/logger", "put_api_requests.logger",
                    (vmm, id, body) -> done(() -> vmm.putLogger(Json.parse(body, LoggerConfig.class)))),
            new Route("PUT", "/metrics", "put_api_requests.metrics",
                    (vmm, id, body) -> done(() -> vmm.putMetrics(Json.parse(body, MetricsConfig.class)))),
            new Route("PUT", "/actions", "put_api_requests.actions",
                    (vmm, id, body) -> done(() -> vmm.action(Json.parse(body, InstanceActionInfo.class)))),
            new Route("PATCH", "/vm", "patch_api_requests.vm",
                    (vmm, id, body) -> done(() -> vmm.patchVm(Json.parse(body, VmState.class)))),
            new Route("PUT", "/snapshot/create", "put_api_requests.snapshot_create",
                    (vmm, id, body) -> done(() -> vmm.createSnapshot(Json.parse(body, dev.flint.api.model.SnapshotCreateParams.class)))),
            new Route("PUT", "/snapshot/load", "put_api_requests.snapshot_load",
                    (vmm, id, body) -> done(() -> vmm.loadSnapshot(Json.parse(body, dev.flint.api.model.SnapshotLoadParams.class)))),
            new Route("GET", "/mmds", "get_api_requests.mmds",
                    (vmm, id, body) -> Answer.ok(vmm.getMmds())),
            new Route("PUT", "/mmds", "put_api_requests.mmds",
                    (vmm, id, body) -> done(() -> vmm.putMmds(Json.parse(body, JsonNode.class)))),
            new Route("PATCH", "/mmds", "patch_api_requests.mmds",
                    (vmm, id, body) -> done(() -> vmm.patchMmds(Json.parse(body, JsonNode.class)))),
            new Route("PUT", "/mmds/config", "put_api_requests.mmds",
                    (vmm, id, body) -> done(() -> vmm.putMmdsConfig(Json.parse(body, MmdsConfig.class)))));

    /** Operations of the spec Flint does not implement (balloon hinting, snapshots, ...). */
    private static final Map<String, Set<String>> UNSUPPORTED = Map.ofEntries(
            Map.entry("/balloon/hinting/start", Set.of("PATCH")),
            Map.entry("/balloon/hinting/status", Set.of("GET")),
            Map.entry("/balloon/hinting/stop", Set.of("PATCH")),
            Map.entry("/cpu-config", Set.of("PUT")),
            Map.entry("/pmem/{id}", Set.of("PUT", "PATCH")),
            Map.entry("/hotplug/memory", Set.of("GET", "PUT", "PATCH")));

    private ApiRoutes() {}

    /** DELETE /drives' optional body. */
    private static DriveRemoval removal(byte[] body) {
        return body == null || body.length == 0 ? new DriveRemoval(null) : Json.parse(body, DriveRemoval.class);
    }

    private static Answer done(Runnable change) {
        change.run();
        return Answer.NO_CONTENT;
    }

    /** A route matched against a request path, with its path parameter. */
    record Match(Route route, String id) {}

    /** The route for (method, path); throws the 400 Firecracker gives for anything it does not serve. */
    static Match find(String method, String path) {
        for (Route route : ROUTES) {
            if (!route.method().equals(method)) continue;
            String id = matchPattern(route.pattern(), path);
            if (id != null) return new Match(route, id.isEmpty() ? null : id);
        }
        for (Map.Entry<String, Set<String>> e : UNSUPPORTED.entrySet()) {
            if (e.getValue().contains(method) && matchPattern(e.getKey(), path) != null) {
                throw ApiException.notSupported(method + " " + e.getKey());
            }
        }
        throw ApiException.badRequest("Invalid request method and/or path: " + method + " " + path + ".");
    }

    /** "" if {@code path} matches a pattern without parameter, the parameter if it has one, null if no match. */
    private static String matchPattern(String pattern, String path) {
        int brace = pattern.indexOf("{id}");
        if (brace < 0) return pattern.equals(path) ? "" : null;
        String prefix = pattern.substring(0, brace);
        if (!path.startsWith(prefix) || path.length() == prefix.length()) return null;
        String id = path.substring(prefix.length());
        return id.indexOf('/') >= 0 ? null : id;
    }

    /**
     * Operations Flint serves that Firecracker's spec does not have (see docs/firecracker-api.md):
     * detaching a hot-attached NVMe drive.
     */
    static final Set<String> FLINT_EXTENSIONS = Set.of("DELETE /drives/{id}");

    /** Every (method, pattern) this table knows, implemented or not: tests check it covers the spec. */
    static Set<String> knownOperations() {
        Set<String> all = new java.util.TreeSet<>();
        ROUTES.forEach(r -> all.add(r.method() + " " + r.pattern()));
        UNSUPPORTED.forEach((p, methods) -> methods.forEach(m -> all.add(m + " " + p)));
        return all;
    }
}
