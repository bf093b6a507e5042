package dev.flint.cloud.model;

import java.util.List;
import java.util.Optional;

/** The instance types Flint offers: the t3 family's names and shapes (vCPUs, memory) as EC2 defines them. */
public final class InstanceTypes {
    public record Shape(String name, int vcpus, int memoryMib) {}

    public static final List<Shape> ALL = List.of(
            new Shape("t3.nano", 2, 512),
            new Shape("t3.micro", 2, 1024),
            new Shape("t3.small", 2, 2048),
            new Shape("t3.medium", 2, 4096),
            new Shape("t3.large", 2, 8192));

    private InstanceTypes() {}

    public static Optional<Shape> byName(String name) {
        return ALL.stream().filter(s -> s.name().equals(name)).findFirst();
    }
}
