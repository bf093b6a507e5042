package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.cloud.fleet.StoreMetadataSource;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.SqliteStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real AWS CLI (botocore: its own SigV4 signer, Query serializer and XML parser) against the daemon over a
 * fake runtime, to prove the wire format with a client Flint's code had no part in. Skipped if no {@code aws}.
 */
class AwsCliTest {
    @TempDir
    static Path temp;
    static CloudHarness cloud;
    static String aws;

    record Result(int exit, String out, String err) {}

    @BeforeAll
    static void start() throws Exception {
        aws = findAws();
        assumeTrue(aws != null, "the AWS CLI is not installed (bin/test installs Debian's awscli)");
        cloud = CloudHarness.start(temp.resolve("data"), 8192, true, List.of());
    }

    @AfterAll
    static void stop() {
        if (cloud != null) cloud.close();
    }

    private static String findAws() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, "aws"))) return Path.of(dir, "aws").toString();
        }
        return null;
    }

    /** Runs {@code aws ec2 ...} with the daemon's credentials in the environment (as 'flint cloud env' prints them). */
    static Result ec2(boolean endpointFromEnvironment, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(aws, "ec2"));
        command.addAll(Arrays.asList(args));
        if (!endpointFromEnvironment) command.addAll(List.of("--endpoint-url", cloud.daemon.endpoint()));
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("AWS_"));
        env.put("AWS_ACCESS_KEY_ID", cloud.daemon.credentials().accessKeyId());
        env.put("AWS_SECRET_ACCESS_KEY", cloud.daemon.credentials().secretAccessKey());
        env.put("AWS_DEFAULT_REGION", "flint-local");
        env.put("AWS_CONFIG_FILE", temp.resolve("no-config").toString());
        env.put("AWS_SHARED_CREDENTIALS_FILE", temp.resolve("no-credentials").toString());
        env.put("AWS_PAGER", "");
        env.put("AWS_MAX_ATTEMPTS", "1");
        if (endpointFromEnvironment) env.put("AWS_ENDPOINT_URL_EC2", cloud.daemon.endpoint());
        Path out = Files.createTempFile(temp, "out", ".txt");
        Path err = Files.createTempFile(temp, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("aws " + String.join(" ", args) + " did not finish");
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    static String ok(Result r) {
        assertEquals(0, r.exit(), r.err());
        return r.out().strip();
    }

    @Test
    void theAwsCliDrivesTheDaemon() throws Exception {
        assertTrue(ok(ec2(true, "describe-regions", "--output", "text")).contains("flint-local"), "endpoint from AWS_ENDPOINT_URL_EC2");
        assertTrue(ok(ec2(false, "describe-availability-zones", "--output", "text")).contains("flint-locala"), "--endpoint-url");

        String key = ok(ec2(false, "create-key-pair", "--key-name", "cli", "--key-type", "ed25519", "--query", "KeyMaterial", "--output", "text"));
        assertTrue(key.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"), key);

        Path image = CloudHarness.ext4Image(temp, "cli.ext4");
        String imageId = ok(ec2(false, "register-image", "--name", "cli-image", "--image-location", image.toString(), "--query", "ImageId", "--output", "text"));
        assertTrue(imageId.startsWith("ami-"), imageId);

        String ids = ok(ec2(false, "run-instances", "--image-id", imageId, "--count", "2", "--instance-type", "t3.nano", "--key-name", "cli",
                "--user-data", "#!/bin/sh\necho from-cli\n", "--metadata-options", "HttpTokens=required",
                "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli-box}]",
                "--query", "Instances[].InstanceId", "--output", "text"));
        String[] launched = ids.split("\\s+");
        assertEquals(2, launched.length, ids);

        ok(ec2(false, "wait", "instance-running", "--instance-ids", launched[0], launched[1]));
        String filtered = ok(ec2(false, "describe-instances", "--filters", "Name=tag:Name,Values=cli-*", "Name=instance-state-name,Values=running",
                "--query", "Reservations[].Instances[].[InstanceId,State.Name,PrivateIpAddress]", "--output", "text"));
        assertEquals(2, filtered.lines().count(), filtered);
        assertTrue(filtered.contains(launched[0]) && filtered.contains("running") && filtered.contains("172.31."), filtered);
        assertEquals("", ok(ec2(false, "describe-instances", "--filters", "Name=tag:Name,Values=other", "--query",
                "Reservations[].Instances[].InstanceId", "--output", "text")));
        // The CLI pages through NextToken itself with --page-size.
        String paged = ok(ec2(false, "describe-instances", "--page-size", "5", "--query", "Reservations[].Instances[].InstanceId", "--output", "text"));
        assertEquals(2, paged.split("\\s+").length, paged);

        // The CLI base64-encoded the user data; the metadata service hands the guest the script itself.
        try (SqliteStore store = SqliteStore.open(cloud.dataDir.resolve("cloud.db"))) {
            String ip = filtered.lines().filter(l -> l.startsWith(launched[0])).findFirst().orElseThrow().split("\\s+")[2];
            var meta = new StoreMetadataSource(new Records(store), "flint-local", "flint-locala").byPrivateIp(ip).orElseThrow();
            assertEquals("#!/bin/sh\necho from-cli\n", new String(meta.userData(), StandardCharsets.UTF_8));
            assertTrue(meta.tokensRequired());
        }

        String console = ok(ec2(false, "get-console-output", "--instance-id", launched[0], "--query", "Output", "--output", "text"));
        assertTrue(console.contains("booting " + launched[0]), console);

        String stopped = ok(ec2(false, "stop-instances", "--instance-ids", launched[0], "--query", "StoppingInstances[0].CurrentState.Name", "--output", "text"));
        assertEquals("stopping", stopped);
        // (The CLI's stopped/terminated waiters poll every 15 s; watch through the SDK instead to keep this quick.)
        try (var sdk = cloud.client()) {
            CloudHarness.await("stopped", java.time.Duration.ofSeconds(30), () -> sdk.describeInstances(r -> r.instanceIds(launched[0]))
                    .reservations().getFirst().instances().getFirst().state().nameAsString().equals("stopped"));
        }
        String terminating = ok(ec2(false, "terminate-instances", "--instance-ids", launched[0], launched[1],
                "--query", "TerminatingInstances[].CurrentState.Name", "--output", "text"));
        assertEquals("shutting-down\tshutting-down", terminating);

        Result unknown = ec2(false, "describe-vpcs");
        assertNotEquals(0, unknown.exit());
        assertTrue(unknown.err().contains("InvalidAction"), unknown.err());
        Result notFound = ec2(false, "describe-instances", "--instance-ids", "i-0123456789abcdef0");
        assertTrue(notFound.err().contains("InvalidInstanceID.NotFound"), notFound.err());
        Result dryRun = ec2(false, "describe-instances", "--dry-run");
        assertTrue(dryRun.err().contains("DryRunOperation"), dryRun.err());
    }

    /** The security-group commands a user types, in the forms the CLI sends them (top-level, --ip-permissions, names). */
    @Test
    void securityGroupsThroughTheCli() throws Exception {
        String sg = ok(ec2(false, "create-security-group", "--group-name", "cli-web", "--description", "web from the CLI",
                "--query", "GroupId", "--output", "text"));
        assertTrue(sg.matches("sg-[0-9a-f]{17}"), sg);
        ok(ec2(false, "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"));
        ok(ec2(false, "authorize-security-group-ingress", "--group-id", sg, "--ip-permissions",
                "IpProtocol=tcp,FromPort=8000,ToPort=8080,IpRanges=[{CidrIp=10.0.0.0/8,Description=lan}]"));
        ok(ec2(false, "authorize-security-group-ingress", "--group-name", "cli-web", "--protocol", "all", "--source-group", "default"));
        String rules = ok(ec2(false, "describe-security-groups", "--group-names", "cli-web", "--query",
                "SecurityGroups[0].IpPermissions[].[IpProtocol,FromPort,ToPort]", "--output", "text"));
        assertEquals("tcp\t22\t22\ntcp\t8000\t8080\n-1\tNone\tNone", rules);
        Result duplicate = ec2(false, "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0");
        assertTrue(duplicate.err().contains("InvalidPermission.Duplicate"), duplicate.err());
        ok(ec2(false, "revoke-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"));
        Result missing = ec2(false, "revoke-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0");
        assertTrue(missing.err().contains("InvalidPermission.NotFound"), missing.err());
        assertEquals("2", ok(ec2(false, "describe-security-group-rules", "--filters", "Name=group-id,Values=" + sg,
                "--query", "length(SecurityGroupRules[?!IsEgress])", "--output", "text")));
        Result inUse = ec2(false, "delete-security-group", "--group-name", "default");
        assertTrue(inUse.err().contains("CannotDelete"), inUse.err());
        ok(ec2(false, "revoke-security-group-ingress", "--group-name", "cli-web", "--protocol", "all", "--source-group", "default"));
        ok(ec2(false, "delete-security-group", "--group-id", sg));
        assertEquals("default", ok(ec2(false, "describe-security-groups", "--query", "SecurityGroups[].GroupName", "--output", "text")));
    }

    @Test
    void unsignedRequestsNeedTrustLocal() throws Exception {
        // This daemon was started with trust-local: --no-sign-request works from loopback.
        assertTrue(ok(ec2(false, "describe-regions", "--no-sign-request", "--output", "text")).contains("flint-local"));
        try (CloudHarness strict = CloudHarness.start(temp.resolve("strict"), 8192, false, List.of())) {
            ProcessBuilder pb = new ProcessBuilder(aws, "ec2", "describe-regions", "--no-sign-request", "--endpoint-url", strict.daemon.endpoint());
            pb.environment().keySet().removeIf(k -> k.startsWith("AWS_"));
            pb.environment().put("AWS_DEFAULT_REGION", "flint-local");
            pb.environment().put("AWS_CONFIG_FILE", temp.resolve("no-config").toString());
            pb.environment().put("AWS_MAX_ATTEMPTS", "1");
            Process p = pb.redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertNotEquals(0, p.exitValue());
            assertTrue(output.contains("AuthFailure"), output);
        }
    }
}
