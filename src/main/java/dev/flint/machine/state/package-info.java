/**
 * Snapshot state: the versioned, self-checking state file ({@link dev.flint.machine.state.StateFile}) and
 * the writer and reader every stateful component (vCPU, interrupt controller, device) saves into and
 * restores from, one named section each.
 */
package dev.flint.machine.state;
