package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.model.InstanceTypes;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.DescribeInstanceTypesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeInstanceTypesResponse;
import software.amazon.awssdk.services.ec2.model.InstanceTypeInfo;

/**
 * DescribeInstanceTypes: the t3 family, t3.nano to t3.large, but only the shapes this host can hold (memory
 * no more than the runtime's capacity, vCPUs no more than the overcommitted vCPU capacity).
 */
public final class InstanceTypeActions {
    private final CloudContext cloud;

    public InstanceTypeActions(CloudContext cloud) {
        this.cloud = cloud;
    }

    public void register(ActionRegistry registry) {
        registry.add(DescribeInstanceTypesRequest.class, this::describe);
    }

    static boolean fits(CloudContext cloud, InstanceTypes.Shape shape) {
        return shape.memoryMib() <= cloud.runtime().memoryCapacityMib() && shape.vcpus() <= cloud.fleet().vcpuCapacity();
    }

    /** The shape of {@code name}, refused if Flint does not know it or this host cannot hold it. */
    static InstanceTypes.Shape usableShape(CloudContext cloud, String name) {
        InstanceTypes.Shape shape = InstanceTypes.byName(name)
                .orElseThrow(() -> Ec2Exception.invalidParameter("Invalid value '" + name + "' for InstanceType."));
        if (!fits(cloud, shape)) {
            throw Ec2Exception.client("Unsupported", "Your requested instance type (" + name + ") is not supported on this host ("
                    + cloud.runtime().memoryCapacityMib() + " MiB for instances).");
        }
        return shape;
    }

    private DescribeInstanceTypesResponse describe(DescribeInstanceTypesRequest q) {
        List<InstanceTypes.Shape> chosen = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (String name : q.instanceTypesAsStrings()) {
            InstanceTypes.byName(name).filter(s -> fits(cloud, s)).ifPresentOrElse(chosen::add, () -> unknown.add(name));
        }
        if (!unknown.isEmpty()) {
            throw Ec2Exception.client("InvalidInstanceType", "The following supplied instance types do not exist: [" + String.join(", ", unknown) + "]");
        }
        if (q.instanceTypesAsStrings().isEmpty()) {
            for (InstanceTypes.Shape s : InstanceTypes.ALL) if (fits(cloud, s)) chosen.add(s);
        }
        Map<String, Function<InstanceTypes.Shape, Collection<String>>> a = new LinkedHashMap<>();
        a.put("instance-type", s -> List.of(s.name()));
        a.put("vcpu-info.default-vcpus", s -> List.of(String.valueOf(s.vcpus())));
        a.put("memory-info.size-in-mib", s -> List.of(String.valueOf(s.memoryMib())));
        a.put("current-generation", s -> List.of("true"));
        a.put("processor-info.supported-architecture", s -> List.of("x86_64"));
        chosen = new Filters<>(a, null).apply(q.filters(), chosen);
        Paging.Page<InstanceTypes.Shape> page = Paging.page(chosen, InstanceTypes.Shape::name, q.maxResults(), q.nextToken(), 5, 100);
        List<InstanceTypeInfo> infos = page.items().stream().map(s -> InstanceTypeInfo.builder()
                .instanceType(s.name())
                .currentGeneration(true)
                .freeTierEligible(false)
                .supportedUsageClassesWithStrings("on-demand")
                .supportedRootDeviceTypesWithStrings("ebs")
                .supportedVirtualizationTypesWithStrings("hvm")
                .bareMetal(false)
                .hypervisor("xen")
                .processorInfo(p -> p.supportedArchitecturesWithStrings("x86_64"))
                .vCpuInfo(v -> v.defaultVCpus(s.vcpus()).defaultCores(Math.max(1, s.vcpus() / 2)).defaultThreadsPerCore(s.vcpus() >= 2 ? 2 : 1))
                .memoryInfo(m -> m.sizeInMiB((long) s.memoryMib()))
                .instanceStorageSupported(false)
                .burstablePerformanceSupported(true)
                .build()).toList();
        return DescribeInstanceTypesResponse.builder().instanceTypes(infos).nextToken(page.nextToken()).build();
    }
}
