package dev.flint.nested;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Command-line entry to the nested harness for scripts (bench/kvm-boot.sh): boots L1, runs the shell
 * script file given as the first argument in {@code chroot /host}, prints its output, exits with its status.
 */
public final class RunInL1 {
    private RunInL1() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: RunInL1 SCRIPT [TIMEOUT_MINUTES]");
            System.exit(2);
        }
        String script = Files.readString(Path.of(args[0]));
        Duration timeout = Duration.ofMinutes(args.length > 1 ? Long.parseLong(args[1]) : 30);
        NestedKvm l1 = NestedKvm.prepare(Path.of("target", "nested").toAbsolutePath());
        NestedKvm.Result r = l1.run(script, timeout);
        System.out.println(r.output());
        System.exit(r.exitStatus());
    }
}
