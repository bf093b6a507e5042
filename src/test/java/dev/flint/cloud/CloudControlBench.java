package dev.flint.cloud;

import dev.flint.cloud.store.EtcdForTests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Filter;

/**
 * The control plane's own cost, without machines (fake runtime), through the SDK's Ec2Client over HTTP with
 * SigV4: RunInstances of one instance, and DescribeInstances of everything / of one id / with a tag filter,
 * with N instance records in the store. Runs on SQLite, and on etcd when it is installed. Prints medians.
 * Usage (bench/cloud-api.sh): CloudControlBench [RECORDS (1000)] [RUNS (50)] [STORES (sqlite,etcd)]; a store measured
 * twice (e.g. sqlite,etcd,sqlite) shows how much of the first figure is the JVM warming up.
 */
public final class CloudControlBench {
    private CloudControlBench() {}

    public static void main(String[] args) throws Exception {
        int records = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        Path temp = Files.createTempDirectory("flint-cloud-bench");
        String[] stores = (args.length > 2 ? args[2] : "sqlite,etcd").split(",");
        try {
            for (int i = 0; i < stores.length; i++) {
                Path dir = temp.resolve(i + "-" + stores[i]);
                if (stores[i].equals("sqlite")) {
                    measure("sqlite", dir, null, records, runs);
                } else if (!EtcdForTests.available()) {
                    System.out.println("etcd: skipped (no etcd binary)");
                } else {
                    try (EtcdForTests etcd = EtcdForTests.start(dir.resolve("etcd"))) {
                        measure("etcd", dir.resolve("data"), etcd.storeUri(), records, runs);
                    }
                }
            }
        } finally {
            try (var walk = Files.walk(temp)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void measure(String store, Path data, String storeUri, int records, int runs) throws Exception {
        try (CloudHarness cloud = CloudHarness.start(data, (long) records * 1024 + 4096, false, List.of(), storeUri, records + 64);
                Ec2Client ec2 = cloud.client()) {
            Path image = CloudHarness.ext4Image(data, "bench.ext4");
            String imageId = ec2.registerImage(r -> r.name("bench").imageLocation(image.toString())).imageId();
            List<Double> run = new ArrayList<>();
            for (int made = 0; made < records; ) {
                int batch = Math.min(100, records - made);
                if (batch == 1 || run.size() < runs) {
                    long t = System.nanoTime();
                    ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.nano").minCount(1).maxCount(1));
                    run.add((System.nanoTime() - t) / 1e6);
                    made++;
                } else {
                    ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.nano").minCount(batch).maxCount(batch)
                            .tagSpecifications(t -> t.resourceType("instance").tags(g -> g.key("batch").value("b" + batch))));
                    made += batch;
                }
            }
            // Let the launches (volume copies) finish, so the timings are the control plane's alone.
            CloudHarness.await("all running", java.time.Duration.ofMinutes(10), () -> {
                int[] running = {0};
                ec2.describeInstancesPaginator(r -> r.filters(Filter.builder().name("instance-state-name").values("running").build()).maxResults(1000))
                        .reservations().forEach(res -> running[0] += res.instances().size());
                return running[0] == records;
            });
            String oneId = ec2.describeInstances(r -> r.maxResults(5)).reservations().getFirst().instances().getFirst().instanceId();
            List<Double> all = time(runs, () -> ec2.describeInstancesPaginator(r -> r.maxResults(1000)).reservations().forEach(x -> { }));
            List<Double> one = time(runs, () -> ec2.describeInstances(r -> r.instanceIds(oneId)));
            List<Double> tag = time(runs, () -> ec2.describeInstances(r -> r.filters(Filter.builder().name("tag:batch").values("none").build())));
            System.out.printf("%s, %d instance records: RunInstances (1) median %.1f ms; DescribeInstances all %.1f ms, one id %.1f ms, "
                    + "tag filter %.1f ms (medians of %d)%n", store, records, median(run), median(all), median(one), median(tag), runs);
        }
    }

    private static List<Double> time(int runs, Runnable call) {
        call.run(); // warm-up
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            long t = System.nanoTime();
            call.run();
            out.add((System.nanoTime() - t) / 1e6);
        }
        return out;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
