package dev.flint.cli;

import dev.flint.machine.MemoryFile;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flint snapshot ...}: tools for the files of {@code PUT /snapshot/create}. */
@Command(name = "snapshot", description = "Work on snapshot files (those of flint vmm's PUT /snapshot/create).")
final class SnapshotCommand extends CommandGroup {
    @Command(name = "rebase", aliases = "merge", description = {
            "Merge Diff snapshots' memory files onto a base memory file, in place: every page a diff holds (its data, "
                    + "found with SEEK_DATA/SEEK_HOLE) is copied to the same offset of the base; its holes leave the base "
                    + "as it is. Afterwards the base is the full memory file of the last diff's snapshot: load it with that "
                    + "snapshot's state file. The same as Firecracker's 'snapshot-editor edit-memory rebase'.",
            "Prints one line per diff merged."})
    static final class Rebase implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        @Option(names = "--memory-path", required = true, paramLabel = "FILE",
                description = "The base memory file (a Full snapshot's, or one already rebased); rewritten in place.")
        private Path memory;

        @Option(names = "--diff-path", required = true, paramLabel = "FILE",
                description = "A Diff snapshot's memory file taken after the base; repeat it to merge several, oldest first.")
        private List<Path> diffs;

        Rebase(CliContext context) { this.context = context; }

        @Override
        public Integer call() {
            for (Path diff : diffs) {
                MemoryFile.Rebased done;
                try {
                    done = MemoryFile.rebase(memory, diff);
                } catch (java.io.IOException e) {
                    throw new IllegalStateException("cannot merge " + diff + " onto " + memory + ": " + describe(e), e);
                }
                context.out().println("merged " + diff + " onto " + memory + ": " + done.bytes() / 4096 + " pages in "
                        + done.extents() + " runs");
            }
            return Main.OK;
        }

        /** File-system errors carry the file and a reason, not a sentence. */
        private static String describe(java.io.IOException e) {
            if (e instanceof java.nio.file.FileSystemException f) {
                return f.getFile() + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName());
            }
            return e.getMessage();
        }
    }
}
