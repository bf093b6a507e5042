package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.boot.FlintProcess;
import dev.flint.boot.NetNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's cloud path, as a user walks it: {@code flint cloud serve} in a network namespace the test
 * makes, {@code eval "$(flint cloud env)"}, then the real AWS CLI launches a real instance from the default
 * {@code debian-12} image with a key pair and user-data, and the system's {@code ssh} logs in with that key.
 * The web console on the same daemon sees the instance running and its live serial console answers a typed
 * command. The instance is in EC2's default security group: port 22 is dropped until
 * {@code authorize-security-group-ingress} opens it, at once, and dropped again once revoked. A second instance,
 * booted alongside, is the peer for the rest: in one group the two reach each other, in different groups
 * neither does; an EBS volume written on the first is read and grown on the second, and snapshotted there.
 * Stop and start keep the address and the disk; a {@code kill -9} of the daemon leaves the instance running,
 * and the restarted daemon still knows and reaches it; a {@code sudo reboot} inside the guest brings it back
 * by itself, still running; terminate ends it.
 */
@Tag("guest")
class AwsCliEndToEndTest {
    private static final Duration DAEMON_UP = Duration.ofMinutes(20); // first serve builds the debian-12 image
    private static final Pattern EXPORT = Pattern.compile("^export ([A-Z0-9_]+)=(.*)$");
    private static final String MARKER = "user-data-ran-on-flint";

    @BeforeAll
    static void prerequisites() {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, "network namespaces unavailable: " + reason);
        String aws = AwsCli.unavailableReason();
        assumeTrue(aws == null, aws);
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ssh")), "the OpenSSH client is not installed");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/socat")), "socat is not installed (bin/test installs it)");
    }

    /**
     * The daemon runs in a namespace with no way out, so the default image (debootstrap from Debian's archive)
     * is built first, here, with {@code flint cloud image}, as a user would before serving from such a place.
     */
    @BeforeAll
    static void defaultImage() throws Exception {
        try (FlintProcess image = FlintProcess.start("cloud", "image")) {
            assertEquals(0, image.exitCode(Duration.ofMinutes(20)), image.output());
        }
    }

    @Test
    void awsCliLaunchesAnInstanceThatAnswersSshAndKeepsItsDiskAcrossStopStartAndADaemonKill(@TempDir Path dir)
            throws Exception {
        Path data = dir.resolve("cloud");
        try (NetNamespace ns = NetNamespace.create()) {
            FlintProcess daemon = startDaemon(ns, data);
            try {
                Map<String, String> env = cloudEnv(data);
                AwsCli aws = new AwsCli(ns, env);
                String imageId = awaitImage(aws, daemon);

                Path key = dir.resolve("flint-e2e.pem");
                Files.writeString(key, aws.ec2("create-key-pair", "--key-name", "flint-e2e", "--key-type", "ed25519",
                        "--query", "KeyMaterial") + "\n");
                Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));

                Path userData = dir.resolve("user-data.sh");
                Files.writeString(userData, "#!/bin/sh\necho " + MARKER + " | tee /var/lib/flint-e2e-marker\n");
                String instanceId = aws.ec2("run-instances", "--image-id", imageId, "--instance-type", "t3.micro",
                        "--key-name", "flint-e2e", "--user-data", "file://" + userData,
                        "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=e2e}]",
                        "--query", "Instances[0].InstanceId");
                assertTrue(instanceId.matches("i-[0-9a-f]{17}"), instanceId);
                // A second instance, booting alongside the first: the peer for security groups and for moving a volume.
                // It gets an empty volume at launch (a BlockDeviceMapping), as /dev/sdf.
                String peerId = aws.ec2("run-instances", "--image-id", imageId, "--instance-type", "t3.micro",
                        "--key-name", "flint-e2e", "--block-device-mappings", "DeviceName=/dev/sdf,Ebs={VolumeSize=1}",
                        "--query", "Instances[0].InstanceId");

                aws.ec2("wait", "instance-running", "--instance-ids", instanceId, peerId);
                String ip = privateIp(aws, instanceId);
                String peerIp = privateIp(aws, peerId);
                assertEquals("default", aws.ec2("describe-instances", "--instance-ids", instanceId,
                        "--query", "Reservations[0].Instances[0].SecurityGroups[0].GroupName"));
                // EC2's default group lets in only its own members: the daemon's namespace is dropped on port 22
                // until SSH is authorized (here from the daemon's own address, as a user opens it to "my IP"), then
                // gets in without a reboot, and is dropped again once revoked.
                assertEquals(DROPPED, port22(ns, ip), "SSH before any rule");
                String[] sshRule = {"--group-name", "default", "--protocol", "tcp", "--port", "22", "--cidr", DAEMON_CIDR};
                aws.ec2(concat("authorize-security-group-ingress", sshRule));
                assertEquals(MARKER, ssh(ns, key, ip, "cat /var/lib/flint-e2e-marker"));
                aws.ec2(concat("revoke-security-group-ingress", sshRule));
                assertEquals(DROPPED, port22(ns, ip), "SSH after the rule was revoked");
                aws.ec2(concat("authorize-security-group-ingress", sshRule));
                assertEquals(MARKER, ssh(ns, key, ip, "cat /var/lib/flint-e2e-marker"));
                assertEquals("admin root", ssh(ns, key, ip, "echo $(id -un) $(sudo -n id -un)"));

                securityGroupsBetweenInstances(aws, ns, key, instanceId, ip, peerId, peerIp);

                ssh(ns, key, ip, "echo kept-across-stop > /home/admin/before-stop && sync");
                String console = aws.ec2("get-console-output", "--instance-id", instanceId, "--query", "Output");
                assertTrue(console.contains(MARKER), "the user-data's output is on the console:\n" + console);
                // The web console on the same daemon: same state, and a live serial console that answers.
                assertEquals("console probe: ok", consoleProbe(ns, env, instanceId, "echo serial-$((6*7))", "serial-42"));

                volumesAndSnapshots(aws, ns, key, instanceId, ip, peerId, peerIp, data);

                // The peer's work is done: terminating it frees its group, which can then go.
                aws.ec2("terminate-instances", "--instance-ids", peerId);
                aws.ec2("wait", "instance-terminated", "--instance-ids", peerId);
                aws.ec2("delete-security-group", "--group-name", ISOLATED);

                aws.ec2("stop-instances", "--instance-ids", instanceId);
                aws.ec2("wait", "instance-stopped", "--instance-ids", instanceId);
                aws.ec2("start-instances", "--instance-ids", instanceId);
                aws.ec2("wait", "instance-running", "--instance-ids", instanceId);
                assertEquals(ip, aws.ec2("describe-instances", "--instance-ids", instanceId,
                        "--query", "Reservations[0].Instances[0].PrivateIpAddress"), "same private IP after start");
                assertEquals("kept-across-stop", ssh(ns, key, ip, "cat /home/admin/before-stop"));

                // kill -9 of the daemon: the VMM outlives it; a new daemon re-adopts the instance.
                daemon.kill();
                daemon = startDaemon(ns, data);
                awaitImage(aws, daemon);
                assertEquals("running", aws.ec2("describe-instances", "--instance-ids", instanceId,
                        "--query", "Reservations[0].Instances[0].State.Name"));
                assertEquals("e2e", aws.ec2("describe-instances", "--filters", "Name=tag:Name,Values=e2e",
                        "--query", "Reservations[0].Instances[0].Tags[?Key=='Name'].Value | [0]"));
                assertEquals("kept-across-stop", ssh(ns, key, ip, "cat /home/admin/before-stop"));

                // A reboot from inside the guest (of the re-adopted VMM): the instance comes back by itself, running.
                String bootId = ssh(ns, key, ip, "cat /proc/sys/kernel/random/boot_id");
                // Detached and guarded by the boot id, so that ssh's retries can never reboot the new boot again.
                ssh(ns, key, ip, "if [ \"$(cat /proc/sys/kernel/random/boot_id)\" = " + bootId + " ]; then "
                        + "nohup sh -c 'sleep 2; sudo reboot' >/dev/null 2>&1 & fi; echo requested");
                // A whole boot: at a load of 30 on two cores one took over 7 minutes of guest time.
                try {
                    ssh(ns, key, ip, "b=$(cat /proc/sys/kernel/random/boot_id); [ \"$b\" != " + bootId + " ] && echo \"$b\"",
                            Duration.ofMinutes(20));
                } catch (AssertionError e) {
                    throw new AssertionError(e.getMessage() + "\nstate " + aws.tryEc2("describe-instances", "--instance-ids", instanceId,
                            "--query", "Reservations[0].Instances[0].State.Name").out() + ", console:\n"
                            + aws.tryEc2("get-console-output", "--instance-id", instanceId, "--query", "Output").out(), e);
                }
                assertEquals("running", aws.ec2("describe-instances", "--instance-ids", instanceId,
                        "--query", "Reservations[0].Instances[0].State.Name"));
                assertEquals("kept-across-stop", ssh(ns, key, ip, "cat /home/admin/before-stop"));

                aws.ec2("terminate-instances", "--instance-ids", instanceId);
                aws.ec2("wait", "instance-terminated", "--instance-ids", instanceId);
            } finally {
                daemon.kill();
                killEverythingIn(ns);
            }
        }
    }

    /**
     * Security groups between two booted guests, real packets through the kernel's filter: in the default group
     * the two reach each other's sshd (the group admits its own members); once the peer is moved to a group of
     * its own with ModifyInstanceAttribute, neither reaches the other, at once and without a reboot, while the
     * daemon still reaches both through their groups' SSH rules. A group in use cannot be deleted.
     */
    private static void securityGroupsBetweenInstances(AwsCli aws, NetNamespace ns, Path key, String instanceId, String ip,
            String peerId, String peerIp) throws Exception {
        assertEquals("open", awaitOpen(ns, key, ip, peerIp), "same group: the first reaches the peer");
        assertEquals("open", awaitOpen(ns, key, peerIp, ip), "same group: the peer reaches the first");

        String isolated = aws.ec2("create-security-group", "--group-name", ISOLATED, "--description", "e2e: apart from default",
                "--query", "GroupId");
        aws.ec2("authorize-security-group-ingress", "--group-id", isolated, "--protocol", "tcp", "--port", "22",
                "--cidr", DAEMON_CIDR);
        aws.ec2("modify-instance-attribute", "--instance-id", peerId, "--groups", isolated);
        assertEquals(ISOLATED, aws.ec2("describe-instances", "--instance-ids", peerId,
                "--query", "Reservations[0].Instances[0].SecurityGroups[0].GroupName"));
        assertEquals(DROPPED, port22From(ns, key, ip, peerIp), "other group: the first no longer reaches the peer");
        assertEquals(DROPPED, port22From(ns, key, peerIp, ip), "other group: the peer no longer reaches the first");

        AwsCli.Result inUse = aws.tryEc2("delete-security-group", "--group-id", isolated);
        assertTrue(inUse.exitCode() != 0 && inUse.err().contains("DependencyViolation"), "a group in use stays: " + inUse.err());
        assertEquals(ISOLATED, aws.ec2("describe-security-groups", "--group-ids", isolated, "--query", "SecurityGroups[0].GroupName"));
    }

    /**
     * EBS with the AWS CLI, between the two running instances: the peer's volume from launch is detached without
     * Force once the guest let go of it; a new volume is hot-attached to the first (its nvme0),
     * formatted and written over SSH, detached ({@code detaching} until the VMM let go, then {@code available}),
     * and attached to the peer, which reads the first's data; grown there with ModifyVolume while mounted, the
     * peer's disk grows without a reboot. A snapshot keeps the data of its moment: a volume made from it holds
     * that data after the original changed. Deletion removes the files.
     */
    private static void volumesAndSnapshots(AwsCli aws, NetNamespace ns, Path key, String instanceId, String ip,
            String peerId, String peerIp, Path data) throws Exception {
        String vol = aws.ec2("create-volume", "--size", "1", "--availability-zone", "flint-locala", "--volume-type", "gp3",
                "--query", "VolumeId");
        aws.ec2("wait", "volume-available", "--volume-ids", vol);
        Path file = data.resolve("volumes").resolve(vol + ".raw");
        assertTrue(Files.exists(file), "the volume's file " + file);

        // The peer's volume from launch: its first NVMe controller, formatted, written and unmounted in the guest,
        // then detached without Force. DetachVolume answers detaching and the volume is available only once the guest
        // ejected the controller (not just a namespace: the whole nvme0 leaves the guest), as for a hot-plugged one.
        String launchVol = aws.ec2("describe-volumes", "--filters", "Name=attachment.instance-id,Values=" + peerId,
                "Name=attachment.device,Values=/dev/sdf", "--query", "Volumes[0].VolumeId");
        assertEquals(serialOf(launchVol), ssh(ns, key, peerIp, serialCommand("nvme0n1")), "the launch volume is nvme0");
        assertEquals("released", ssh(ns, key, peerIp, "sudo mkfs.ext4 -q /dev/nvme0n1 && sudo mkdir -p /mnt/l && sudo mount"
                + " /dev/nvme0n1 /mnt/l && echo at-launch | sudo tee /mnt/l/data >/dev/null && sudo umount /mnt/l && echo released"));
        assertEquals("detaching", aws.ec2("detach-volume", "--volume-id", launchVol, "--query", "State"));
        aws.ec2("wait", "volume-available", "--volume-ids", launchVol);
        assertEquals("ejected", ssh(ns, key, peerIp, "i=0; while [ -e /sys/class/nvme/nvme0 ] && [ $i -lt 600 ]; do sleep 0.1;"
                + " i=$((i+1)); done; [ -e /sys/class/nvme/nvme0 ] && echo still-there || echo ejected"));
        aws.ec2("delete-volume", "--volume-id", launchVol);

        String none = ssh(ns, key, ip, NVME_DISKS);
        assertEquals("", none, "no NVMe disk before the first volume");
        aws.ec2("attach-volume", "--volume-id", vol, "--instance-id", instanceId, "--device", "/dev/sdf");
        aws.ec2("wait", "volume-in-use", "--volume-ids", vol);
        String dev = ssh(ns, key, ip, awaitNewDisk(none));
        assertEquals("nvme0n1", dev, "the first volume is the guest's nvme0, as on EC2 Nitro (the root here is virtio-blk)");
        assertEquals(serialOf(vol), ssh(ns, key, ip, serialCommand(dev)), "the volume id is the disk's serial, as on EC2");
        assertEquals("written", ssh(ns, key, ip, "sudo mkfs.ext4 -q /dev/" + dev + " && sudo mkdir -p /mnt/v && sudo mount /dev/" + dev
                + " /mnt/v && echo from-the-first | sudo tee /mnt/v/data >/dev/null && sudo umount /mnt/v && echo written"));

        assertEquals("detaching", aws.ec2("detach-volume", "--volume-id", vol, "--query", "State"));
        aws.ec2("wait", "volume-available", "--volume-ids", vol);
        assertEquals("gone", ssh(ns, key, ip, "i=0; while [ -e /sys/block/" + dev + " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                + " [ -e /sys/block/" + dev + " ] && echo still-there || echo gone"));

        String noneOnPeer = ssh(ns, key, peerIp, NVME_DISKS);
        aws.ec2("attach-volume", "--volume-id", vol, "--instance-id", peerId, "--device", "/dev/sdg");
        aws.ec2("wait", "volume-in-use", "--volume-ids", vol);
        String there = ssh(ns, key, peerIp, awaitNewDisk(noneOnPeer));
        assertEquals(serialOf(vol), ssh(ns, key, peerIp, serialCommand(there)));
        assertEquals("from-the-first", ssh(ns, key, peerIp, "sudo mkdir -p /mnt/v && sudo mount /dev/" + there + " /mnt/v"
                + " && cat /mnt/v/data"));

        // Grown while attached and mounted: the peer's disk grows at once (2 GiB = 4194304 sectors).
        aws.ec2("modify-volume", "--volume-id", vol, "--size", "2");
        assertEquals("4194304", ssh(ns, key, peerIp, "i=0; while [ \"$(cat /sys/block/" + there + "/size)\" != 4194304 ]"
                + " && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; cat /sys/block/" + there + "/size"));

        // Snapshot while mounted: the guest's synced write is in it; the change after it is not.
        ssh(ns, key, peerIp, "sync");
        String snap = aws.ec2("create-snapshot", "--volume-id", vol, "--description", "e2e", "--query", "SnapshotId");
        aws.ec2("wait", "snapshot-completed", "--snapshot-ids", snap);
        String how = aws.ec2("describe-snapshots", "--snapshot-ids", snap, "--query", "Snapshots[0].Description");
        assertTrue(how.contains("instance paused"), how);
        assertEquals("second", ssh(ns, key, peerIp, "echo second | sudo tee /mnt/v/data >/dev/null && sync && cat /mnt/v/data"));
        String restored = aws.ec2("create-volume", "--snapshot-id", snap, "--availability-zone", "flint-locala", "--query", "VolumeId");
        aws.ec2("wait", "volume-available", "--volume-ids", restored);
        String withVol = ssh(ns, key, peerIp, NVME_DISKS);
        aws.ec2("attach-volume", "--volume-id", restored, "--instance-id", peerId, "--device", "/dev/sdh");
        String restoredDev = ssh(ns, key, peerIp, awaitNewDisk(withVol));
        assertEquals(serialOf(restored), ssh(ns, key, peerIp, serialCommand(restoredDev)));
        assertEquals("from-the-first", ssh(ns, key, peerIp, "sudo mkdir -p /mnt/r && sudo mount /dev/" + restoredDev
                + " /mnt/r && cat /mnt/r/data && sudo umount /mnt/r"));
        ssh(ns, key, peerIp, "sudo umount /mnt/v");

        for (String v : List.of(vol, restored)) {
            aws.ec2("detach-volume", "--volume-id", v);
            aws.ec2("wait", "volume-available", "--volume-ids", v);
            aws.ec2("delete-volume", "--volume-id", v);
        }
        aws.ec2("delete-snapshot", "--snapshot-id", snap);
        assertTrue(!Files.exists(file), "a deleted volume's file is gone: " + file);
        assertTrue(!Files.exists(data.resolve("snapshots").resolve(snap + ".raw")), "a deleted snapshot's file is gone");
    }

    /**
     * A guest command that waits for an NVMe disk that is not in {@code before} (a space-separated list of
     * /sys/block names) and prints its name, e.g. {@code nvme0n1}.
     */
    private static String awaitNewDisk(String before) {
        return "i=0; d=; while [ -z \"$d\" ] && [ $i -lt 900 ]; do for b in $(ls /sys/block | grep nvme); do"
                + " case \" " + before + " \" in *\" $b \"*) ;; *) d=$b;; esac; done; [ -z \"$d\" ] && sleep 0.1; i=$((i+1)); done; echo $d";
    }

    private static final String NVME_DISKS = "echo $(ls /sys/block | grep nvme)";

    /**
     * A guest command that prints the NVMe serial of {@code disk}: its parent device is the
     * controller, or with the kernel's native multipath the subsystem, and both show the serial.
     */
    private static String serialCommand(String disk) {
        return "cat /sys/block/" + disk + "/device/serial";
    }

    /** EC2 puts the volume id without its dash in the NVMe serial: vol-0123… is vol0123…. */
    private static String serialOf(String volumeId) {
        return volumeId.replace("-", "");
    }

    /** Runs {@link ConsoleProbe} in the daemon's namespace; its last line. */
    private static String consoleProbe(NetNamespace ns, Map<String, String> env, String instanceId, String command,
            String expected) throws Exception {
        List<String> argv = new ArrayList<>(ns.wrapper());
        argv.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                ConsoleProbe.class.getName(), env.get("AWS_ENDPOINT_URL_EC2"), env.get("AWS_ACCESS_KEY_ID"),
                env.get("AWS_SECRET_ACCESS_KEY"), instanceId, command, expected));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the console probe ended");
        return out.substring(out.lastIndexOf('\n') + 1);
    }

    private static FlintProcess startDaemon(NetNamespace ns, Path data) throws IOException {
        return FlintProcess.startUnder(ns.wrapper(), "cloud", "serve", "--data", data.toString());
    }

    /** What {@code eval "$(flint cloud env)"} puts in a shell's environment. */
    private static Map<String, String> cloudEnv(Path data) throws Exception {
        Map<String, String> env = new LinkedHashMap<>();
        try (FlintProcess flint = FlintProcess.start("cloud", "env", "--data", data.toString())) {
            assertEquals(0, flint.exitCode(Duration.ofMinutes(2)), flint.output());
            for (String line : flint.output().split("\n")) {
                Matcher m = EXPORT.matcher(line.strip());
                if (m.matches()) env.put(m.group(1), unquote(m.group(2)));
            }
        }
        assertTrue(env.containsKey("AWS_ENDPOINT_URL_EC2") && env.containsKey("AWS_ACCESS_KEY_ID")
                && env.containsKey("AWS_SECRET_ACCESS_KEY"), "flint cloud env exports: " + env.keySet());
        return env;
    }

    private static String unquote(String value) {
        if (value.length() >= 2 && (value.startsWith("'") && value.endsWith("'")
                || value.startsWith("\"") && value.endsWith("\""))) {
            return value.substring(1, value.length() - 1);
        }
        return value;
    }

    /** Polls until the daemon answers and lists the default image; its id. */
    private static String awaitImage(AwsCli aws, FlintProcess daemon) throws Exception {
        long deadline = System.nanoTime() + DAEMON_UP.toNanos();
        while (true) {
            AwsCli.Result r = aws.tryEc2("describe-images", "--filters", "Name=name,Values=debian-12",
                    "--query", "Images[0].ImageId");
            String id = r.out().strip();
            if (r.exitCode() == 0 && id.startsWith("ami-")) return id;
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no debian-12 image within " + DAEMON_UP + ": " + r.err() + "\n" + daemon.output());
            }
            Thread.sleep(2_000);
        }
    }

    /** Runs a command over SSH as admin with the key; its output, stripped. Retries while sshd is not up yet. */
    private static String ssh(NetNamespace ns, Path key, String ip, String command) throws Exception {
        return ssh(ns, key, ip, command, Duration.ofMinutes(6));
    }

    /** As above, retrying for up to {@code within}: for a guest that is booting again. */
    private static String ssh(NetNamespace ns, Path key, String ip, String command, Duration within) throws Exception {
        List<String> argv = new ArrayList<>(ns.wrapper());
        argv.addAll(List.of("ssh", "-i", key.toString(), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=60",
                "-o", "LogLevel=ERROR", "admin@" + ip, command));
        String last = "";
        // ConnectTimeout covers sshd's banner too: on a loaded host an emulated guest's sshd takes well over 10 s
        // to fork and answer, and short client timeouts only pile up half-made sessions that slow it further.
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor(3, TimeUnit.MINUTES) && p.exitValue() == 0) return out.strip();
            last = out;
            Thread.sleep(2_000);
        }
        throw new AssertionError("ssh admin@" + ip + " '" + command + "' failed: " + last);
    }

    private static final String DROPPED = "dropped";
    /** The daemon's address on the instances' bridge (the gateway), from which its namespace reaches them. */
    private static final String DAEMON_CIDR = "172.31.0.1/32";
    private static final String ISOLATED = "e2e-isolated";

    private static String privateIp(AwsCli aws, String instanceId) throws Exception {
        return aws.ec2("describe-instances", "--instance-ids", instanceId, "--query", "Reservations[0].Instances[0].PrivateIpAddress");
    }

    /**
     * What a TCP connection from the guest at {@code fromIp} to {@code toIp:22} meets, as {@link #port22}
     * says it, with bash's /dev/tcp inside the first guest: {@code open} when sshd's banner comes back,
     * {@value #DROPPED} when the SYN goes unanswered for 10 s, anything else verbatim.
     */
    /**
     * {@link #port22From}, asked again for up to three minutes while it is not {@code open}: on a loaded host an
     * emulated guest can leave a SYN unanswered for longer than one try allows. When it never opens, what it
     * last met comes back with the packet filter's table and the first guest's neighbour entries, to tell a
     * filtering fault from a silent guest.
     */
    private static String awaitOpen(NetNamespace ns, Path key, String fromIp, String toIp) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        String seen;
        do {
            seen = port22From(ns, key, fromIp, toIp);
            if (seen.equals("open")) return seen;
        } while (System.nanoTime() < deadline);
        List<String> argv = new ArrayList<>(ns.wrapper());
        argv.addAll(List.of("nft", "list", "table", "ip", "flint_sg"));
        Process nft = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String table = new String(nft.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        nft.waitFor(1, TimeUnit.MINUTES);
        return seen + "\n" + table + "\nneighbours of " + fromIp + ": " + ssh(ns, key, fromIp, "ip neigh");
    }

    private static String port22From(NetNamespace ns, Path key, String fromIp, String toIp) throws Exception {
        return ssh(ns, key, fromIp, "r=$(timeout 10 bash -c 'exec 3<>/dev/tcp/" + toIp + "/22 && head -c 4 <&3' 2>&1); s=$?;"
                + " if [ \"$r\" = SSH- ]; then echo open; elif [ $s = 124 ]; then echo " + DROPPED + "; else echo \"$s $r\"; fi");
    }

    private static String[] concat(String first, String... rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    /**
     * What a TCP connection from the daemon's namespace to {@code ip:22} meets: {@value #DROPPED} when the SYN
     * goes unanswered (a security group drops it; a guest without sshd would answer with a reset instead),
     * {@code open} when sshd's banner comes back. Retried while the guest's address does not answer ARP yet.
     */
    private static String port22(NetNamespace ns, String ip) throws Exception {
        List<String> argv = new ArrayList<>(ns.wrapper());
        argv.addAll(List.of("socat", "-T", "10", "-", "TCP:" + ip + ":22,connect-timeout=10"));
        String last = "";
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(1, TimeUnit.MINUTES)) p.destroyForcibly();
            if (out.startsWith("SSH-")) return "open";
            if (out.contains("timed out")) return DROPPED;
            last = out;
            Thread.sleep(2_000);
        }
        return last.strip();
    }

    /** VMMs outlive their daemon by design; nothing of this test may outlive the test. */
    private static void killEverythingIn(NetNamespace ns) throws IOException, InterruptedException {
        Process pids = new ProcessBuilder("ip", "netns", "pids", ns.name()).redirectErrorStream(true).start();
        String out = new String(pids.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        pids.waitFor(30, TimeUnit.SECONDS);
        for (String pid : out.split("\\s+")) {
            if (pid.matches("\\d+")) ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
        }
    }
}
