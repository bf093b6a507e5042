/**
 * Firecracker's I/O rate limiters: a bandwidth and an operations token bucket per device direction
 * ({@link dev.flint.devices.ratelimit.RateLimiter}), configured by {@link dev.flint.devices.ratelimit.RateLimit}.
 * A device asks the limiter before it takes a request off its queue; when the limiter says "not yet" it leaves
 * the request where it is and has its I/O thread woken when the tokens will be there, so nothing spins and no
 * vCPU thread ever waits.
 */
package dev.flint.devices.ratelimit;
