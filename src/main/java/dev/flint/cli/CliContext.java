package dev.flint.cli;

import dev.flint.guest.GuestAssets;
import dev.flint.vmm.Engines;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/**
 * What the commands talk to: the process's streams, the engines of this build and the guest cache. Tests
 * substitute buffers, fake engines and a temporary cache.
 *
 * @param interactive asked only by {@code run} (it costs a process): true when {@code in} is the process's terminal (raw mode and the Ctrl-A escape apply)
 */
record CliContext(InputStream in, PrintStream out, PrintStream err, BooleanSupplier interactive, Engines engines,
                  Path cacheDir) {
    GuestAssets guest() { return GuestAssets.open(cacheDir); }
}
