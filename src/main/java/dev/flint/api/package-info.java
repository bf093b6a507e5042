/**
 * Firecracker's REST API for Flint, so tools written for Firecracker drive Flint unchanged.
 *
 * <p>Request path: {@link dev.flint.api.ApiServer} (Jetty, HTTP/1.1 on a Unix socket, body cap) →
 * {@link dev.flint.api.ApiRoutes} (method + path → operation, metric name) → {@link dev.flint.api.Json}
 * (strict parsing into {@code dev.flint.api.model} records) → {@link dev.flint.api.VmmController}
 * (Firecracker's pre-boot/post-boot rules) → {@link dev.flint.api.VmResources} (validated configuration)
 * → {@link dev.flint.api.MachineSpec} → {@link dev.flint.api.VmmBackend} (the VMM). Telemetry (logger,
 * metrics) lives in {@code dev.flint.api.telemetry}; {@link dev.flint.api.VmmCommand} is {@code flint vmm}.
 */
package dev.flint.api;
