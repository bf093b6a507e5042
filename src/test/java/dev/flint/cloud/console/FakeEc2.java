package dev.flint.cloud.console;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A small in-memory stand-in for the daemon's EC2 handlers, for the console's tests: the few actions the
 * pages call, answered in EC2's XML. Instances move pending -> running, stopping -> stopped and
 * shutting-down -> terminated after {@link #TRANSITION_MILLIS}, as seen by the next Describe. Security
 * groups and volumes answer InvalidAction, so the pages' "not available" path is exercised too.
 */
final class FakeEc2 implements Ec2Endpoint {

    static final long TRANSITION_MILLIS = 1200;
    static final String IMAGE = "ami-0a1b2c3d4e5f60718";

    static final class Instance {
        final String id;
        final String imageId;
        final String type;
        final String keyName;
        final String userData;
        final Map<String, String> tags;
        final Instant launched = Instant.now();
        final String privateIp;
        volatile String state = "pending";
        volatile long since = System.currentTimeMillis();

        Instance(String id, String imageId, String type, String keyName, String userData, Map<String, String> tags, String privateIp) {
            this.id = id;
            this.imageId = imageId;
            this.type = type;
            this.keyName = keyName;
            this.userData = userData;
            this.tags = tags;
            this.privateIp = privateIp;
        }
    }

    private final Map<String, Instance> instances = new LinkedHashMap<>();
    private final Map<String, String> keyPairs = new LinkedHashMap<>();
    private final List<Map<String, List<String>>> calls = new ArrayList<>();

    synchronized List<Map<String, List<String>>> calls() {
        return List.copyOf(calls);
    }

    synchronized List<Instance> instances() {
        advance();
        return List.copyOf(instances.values());
    }

    synchronized String state(String id) {
        advance();
        Instance i = instances.get(id);
        return i == null ? null : i.state;
    }

    @Override
    public synchronized Ec2Reply handle(Map<String, List<String>> form) {
        calls.add(form);
        advance();
        if (!"2016-11-15".equals(one(form, "Version"))) {
            return error("InvalidParameterValue", "Version must be 2016-11-15");
        }
        String action = one(form, "Action");
        return switch (action == null ? "" : action) {
            case "DescribeInstances" -> describeInstances(form);
            case "RunInstances" -> runInstances(form);
            case "StopInstances" -> transition(form, "stopping", "running", "pending");
            case "StartInstances" -> transition(form, "pending", "stopped");
            case "TerminateInstances" -> transition(form, "shutting-down", "pending", "running", "stopping", "stopped");
            case "RebootInstances" -> ok("RebootInstancesResponse", "<return>true</return>");
            case "DescribeImages" -> ok("DescribeImagesResponse", "<imagesSet><item><imageId>" + IMAGE
                    + "</imageId><name>debian-12-busybox</name><imageState>available</imageState>"
                    + "<architecture>x86_64</architecture><rootDeviceName>/dev/vda</rootDeviceName>"
                    + "<creationDate>2026-12-01T10:00:00.000Z</creationDate><description>Busybox on Debian's kernel</description></item></imagesSet>");
            case "DescribeInstanceTypes" -> ok("DescribeInstanceTypesResponse", "<instanceTypeSet>"
                    + type("t3.micro", 2, 1024) + type("t3.small", 2, 2048) + "</instanceTypeSet>");
            case "DescribeKeyPairs" -> describeKeyPairs();
            case "CreateKeyPair" -> createKeyPair(form);
            case "DeleteKeyPair" -> {
                keyPairs.remove(one(form, "KeyName"));
                yield ok("DeleteKeyPairResponse", "<return>true</return>");
            }
            case "GetConsoleOutput" -> consoleOutput(form);
            default -> error("InvalidAction", "The action " + action + " is not valid for this web service.");
        };
    }

    private void advance() {
        long now = System.currentTimeMillis();
        for (Instance i : instances.values()) {
            if (now - i.since < TRANSITION_MILLIS) {
                continue;
            }
            String next = switch (i.state) {
                case "pending" -> "running";
                case "stopping" -> "stopped";
                case "shutting-down" -> "terminated";
                default -> i.state;
            };
            if (!next.equals(i.state)) {
                i.state = next;
                i.since = now;
            }
        }
    }

    private Ec2Reply describeInstances(Map<String, List<String>> form) {
        List<String> wanted = numbered(form, "InstanceId");
        StringBuilder xml = new StringBuilder("<reservationSet>");
        for (Instance i : instances.values()) {
            if (!wanted.isEmpty() && !wanted.contains(i.id)) {
                continue;
            }
            xml.append("<item><reservationId>r-").append(i.id.substring(2)).append("</reservationId><ownerId>000000000000</ownerId>")
                    .append("<instancesSet><item><instanceId>").append(i.id).append("</instanceId>")
                    .append("<imageId>").append(i.imageId).append("</imageId>")
                    .append("<instanceState><code>").append(code(i.state)).append("</code><name>").append(i.state).append("</name></instanceState>")
                    .append("<instanceType>").append(i.type).append("</instanceType>")
                    .append(i.keyName == null ? "" : "<keyName>" + i.keyName + "</keyName>")
                    .append("<launchTime>").append(i.launched).append("</launchTime>")
                    .append(i.state.equals("terminated") ? "" : "<privateIpAddress>" + i.privateIp + "</privateIpAddress>")
                    .append("<tagSet>");
            i.tags.forEach((k, v) -> xml.append("<item><key>").append(SignInPage.escape(k)).append("</key><value>").append(SignInPage.escape(v)).append("</value></item>"));
            xml.append("</tagSet></item></instancesSet></item>");
        }
        xml.append("</reservationSet>");
        if (!wanted.isEmpty() && xml.length() == "<reservationSet></reservationSet>".length()) {
            return error("InvalidInstanceID.NotFound", "The instance ID '" + wanted.getFirst() + "' does not exist");
        }
        return ok("DescribeInstancesResponse", xml.toString());
    }

    private Ec2Reply runInstances(Map<String, List<String>> form) {
        String image = one(form, "ImageId");
        if (!IMAGE.equals(image)) {
            return error("InvalidAMIID.NotFound", "The image id '[" + image + "]' does not exist");
        }
        String id = "i-" + String.format("%017x", ThreadLocalRandom.current().nextLong() & 0xfffffffffffffffL);
        Map<String, String> tags = new LinkedHashMap<>();
        for (int n = 1; one(form, "TagSpecification.1.Tag." + n + ".Key") != null; n++) {
            tags.put(one(form, "TagSpecification.1.Tag." + n + ".Key"), one(form, "TagSpecification.1.Tag." + n + ".Value"));
        }
        String userData = one(form, "UserData");
        Instance instance = new Instance(id, image, one(form, "InstanceType"), one(form, "KeyName"),
                userData == null ? null : new String(Base64.getDecoder().decode(userData), StandardCharsets.UTF_8),
                tags, "10.99.0." + (10 + instances.size()));
        instances.put(id, instance);
        return ok("RunInstancesResponse", "<reservationId>r-" + id.substring(2) + "</reservationId><ownerId>000000000000</ownerId>"
                + "<instancesSet><item><instanceId>" + id + "</instanceId><imageId>" + image
                + "</imageId><instanceState><code>0</code><name>pending</name></instanceState><instanceType>"
                + instance.type + "</instanceType></item></instancesSet>");
    }

    private Ec2Reply transition(Map<String, List<String>> form, String to, String... from) {
        StringBuilder xml = new StringBuilder("<instancesSet>");
        for (String id : numbered(form, "InstanceId")) {
            Instance i = instances.get(id);
            if (i == null) {
                return error("InvalidInstanceID.NotFound", "The instance ID '" + id + "' does not exist");
            }
            if (!List.of(from).contains(i.state)) {
                return error("IncorrectInstanceState", "The instance '" + id + "' is not in a state from which it can be moved to " + to);
            }
            String previous = i.state;
            i.state = to;
            i.since = System.currentTimeMillis();
            xml.append("<item><instanceId>").append(id).append("</instanceId><currentState><code>").append(code(to))
                    .append("</code><name>").append(to).append("</name></currentState><previousState><code>")
                    .append(code(previous)).append("</code><name>").append(previous).append("</name></previousState></item>");
        }
        String action = one(form, "Action");
        return ok(action + "Response", xml.append("</instancesSet>").toString());
    }

    private Ec2Reply describeKeyPairs() {
        StringBuilder xml = new StringBuilder("<keySet>");
        keyPairs.forEach((name, type) -> xml.append("<item><keyPairId>key-").append(Integer.toHexString(name.hashCode()))
                .append("</keyPairId><keyName>").append(name).append("</keyName><keyType>").append(type)
                .append("</keyType><keyFingerprint>SHA256:fake</keyFingerprint></item>"));
        return ok("DescribeKeyPairsResponse", xml.append("</keySet>").toString());
    }

    private Ec2Reply createKeyPair(Map<String, List<String>> form) {
        String name = one(form, "KeyName");
        if (name == null || name.isBlank() || !name.matches("[A-Za-z0-9_.-]+")) {
            return error("InvalidParameterValue", "Bad key pair name");
        }
        if (keyPairs.containsKey(name)) {
            return error("InvalidKeyPair.Duplicate", "The keypair '" + name + "' already exists.");
        }
        String type = one(form, "KeyType") == null ? "rsa" : one(form, "KeyType");
        keyPairs.put(name, type);
        return ok("CreateKeyPairResponse", "<keyName>" + name + "</keyName><keyFingerprint>SHA256:fake</keyFingerprint>"
                + "<keyMaterial>-----BEGIN OPENSSH PRIVATE KEY-----\nfake-key-of-" + name
                + "\n-----END OPENSSH PRIVATE KEY-----</keyMaterial><keyPairId>key-1</keyPairId>");
    }

    private Ec2Reply consoleOutput(Map<String, List<String>> form) {
        String id = one(form, "InstanceId");
        if (!instances.containsKey(id)) {
            return error("InvalidInstanceID.NotFound", "The instance ID '" + id + "' does not exist");
        }
        String text = "[    0.000000] Linux version 6.1.0 (fake console of " + id + ")\nWelcome to Flint\n";
        return ok("GetConsoleOutputResponse", "<instanceId>" + id + "</instanceId><timestamp>" + Instant.now()
                + "</timestamp><output>" + Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8)) + "</output>");
    }

    private static String type(String name, int vcpus, int mib) {
        return "<item><instanceType>" + name + "</instanceType><vCpuInfo><defaultVCpus>" + vcpus
                + "</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>" + mib + "</sizeInMiB></memoryInfo></item>";
    }

    private static int code(String state) {
        return switch (state) {
            case "pending" -> 0;
            case "running" -> 16;
            case "shutting-down" -> 32;
            case "terminated" -> 48;
            case "stopping" -> 64;
            default -> 80;
        };
    }

    private static String one(Map<String, List<String>> form, String name) {
        List<String> values = form.get(name);
        return values == null || values.isEmpty() ? null : values.getFirst();
    }

    private static List<String> numbered(Map<String, List<String>> form, String prefix) {
        List<String> out = new ArrayList<>();
        for (int n = 1; one(form, prefix + "." + n) != null; n++) {
            out.add(one(form, prefix + "." + n));
        }
        return out;
    }

    private static Ec2Reply ok(String root, String body) {
        return new Ec2Reply(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + root
                + " xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>" + UUID.randomUUID() + "</requestId>"
                + body + "</" + root + ">");
    }

    private static Ec2Reply error(String code, String message) {
        return new Ec2Reply(400, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" + code
                + "</Code><Message>" + message + "</Message></Error></Errors><RequestID>" + UUID.randomUUID() + "</RequestID></Response>");
    }
}
