package dev.flint.api;

import picocli.CommandLine;

/** {@code flint vmm} as its own process with a fake VMM, for measuring start-up as a user sees it. */
public final class VmmProcessMain {
    private VmmProcessMain() {}

    public static void main(String[] args) {
        System.exit(new CommandLine(new VmmCommand(engine -> new FakeBackend()).spec()).execute(args));
    }
}
