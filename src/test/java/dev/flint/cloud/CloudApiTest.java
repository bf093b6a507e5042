package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.cloud.compute.MetadataSource;
import dev.flint.cloud.fleet.StoreMetadataSource;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.SqliteStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.CreateKeyPairResponse;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesResponse;
import software.amazon.awssdk.services.ec2.model.DescribeTagsResponse;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceStateName;
import software.amazon.awssdk.services.ec2.model.InstanceStateChange;
import software.amazon.awssdk.services.ec2.model.KeyPairInfo;
import software.amazon.awssdk.services.ec2.model.RunInstancesResponse;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/** The EC2 API end to end through the AWS SDK's own Ec2Client (SigV4, Query encoding, XML parsing) over a fake runtime. */
class CloudApiTest {
    @TempDir
    static Path temp;
    static CloudHarness cloud;
    static Ec2Client ec2;
    static String imageId;
    static final Duration WAIT = Duration.ofSeconds(30);

    @BeforeAll
    static void start() throws Exception {
        cloud = CloudHarness.start(temp.resolve("data"), 64 * 1024, false, List.of());
        ec2 = cloud.client();
        Path image = CloudHarness.ext4Image(temp, "base.ext4");
        imageId = ec2.registerImage(r -> r.name("test-base").description("an empty ext4").imageLocation(image.toString())).imageId();
    }

    @AfterAll
    static void stop() {
        if (ec2 != null) ec2.close();
        if (cloud != null) cloud.close();
    }

    static Ec2Exception refused(Runnable call) {
        return assertThrows(Ec2Exception.class, call::run);
    }

    static String code(Ec2Exception e) {
        return e.awsErrorDetails().errorCode();
    }

    static Instance describe(String id) {
        return ec2.describeInstances(r -> r.instanceIds(id)).reservations().getFirst().instances().getFirst();
    }

    static void awaitState(String id, InstanceStateName state) throws InterruptedException {
        CloudHarness.await(id + " " + state, WAIT, () -> describe(id).state().name() == state);
    }

    static List<String> run(int count, String type, String tagValue) {
        RunInstancesResponse r = ec2.runInstances(q -> q.imageId(imageId).instanceType(type).minCount(count).maxCount(count)
                .tagSpecifications(TagSpecification.builder().resourceType("instance").tags(Tag.builder().key("suite").value(tagValue).build()).build()));
        return r.instances().stream().map(Instance::instanceId).toList();
    }

    @Test
    void regionsAndZones() {
        var regions = ec2.describeRegions().regions();
        assertEquals(1, regions.size());
        assertEquals("flint-local", regions.getFirst().regionName());
        assertEquals(cloud.daemon.endpoint(), regions.getFirst().endpoint());
        var zones = ec2.describeAvailabilityZones().availabilityZones();
        assertEquals("flint-locala", zones.getFirst().zoneName());
        assertEquals("available", zones.getFirst().stateAsString());
        assertTrue(ec2.describeAvailabilityZones(r -> r.filters(Filter.builder().name("zone-name").values("nope*").build())).availabilityZones().isEmpty());
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.describeRegions(r -> r.regionNames("us-east-1")))));
    }

    @Test
    void lifecycleKeepsIdAddressAndVolume() throws Exception {
        CreateKeyPairResponse key = ec2.createKeyPair(r -> r.keyName("life").keyType("ed25519"));
        String userData = Base64.getEncoder().encodeToString("#!/bin/sh\necho hello\n".getBytes(StandardCharsets.UTF_8));
        RunInstancesResponse ran = ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.micro").minCount(1).maxCount(1)
                .keyName("life").userData(userData).metadataOptions(m -> m.httpTokens("required"))
                .tagSpecifications(TagSpecification.builder().resourceType("instance").tags(Tag.builder().key("Name").value("web-1").build()).build()));
        Instance first = ran.instances().getFirst();
        String id = first.instanceId();
        assertTrue(id.matches("i-[0-9a-f]{17}"), id);
        assertEquals(InstanceStateName.PENDING, first.state().name());
        assertEquals(0, first.state().code());
        awaitState(id, InstanceStateName.RUNNING);
        Instance running = describe(id);
        assertEquals(16, running.state().code());
        assertEquals("life", running.keyName());
        assertEquals("t3.micro", running.instanceTypeAsString());
        assertEquals("web-1", running.tags().getFirst().value());
        assertEquals("required", running.metadataOptions().httpTokensAsString());
        String ip = running.privateIpAddress();
        assertTrue(ip.startsWith("172.31."), ip);
        var spec = cloud.runtime.launched.get(id);
        assertEquals(2, spec.vcpus());
        assertEquals(1024, spec.memoryMib());
        assertEquals(ip, spec.privateIp());

        // The metadata service's view: this instance's key, decoded user data, and nobody else's.
        MetadataSource.InstanceMetadata meta = metadata().byPrivateIp(ip).orElseThrow();
        assertEquals(id, meta.instanceId());
        assertEquals("#!/bin/sh\necho hello\n", new String(meta.userData(), StandardCharsets.UTF_8));
        assertTrue(meta.publicKeys().getFirst().openSshKey().startsWith("ssh-ed25519 "));
        assertTrue(meta.tokensRequired());
        assertTrue(metadata().byPrivateIp("172.31.15.250").isEmpty());

        String console = new String(Base64.getDecoder().decode(ec2.getConsoleOutput(r -> r.instanceId(id)).output()), StandardCharsets.UTF_8);
        assertTrue(console.contains("booting " + id), console);

        Path volume = spec.rootVolume();
        Files.writeString(volume.resolveSibling("marker"), "x");
        InstanceStateChange stopping = ec2.stopInstances(r -> r.instanceIds(id)).stoppingInstances().getFirst();
        assertEquals(InstanceStateName.RUNNING, stopping.previousState().name());
        assertEquals(InstanceStateName.STOPPING, stopping.currentState().name());
        awaitState(id, InstanceStateName.STOPPED);
        assertTrue(Files.exists(volume), "stop keeps the root volume");
        assertEquals("IncorrectInstanceState", code(refused(() -> ec2.rebootInstances(r -> r.instanceIds(id)))));

        ec2.startInstances(r -> r.instanceIds(id));
        awaitState(id, InstanceStateName.RUNNING);
        assertEquals(ip, describe(id).privateIpAddress(), "start keeps the private IP");
        assertEquals(volume, cloud.runtime.launched.get(id).rootVolume(), "start boots the same volume");

        ec2.rebootInstances(r -> r.instanceIds(id));
        CloudHarness.await("reboot relaunch", WAIT, () -> cloud.runtime.events.stream().filter(e -> e.equals("launch " + id)).count() == 3);
        awaitState(id, InstanceStateName.RUNNING);

        var terminating = ec2.terminateInstances(r -> r.instanceIds(id)).terminatingInstances().getFirst();
        assertEquals(InstanceStateName.SHUTTING_DOWN, terminating.currentState().name());
        awaitState(id, InstanceStateName.TERMINATED);
        CloudHarness.await("volume deleted", WAIT, () -> !Files.exists(volume));
        assertNull(describe(id).privateIpAddress(), "a terminated instance has no address");
        assertTrue(metadata().byPrivateIp(ip).isEmpty());
        assertEquals("IncorrectInstanceState", code(refused(() -> ec2.startInstances(r -> r.instanceIds(id)))));
        // Terminating again is a no-op that answers terminated -> terminated.
        var again = ec2.terminateInstances(r -> r.instanceIds(id)).terminatingInstances().getFirst();
        assertEquals(InstanceStateName.TERMINATED, again.previousState().name());
    }

    private static MetadataSource metadata() {
        // The daemon's own MetadataSource reads the same store; a second reader on the SQLite file sees what it committed.
        SqliteStore store = SqliteStore.open(cloud.dataDir.resolve("cloud.db"));
        STORES.add(store);
        return new StoreMetadataSource(new Records(store), "flint-local", "flint-locala");
    }

    private static final List<SqliteStore> STORES = new ArrayList<>();

    @Test
    void stopWaitsForThePowerOffThenKills() throws Exception {
        String id = run(1, "t3.nano", "stop-timeout").getFirst();
        awaitState(id, InstanceStateName.RUNNING);
        cloud.runtime.ignoreShutdown = true;
        try {
            ec2.stopInstances(r -> r.instanceIds(id));
            assertEquals(InstanceStateName.STOPPING, describe(id).state().name());
            awaitState(id, InstanceStateName.STOPPED); // the 2 s stop timeout kills it
            assertTrue(cloud.runtime.events.contains("kill " + id));
        } finally {
            cloud.runtime.ignoreShutdown = false;
        }
        String forced = run(1, "t3.nano", "stop-force").getFirst();
        awaitState(forced, InstanceStateName.RUNNING);
        ec2.stopInstances(r -> r.instanceIds(forced).force(true));
        awaitState(forced, InstanceStateName.STOPPED);
        assertTrue(cloud.runtime.events.contains("kill " + forced));
        assertFalse(cloud.runtime.events.contains("shutdown " + forced), "Force skips the ACPI shutdown");
        ec2.terminateInstances(r -> r.instanceIds(id, forced));
    }

    @Test
    void guestPowerOffStopsTheInstance() throws Exception {
        String id = run(1, "t3.nano", "poweroff").getFirst();
        awaitState(id, InstanceStateName.RUNNING);
        cloud.runtime.end(id, "guest powered off");
        awaitState(id, InstanceStateName.STOPPED);
        assertEquals("Client.InstanceInitiatedShutdown", describe(id).stateReason().code());
        ec2.terminateInstances(r -> r.instanceIds(id));
    }

    @Test
    void aRebootInsideTheGuestKeepsTheInstanceRunning() throws Exception {
        String id = run(1, "t3.nano", "guest-reboot").getFirst();
        awaitState(id, InstanceStateName.RUNNING);
        Instance before = describe(id);
        cloud.runtime.guestReset(id);
        CloudHarness.await(id + " launched again", WAIT, () -> cloud.runtime.events.stream().filter(e -> e.equals("launch " + id)).count() == 2);
        awaitState(id, InstanceStateName.RUNNING);
        assertTrue(cloud.runtime.isRunning(id));
        Instance after = describe(id);
        assertEquals(before.privateIpAddress(), after.privateIpAddress());
        assertEquals(before.launchTime(), after.launchTime(), "a reboot is not a new launch");
        ec2.terminateInstances(r -> r.instanceIds(id));
    }

    @Test
    void failedLaunchLeavesTheInstanceStopped() throws Exception {
        // The fake refuses instances whose id it is told; the id is known only after RunInstances, so hold
        // boots and fail the next launch by refusing the start of a stopped one instead.
        String id = run(1, "t3.nano", "fail").getFirst();
        awaitState(id, InstanceStateName.RUNNING);
        ec2.stopInstances(r -> r.instanceIds(id));
        awaitState(id, InstanceStateName.STOPPED);
        cloud.runtime.failLaunchOf = id;
        try {
            ec2.startInstances(r -> r.instanceIds(id));
            awaitState(id, InstanceStateName.STOPPED);
            assertEquals("Server.InternalError", describe(id).stateReason().code());
        } finally {
            cloud.runtime.failLaunchOf = null;
        }
        ec2.terminateInstances(r -> r.instanceIds(id));
    }

    @Test
    void terminateWhilePendingNeverLeavesAMachine() throws Exception {
        cloud.runtime.holdBoot = true;
        String id;
        try {
            id = run(1, "t3.nano", "pending-terminate").getFirst();
            CloudHarness.await("launch", WAIT, () -> cloud.runtime.running.contains(id));
            assertEquals(InstanceStateName.PENDING, describe(id).state().name());
            ec2.terminateInstances(r -> r.instanceIds(id));
        } finally {
            cloud.runtime.holdBoot = false;
        }
        awaitState(id, InstanceStateName.TERMINATED);
        cloud.runtime.boot(id); // a late boot report must not revive it
        cloud.runtime.drain();
        assertEquals(InstanceStateName.TERMINATED, describe(id).state().name());
        assertFalse(cloud.runtime.isRunning(id));
    }

    @Test
    void clientTokenMakesRunInstancesIdempotent() {
        Supplier<RunInstancesResponse> launch = () -> ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.nano").minCount(2).maxCount(2)
                .clientToken("token-123"));
        RunInstancesResponse a = launch.get();
        RunInstancesResponse b = launch.get();
        assertEquals(a.reservationId(), b.reservationId());
        assertEquals(a.instances().stream().map(Instance::instanceId).toList(), b.instances().stream().map(Instance::instanceId).toList());
        long count = ec2.describeInstances(r -> r.filters(Filter.builder().name("client-token").values("token-123").build()))
                .reservations().stream().mapToLong(res -> res.instances().size()).sum();
        assertEquals(2, count);
        Ec2Exception mismatch = refused(() -> ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.small").minCount(2).maxCount(2)
                .clientToken("token-123")));
        assertEquals("IdempotentParameterMismatch", code(mismatch));
        ec2.terminateInstances(r -> r.instanceIds(a.instances().stream().map(Instance::instanceId).toList()));
    }

    @Test
    void capacityIsCheckedAndNothingIsHalfMade() throws Exception {
        long before = allInstances().size();
        long saved = cloud.runtime.capacityMib;
        cloud.runtime.capacityMib = usedMemory() + 3 * 1024;
        try {
            Ec2Exception e = refused(() -> ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.small").minCount(2).maxCount(2)));
            assertEquals("InsufficientInstanceCapacity", code(e));
            assertEquals(500, e.statusCode());
            assertEquals(before, allInstances().size(), "a refused launch stores nothing");
            // MaxCount above what fits: EC2 launches as many as fit, at least MinCount.
            RunInstancesResponse some = ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.micro").minCount(1).maxCount(5));
            assertEquals(3, some.instances().size());
            ec2.terminateInstances(r -> r.instanceIds(some.instances().stream().map(Instance::instanceId).toList()));
            for (Instance i : some.instances()) awaitState(i.instanceId(), InstanceStateName.TERMINATED);
            // Types larger than the host are not offered and refused.
            cloud.runtime.capacityMib = 2048;
            Set<String> offered = new HashSet<>();
            ec2.describeInstanceTypes(r -> { }).instanceTypes().forEach(t -> offered.add(t.instanceTypeAsString()));
            assertEquals(Set.of("t3.nano", "t3.micro", "t3.small"), offered);
            assertEquals("Unsupported", code(refused(() -> ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.medium").minCount(1).maxCount(1)))));
            assertEquals("InvalidParameterValue", code(refused(() -> ec2.runInstances(r -> r.imageId(imageId).instanceType("m5.24xlarge").minCount(1).maxCount(1)))));
        } finally {
            cloud.runtime.capacityMib = saved;
        }
        var large = ec2.describeInstanceTypes(r -> r.instanceTypesWithStrings("t3.large")).instanceTypes().getFirst();
        assertEquals(8192L, large.memoryInfo().sizeInMiB());
        assertEquals(2, large.vCpuInfo().defaultVCpus());
        assertEquals("InvalidInstanceType", code(refused(() -> ec2.describeInstanceTypes(r -> r.instanceTypesWithStrings("t9.huge")))));
    }

    private static long usedMemory() {
        long used = 0;
        for (Instance i : allInstances()) {
            String s = i.state().nameAsString();
            if (s.equals("pending") || s.equals("running") || s.equals("stopping") || s.equals("shutting-down")) {
                used += switch (i.instanceTypeAsString()) {
                    case "t3.nano" -> 512;
                    case "t3.micro" -> 1024;
                    case "t3.small" -> 2048;
                    case "t3.medium" -> 4096;
                    default -> 8192;
                };
            }
        }
        return used;
    }

    private static List<Instance> allInstances() {
        List<Instance> out = new ArrayList<>();
        ec2.describeInstancesPaginator().reservations().forEach(r -> out.addAll(r.instances()));
        return out;
    }

    @Test
    void pagingAndFilters() throws Exception {
        List<String> ids = run(12, "t3.nano", "paging");
        Filter mine = Filter.builder().name("tag:suite").values("pag?ng").build();
        List<String> seen = new ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            String t = token;
            DescribeInstancesResponse page = ec2.describeInstances(r -> r.filters(mine).maxResults(5).nextToken(t));
            page.reservations().forEach(res -> res.instances().forEach(i -> seen.add(i.instanceId())));
            token = page.nextToken();
            pages++;
        } while (token != null);
        assertEquals(3, pages);
        assertEquals(Set.copyOf(ids), Set.copyOf(seen));
        assertEquals(12, seen.size(), "no instance twice across pages");
        // The SDK's own paginator follows nextToken the same way.
        List<String> viaPaginator = new ArrayList<>();
        ec2.describeInstancesPaginator(r -> r.filters(mine).maxResults(5)).reservations().forEach(res -> res.instances().forEach(i -> viaPaginator.add(i.instanceId())));
        assertEquals(12, viaPaginator.size());

        for (String id : ids) awaitState(id, InstanceStateName.RUNNING);
        // Values of one filter OR'd, filters AND'd; wildcards; tag-key / tag-value.
        assertEquals(2, count(Filter.builder().name("instance-id").values(ids.get(0), ids.get(1)).build(), mine));
        assertEquals(12, count(Filter.builder().name("instance-state-name").values("running", "pending").build(), mine));
        assertEquals(0, count(Filter.builder().name("instance-state-name").values("stopped").build(), mine));
        assertEquals(12, count(Filter.builder().name("instance-type").values("t3.*").build(), mine));
        assertEquals(12, count(Filter.builder().name("tag-key").values("suite").build(), mine));
        assertEquals(12, count(Filter.builder().name("tag-value").values("*ging").build()));
        assertEquals(0, count(Filter.builder().name("tag:suite").values("paging-not").build()));
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.describeInstances(r -> r.filters(Filter.builder().name("no-such-filter").values("x").build())))));
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.describeInstances(r -> r.maxResults(3)))));
        assertEquals("InvalidNextToken", code(refused(() -> ec2.describeInstances(r -> r.maxResults(5).nextToken("garbage!")))));
        assertEquals("InvalidParameterCombination", code(refused(() -> ec2.describeInstances(r -> r.instanceIds(ids.getFirst()).maxResults(5)))));

        var statuses = ec2.describeInstanceStatus(r -> r.instanceIds(ids.subList(0, 3))).instanceStatuses();
        assertEquals(3, statuses.size());
        assertEquals("ok", statuses.getFirst().instanceStatus().statusAsString());

        ec2.terminateInstances(r -> r.instanceIds(ids));
        for (String id : ids) awaitState(id, InstanceStateName.TERMINATED);
        assertTrue(ec2.describeInstanceStatus(r -> r.instanceIds(ids.subList(0, 3))).instanceStatuses().isEmpty(), "only running instances by default");
        assertEquals(3, ec2.describeInstanceStatus(r -> r.instanceIds(ids.subList(0, 3)).includeAllInstances(true)).instanceStatuses().size());
    }

    private static int count(Filter... filters) {
        return ec2.describeInstances(r -> r.filters(filters)).reservations().stream().mapToInt(res -> res.instances().size()).sum();
    }

    @Test
    void instanceErrors() {
        assertEquals("InvalidInstanceID.Malformed", code(refused(() -> ec2.describeInstances(r -> r.instanceIds("i-xyz")))));
        assertEquals("InvalidInstanceID.NotFound", code(refused(() -> ec2.describeInstances(r -> r.instanceIds("i-0123456789abcdef0")))));
        assertEquals("InvalidInstanceID.NotFound", code(refused(() -> ec2.stopInstances(r -> r.instanceIds("i-0123456789abcdef0")))));
        assertEquals("MissingParameter", code(refused(() -> ec2.terminateInstances(r -> r.instanceIds(List.of())))));
        assertEquals("InvalidAMIID.Malformed", code(refused(() -> ec2.runInstances(r -> r.imageId("bogus").minCount(1).maxCount(1)))));
        assertEquals("InvalidAMIID.NotFound", code(refused(() -> ec2.runInstances(r -> r.imageId("ami-0123456789abcdef0").minCount(1).maxCount(1)))));
        assertEquals("MissingParameter", code(refused(() -> ec2.runInstances(r -> r.minCount(1).maxCount(1)))));
        assertEquals("InvalidKeyPair.NotFound", code(refused(() -> ec2.runInstances(r -> r.imageId(imageId).keyName("nobody").minCount(1).maxCount(1)))));
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.runInstances(r -> r.imageId(imageId).userData("%%%not base64").minCount(1).maxCount(1)))));
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.runInstances(r -> r.imageId(imageId).minCount(2).maxCount(1)))));
        assertEquals("InvalidBlockDeviceMapping", code(refused(() -> ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1)
                .blockDeviceMappings(b -> b.deviceName("/dev/sdf").ebs(e -> e.deleteOnTermination(true)))))));
        Ec2Exception dry = refused(() -> ec2.runInstances(r -> r.imageId(imageId).minCount(1).maxCount(1).dryRun(true)));
        assertEquals("DryRunOperation", code(dry));
        assertEquals(412, dry.statusCode());
    }

    @Test
    void rootVolumeSizeFromBlockDeviceMapping() throws Exception {
        String id = ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.nano").minCount(1).maxCount(1)
                .blockDeviceMappings(b -> b.deviceName("/dev/xvda").ebs(e -> e.volumeSize(2)))).instances().getFirst().instanceId();
        awaitState(id, InstanceStateName.RUNNING);
        Path volume = cloud.runtime.launched.get(id).rootVolume();
        assertEquals(2L << 30, Files.size(volume));
        ec2.terminateInstances(r -> r.instanceIds(id));
        awaitState(id, InstanceStateName.TERMINATED);
    }

    @Test
    void keyPairs() throws Exception {
        CreateKeyPairResponse rsa = ec2.createKeyPair(r -> r.keyName("rsa-key"));
        assertTrue(rsa.keyMaterial().startsWith("-----BEGIN RSA PRIVATE KEY-----"), rsa.keyMaterial());
        assertTrue(rsa.keyFingerprint().matches("([0-9a-f]{2}:){19}[0-9a-f]{2}"), rsa.keyFingerprint());
        // The fingerprint of a created RSA key is the SHA-1 of its PKCS#8 DER: check with openssl's own conversion.
        Path pem = temp.resolve("rsa.pem");
        Files.writeString(pem, rsa.keyMaterial() + "\n");
        byte[] pkcs8 = exec("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem.toString(), "-outform", "DER");
        assertEquals(rsa.keyFingerprint(), java.util.HexFormat.ofDelimiter(":").formatHex(MessageDigest.getInstance("SHA-1").digest(pkcs8)));

        CreateKeyPairResponse ed = ec2.createKeyPair(r -> r.keyName("ed-key").keyType("ed25519"));
        assertTrue(ed.keyMaterial().startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"));
        Path edFile = temp.resolve("ed");
        Files.writeString(edFile, ed.keyMaterial() + "\n");
        Files.setPosixFilePermissions(edFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        // ssh-keygen reads the private key, and its SHA256 fingerprint is EC2's without the base64 padding.
        String listed = new String(exec("ssh-keygen", "-l", "-f", edFile.toString()), StandardCharsets.UTF_8);
        assertTrue(listed.contains("SHA256:" + ed.keyFingerprint().replace("=", "")), listed + " vs " + ed.keyFingerprint());
        String derivedPublic = new String(exec("ssh-keygen", "-y", "-f", edFile.toString()), StandardCharsets.UTF_8).strip();
        KeyPairInfo info = ec2.describeKeyPairs(r -> r.keyNames("ed-key").includePublicKey(true)).keyPairs().getFirst();
        assertTrue(info.publicKey().startsWith(derivedPublic.split(" ")[0] + " " + derivedPublic.split(" ")[1]));
        assertEquals("ed25519", info.keyTypeAsString());
        assertEquals(ed.keyPairId(), info.keyPairId());

        // Imported RSA: MD5 of the public key's DER, as ssh-keygen -e -m PKCS8 | openssl would give.
        Path imported = temp.resolve("imp");
        exec("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", imported.toString());
        byte[] pub = Files.readAllBytes(temp.resolve("imp.pub"));
        var importedKey = ec2.importKeyPair(r -> r.keyName("imported").publicKeyMaterial(SdkBytes.fromByteArray(pub)));
        byte[] spkiPem = exec("ssh-keygen", "-e", "-m", "PKCS8", "-f", temp.resolve("imp.pub").toString());
        String b64 = new String(spkiPem, StandardCharsets.US_ASCII).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        String md5 = java.util.HexFormat.ofDelimiter(":").formatHex(MessageDigest.getInstance("MD5").digest(Base64.getDecoder().decode(b64)));
        assertEquals(md5, importedKey.keyFingerprint());

        assertEquals("InvalidKeyPair.Duplicate", code(refused(() -> ec2.createKeyPair(r -> r.keyName("rsa-key")))));
        assertEquals("InvalidKey.Format", code(refused(() -> ec2.importKeyPair(r -> r.keyName("bad").publicKeyMaterial(SdkBytes.fromUtf8String("ssh-rsa AAAAnotakey"))))));
        assertEquals("InvalidKeyPair.NotFound", code(refused(() -> ec2.describeKeyPairs(r -> r.keyNames("missing")))));
        assertEquals(1, ec2.describeKeyPairs(r -> r.filters(Filter.builder().name("key-name").values("imp*").build())).keyPairs().size());
        ec2.deleteKeyPair(r -> r.keyName("imported"));
        ec2.deleteKeyPair(r -> r.keyName("never-existed"));
        assertEquals("InvalidKeyPair.NotFound", code(refused(() -> ec2.describeKeyPairs(r -> r.keyNames("imported")))));
    }

    private static byte[] exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), String.join(" ", command));
        return out;
    }

    @Test
    void imagesRegisterDescribeDeregister() throws Exception {
        Path file = CloudHarness.ext4Image(temp, "other.ext4");
        String id = ec2.registerImage(r -> r.name("other-image").imageLocation("file://" + file)).imageId();
        var image = ec2.describeImages(r -> r.imageIds(id)).images().getFirst();
        assertEquals("other-image", image.name());
        assertEquals("available", image.stateAsString());
        assertEquals("/dev/vda", image.rootDeviceName());
        assertEquals(1, ec2.describeImages(r -> r.owners("self").filters(Filter.builder().name("name").values("other-*").build())).images().size());
        assertEquals("InvalidAMIName.Duplicate", code(refused(() -> ec2.registerImage(r -> r.name("other-image").imageLocation(file.toString())))));
        Path notExt4 = temp.resolve("zeros");
        Files.write(notExt4, new byte[4096]);
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.registerImage(r -> r.name("zeros").imageLocation(notExt4.toString())))));
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.registerImage(r -> r.name("relative").imageLocation("images/x.ext4")))));
        assertTrue(ec2.deregisterImage(r -> r.imageId(id)).returnValue());
        assertEquals("InvalidAMIID.NotFound", code(refused(() -> ec2.describeImages(r -> r.imageIds(id)))));
        assertEquals("InvalidAMIID.Malformed", code(refused(() -> ec2.deregisterImage(r -> r.imageId("ami-zz")))));
    }

    @Test
    void tags() throws Exception {
        String id = run(1, "t3.nano", "tags").getFirst();
        ec2.createTags(r -> r.resources(id, imageId).tags(Tag.builder().key("env").value("prod").build(), Tag.builder().key("team").value("a").build()));
        DescribeTagsResponse tags = ec2.describeTags(r -> r.filters(Filter.builder().name("resource-id").values(id).build()));
        assertEquals(Map.of("env", "prod", "team", "a", "suite", "tags"),
                Map.copyOf(tags.tags().stream().collect(java.util.stream.Collectors.toMap(t -> t.key(), t -> t.value()))));
        assertEquals("instance", tags.tags().getFirst().resourceTypeAsString());
        assertEquals(1, ec2.describeTags(r -> r.filters(Filter.builder().name("resource-type").values("image").build(),
                Filter.builder().name("key").values("env").build())).tags().size());
        // Deleting with a value that does not match keeps the tag; without a value it goes.
        ec2.deleteTags(r -> r.resources(id).tags(Tag.builder().key("env").value("dev").build(), Tag.builder().key("team").build()));
        assertEquals(Map.of("env", "prod", "suite", "tags"), tagsOf(describe(id).tags()));
        assertEquals("InvalidInstanceID.NotFound", code(refused(() -> ec2.createTags(r -> r.resources("i-0123456789abcdef0").tags(Tag.builder().key("a").value("b").build())))));
        assertEquals("InvalidID", code(refused(() -> ec2.createTags(r -> r.resources("vpc-123").tags(Tag.builder().key("a").value("b").build())))));
        assertEquals("InvalidParameterValue", code(refused(() -> ec2.createTags(r -> r.resources(id).tags(Tag.builder().key("aws:x").value("b").build())))));
        ec2.deleteTags(r -> r.resources(imageId).tags(Tag.builder().key("env").build(), Tag.builder().key("team").build()));
        ec2.terminateInstances(r -> r.instanceIds(id));
    }

    private static Map<String, String> tagsOf(List<Tag> tags) {
        return tags.stream().collect(java.util.stream.Collectors.toMap(Tag::key, Tag::value));
    }

    @Test
    void wrongCredentialsAreAuthFailure() {
        try (Ec2Client wrongSecret = cloud.client(cloud.daemon.credentials().accessKeyId(), "0".repeat(40));
                Ec2Client wrongKey = cloud.client("AKIAFAKEFAKEFAKEFAKE", cloud.daemon.credentials().secretAccessKey())) {
            Ec2Exception a = refused(wrongSecret::describeRegions);
            assertEquals("AuthFailure", code(a));
            assertEquals(401, a.statusCode());
            assertEquals("AuthFailure", code(refused(wrongKey::describeRegions)));
        }
        assertNotEquals(cloud.daemon.credentials().accessKeyId(), "AKIAFAKEFAKEFAKEFAKE");
        assertNotNull(cloud.daemon.credentials().secretAccessKey());
    }

    @Test
    void credentialsFileIsPrivate() throws Exception {
        Path file = cloud.dataDir.resolve("credentials");
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }
}
