/**
 * The JSON bodies of Firecracker's API (swagger 1.17.0-dev, {@code src/main/resources/firecracker-api.yaml})
 * as records. They only carry what the client sent: every field is nullable here, and required fields,
 * ranges and cross-checks are enforced by {@link dev.flint.api.VmResources}, which knows whether a body
 * is a full PUT or a partial PATCH.
 */
package dev.flint.api.model;
