package dev.flint.devices.vhostuser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a vhost-user session holds in a process, counted from /proc: descriptors of the kinds it opens
 * (sockets, eventfds, epoll instances, memfds) and mappings of shared memory files. The JVM's own
 * files come and go (class loading, JIT), so only these are compared before and after.
 */
record VhostResources(long descriptors, long memfdMappings) {
    static VhostResources of(String pid) throws IOException {
        long fds = 0;
        try (var list = Files.list(Path.of("/proc", pid, "fd"))) {
            for (Path fd : list.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:") || target.contains("[eventfd]") || target.contains("[eventpoll]")
                            || target.startsWith("/memfd:")) {
                        fds++;
                    }
                } catch (IOException closed) {
                    // closed while we looked
                }
            }
        }
        long maps = Files.readAllLines(Path.of("/proc", pid, "maps")).stream().filter(l -> l.contains("/memfd:")).count();
        return new VhostResources(fds, maps);
    }

    static VhostResources self() throws IOException { return of("self"); }
}
