package dev.flint.cli;

import dev.flint.devices.vhostuser.BackendConnection;
import dev.flint.devices.vhostuser.BlockBackend;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.sys.UnixSocket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flint device ...}: Flint's device models served to other VMMs over vhost-user. */
@Command(name = "device", description = "Serve a Flint device model to another VMM (a vhost-user back end).")
final class DeviceCommand extends CommandGroup {
    @Command(name = "blk", description = {
            "Serve a raw disk image as a vhost-user-blk back end on a Unix socket, to any vhost-user front end "
                    + "(QEMU's vhost-user-blk-pci, Flint's --drive vhost-user=PATH). One front end at a time; when it "
                    + "disconnects the next may connect. Runs until killed.",
            "Prints 'serving IMAGE on SOCKET' once the socket accepts connections."})
    static final class Blk implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        @Option(names = "--socket", required = true, paramLabel = "PATH",
                description = "The Unix socket to listen on (created; a stale socket there is replaced).")
        private Path socket;

        @Option(names = "--image", required = true, paramLabel = "FILE[,ro][,serial=ID]",
                description = "The raw disk image; ',ro' serves it read-only.")
        private String image;

        @picocli.CommandLine.Spec
        private picocli.CommandLine.Model.CommandSpec spec;

        Blk(CliContext context) { this.context = context; }

        @Override
        public Integer call() throws IOException {
            DriveConfig drive;
            try {
                drive = DriveConfig.parse(image);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        e.getMessage().replace("--drive", "--image"));
            }
            if (drive.iface() != DriveConfig.Interface.VIRTIO) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--image takes no if= option");
            }
            if (Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                if (!isSocket(socket)) {
                    throw new IllegalStateException("--socket " + socket + " exists and is not a socket");
                }
                Files.delete(socket);
            }
            try (BlockBackend backend = BlockBackend.open(drive); UnixSocket listener = UnixSocket.listen(socket)) {
                Runtime.getRuntime().addShutdownHook(new Thread(() -> socket.toFile().delete()));
                context.out().println("serving " + drive.path() + (drive.readOnly() ? " (read-only)" : "") + " on " + socket);
                context.out().flush();
                while (true) {
                    String error;
                    try (BackendConnection connection = new BackendConnection(listener.accept(), backend)) {
                        error = connection.run();
                    }
                    // Said only once the connection's descriptors and mappings are released, so that a
                    // supervisor reading this line sees the back end as it will stay.
                    context.err().println(error == null ? "flint: front end disconnected"
                            : "flint: front end connection closed: " + error);
                }
            }
        }

        private static boolean isSocket(Path path) throws IOException {
            int mode = (Integer) Files.readAttributes(path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS).get("mode");
            return (mode & 0170000) == 0140000;
        }
    }
}
