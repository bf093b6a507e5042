package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.cloud.compute.FirewallPlan;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeSecurityGroupsResponse;
import software.amazon.awssdk.services.ec2.model.Ec2Exception;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceStateName;
import software.amazon.awssdk.services.ec2.model.IpPermission;
import software.amazon.awssdk.services.ec2.model.IpRange;
import software.amazon.awssdk.services.ec2.model.SecurityGroup;
import software.amazon.awssdk.services.ec2.model.SecurityGroupRule;
import software.amazon.awssdk.services.ec2.model.UserIdGroupPair;

/**
 * Security groups through the AWS SDK's Ec2Client over a fake runtime: every action, EC2's errors (after
 * which nothing has changed), and the packet-filter plan the runtime is handed after each change. That the
 * plan's rules pass and drop real packets is {@code SecurityGroupFirewallTest}'s part.
 */
class SecurityGroupApiTest {
    @TempDir
    static Path temp;
    static CloudHarness cloud;
    static Ec2Client ec2;
    static String imageId;

    @BeforeAll
    static void start() throws Exception {
        cloud = CloudHarness.start(temp.resolve("data"), 64 * 1024, false, List.of());
        ec2 = cloud.client();
        Path image = CloudHarness.ext4Image(temp, "base.ext4");
        imageId = ec2.registerImage(r -> r.name("sg-base").imageLocation(image.toString())).imageId();
    }

    @AfterAll
    static void stop() {
        if (ec2 != null) ec2.close();
        if (cloud != null) cloud.close();
    }

    static String code(Runnable call) {
        return assertThrows(Ec2Exception.class, call::run).awsErrorDetails().errorCode();
    }

    static SecurityGroup group(String id) {
        return ec2.describeSecurityGroups(r -> r.groupIds(id)).securityGroups().getFirst();
    }

    static String defaultGroupId() {
        return ec2.describeSecurityGroups(r -> r.groupNames("default")).securityGroups().getFirst().groupId();
    }

    static String create(String name) {
        return ec2.createSecurityGroup(r -> r.groupName(name).description("test group " + name)).groupId();
    }

    static Instance launch(java.util.function.Consumer<software.amazon.awssdk.services.ec2.model.RunInstancesRequest.Builder> groups) {
        return ec2.runInstances(r -> {
            r.imageId(imageId).instanceType("t3.nano").minCount(1).maxCount(1);
            groups.accept(r);
        }).instances().getFirst();
    }

    static FirewallPlan.Interface planOf(String ip) {
        return cloud.runtime.firewall.interfaces().stream().filter(i -> i.ip().equals(ip)).findFirst()
                .orElseThrow(() -> new AssertionError("no interface for " + ip + " in the plan"));
    }

    static IpPermission tcp(int from, int to, String cidr) {
        return IpPermission.builder().ipProtocol("tcp").fromPort(from).toPort(to).ipRanges(IpRange.builder().cidrIp(cidr).build()).build();
    }

    @Test
    void theDefaultGroupLetsEverythingOutAndOnlyItsMembersIn() throws Exception {
        SecurityGroup d = ec2.describeSecurityGroups(r -> r.filters(Filter.builder().name("group-name").values("default").build()))
                .securityGroups().getFirst();
        assertTrue(d.groupId().matches("sg-[0-9a-f]{17}"), d.groupId());
        assertTrue(d.vpcId().startsWith("vpc-"), d.vpcId());
        assertEquals(1, d.ipPermissions().size());
        assertEquals("-1", d.ipPermissions().getFirst().ipProtocol());
        assertEquals(d.groupId(), d.ipPermissions().getFirst().userIdGroupPairs().getFirst().groupId());
        assertTrue(d.ipPermissions().getFirst().ipRanges().isEmpty());
        assertEquals("0.0.0.0/0", d.ipPermissionsEgress().getFirst().ipRanges().getFirst().cidrIp());

        Instance i = launch(r -> { });
        assertEquals(List.of(d.groupId()), i.securityGroups().stream().map(g -> g.groupId()).toList());
        assertEquals("default", i.securityGroups().getFirst().groupName());
        FirewallPlan.Interface port = planOf(i.privateIpAddress());
        assertEquals(List.of(new FirewallPlan.Rule("-1", -1, -1, null, d.groupId())), port.ingress());
        assertEquals(List.of(new FirewallPlan.Rule("-1", -1, -1, "0.0.0.0/0", null)), port.egress());
        assertTrue(cloud.runtime.firewall.groupMembers().get(d.groupId()).contains(i.privateIpAddress()));

        // Terminated instances leave the plan and their group's members.
        ec2.terminateInstances(r -> r.instanceIds(i.instanceId()));
        CloudHarness.await("terminated", java.time.Duration.ofSeconds(30), () -> ec2.describeInstances(r -> r.instanceIds(i.instanceId()))
                .reservations().getFirst().instances().getFirst().state().name() == InstanceStateName.TERMINATED);
        CloudHarness.await("the plan drops the terminated instance", java.time.Duration.ofSeconds(30),
                () -> cloud.runtime.firewall.interfaces().stream().noneMatch(x -> x.instanceId().equals(i.instanceId())));
        assertFalse(cloud.runtime.firewall.groupMembers().get(d.groupId()).contains(i.privateIpAddress()));
    }

    @Test
    void authorizeAndRevokeChangeTheRulesAndTheRunningInstancesFilter() {
        String web = create("web");
        String other = create("other");
        SecurityGroup fresh = group(web);
        assertTrue(fresh.ipPermissions().isEmpty(), "a new group lets nothing in");
        assertEquals("-1", fresh.ipPermissionsEgress().getFirst().ipProtocol());
        Instance i = launch(r -> r.securityGroupIds(web));
        assertEquals(web, i.securityGroups().getFirst().groupId());
        assertTrue(planOf(i.privateIpAddress()).ingress().isEmpty());

        // The AWS CLI's --protocol/--port/--cidr form, then IpPermissions with several kinds of source.
        ec2.authorizeSecurityGroupIngress(r -> r.groupId(web).ipProtocol("tcp").fromPort(22).toPort(22).cidrIp("0.0.0.0/0"));
        var added = ec2.authorizeSecurityGroupIngress(r -> r.groupId(web).ipPermissions(
                tcp(8000, 8080, "10.0.0.0/8"),
                IpPermission.builder().ipProtocol("udp").fromPort(53).toPort(53).ipRanges(IpRange.builder().cidrIp("172.31.0.0/16").description("dns").build()).build(),
                IpPermission.builder().ipProtocol("icmp").fromPort(8).toPort(-1).ipRanges(IpRange.builder().cidrIp("0.0.0.0/0").build()).build(),
                IpPermission.builder().ipProtocol("-1").userIdGroupPairs(UserIdGroupPair.builder().groupId(other).build()).build()));
        assertTrue(added.returnValue());
        assertEquals(4, added.securityGroupRules().size());
        assertTrue(added.securityGroupRules().stream().allMatch(x -> x.securityGroupRuleId().matches("sgr-[0-9a-f]{17}") && !x.isEgress()));

        SecurityGroup g = group(web);
        assertEquals(5, g.ipPermissions().size());
        IpPermission ssh = g.ipPermissions().getFirst();
        assertEquals("tcp", ssh.ipProtocol());
        assertEquals(22, ssh.fromPort());
        assertEquals(22, ssh.toPort());
        assertEquals("dns", g.ipPermissions().get(2).ipRanges().getFirst().description());
        assertEquals(other, g.ipPermissions().get(4).userIdGroupPairs().getFirst().groupId());
        assertNull(g.ipPermissions().get(4).fromPort(), "no ports for all protocols");

        List<FirewallPlan.Rule> in = planOf(i.privateIpAddress()).ingress();
        assertEquals(List.of(new FirewallPlan.Rule("tcp", 22, 22, "0.0.0.0/0", null), new FirewallPlan.Rule("tcp", 8000, 8080, "10.0.0.0/8", null),
                new FirewallPlan.Rule("udp", 53, 53, "172.31.0.0/16", null), new FirewallPlan.Rule("icmp", 8, -1, "0.0.0.0/0", null),
                new FirewallPlan.Rule("-1", -1, -1, null, other)), in);
        assertTrue(cloud.runtime.firewall.groupMembers().containsKey(other));

        // Filters on the rules, and DescribeSecurityGroupRules.
        assertEquals(List.of(web), ec2.describeSecurityGroups(r -> r.filters(Filter.builder().name("ip-permission.from-port").values("8000").build(),
                Filter.builder().name("ip-permission.cidr").values("10.*").build())).securityGroups().stream().map(SecurityGroup::groupId).toList());
        List<SecurityGroupRule> rules = ec2.describeSecurityGroupRules(r -> r.filters(Filter.builder().name("group-id").values(web).build()))
                .securityGroupRules();
        assertEquals(6, rules.size(), "five ingress rules and the egress one");
        SecurityGroupRule sshRule = rules.stream().filter(x -> Integer.valueOf(22).equals(x.fromPort())).findFirst().orElseThrow();
        assertEquals("0.0.0.0/0", sshRule.cidrIpv4());
        assertEquals(sshRule, ec2.describeSecurityGroupRules(r -> r.securityGroupRuleIds(sshRule.securityGroupRuleId())).securityGroupRules().getFirst());

        // Revoke by permission (the CLI's form) and by rule id.
        ec2.revokeSecurityGroupIngress(r -> r.groupId(web).ipProtocol("tcp").fromPort(22).toPort(22).cidrIp("0.0.0.0/0"));
        String icmpRule = rules.stream().filter(x -> x.ipProtocol().equals("icmp")).findFirst().orElseThrow().securityGroupRuleId();
        ec2.revokeSecurityGroupIngress(r -> r.groupId(web).securityGroupRuleIds(icmpRule));
        assertEquals(3, group(web).ipPermissions().size());
        assertEquals(3, planOf(i.privateIpAddress()).ingress().size());
        assertFalse(planOf(i.privateIpAddress()).ingress().contains(new FirewallPlan.Rule("tcp", 22, 22, "0.0.0.0/0", null)));

        // Egress: replace "everything" with HTTPS only.
        ec2.revokeSecurityGroupEgress(r -> r.groupId(web).ipPermissions(IpPermission.builder().ipProtocol("-1")
                .ipRanges(IpRange.builder().cidrIp("0.0.0.0/0").build()).build()));
        ec2.authorizeSecurityGroupEgress(r -> r.groupId(web).ipPermissions(tcp(443, 443, "0.0.0.0/0")));
        assertEquals(List.of(new FirewallPlan.Rule("tcp", 443, 443, "0.0.0.0/0", null)), planOf(i.privateIpAddress()).egress());
        assertEquals(443, group(web).ipPermissionsEgress().getFirst().fromPort());
    }

    @Test
    void badRulesAreRefusedWithEc2sCodesAndChangeNothing() {
        String g = create("strict");
        ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(tcp(22, 22, "0.0.0.0/0")));
        SecurityGroup before = group(g);
        FirewallPlan planBefore = cloud.runtime.firewall;

        assertEquals("InvalidPermission.Duplicate", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(tcp(22, 22, "0.0.0.0/0")))));
        assertEquals("InvalidPermission.Duplicate", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g)
                .ipPermissions(tcp(80, 80, "0.0.0.0/0"), tcp(80, 80, "0.0.0.0/0")))), "a duplicate within one request");
        assertEquals("InvalidPermission.NotFound", code(() -> ec2.revokeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(tcp(23, 23, "0.0.0.0/0")))));
        assertEquals("InvalidPermission.NotFound", code(() -> ec2.revokeSecurityGroupIngress(r -> r.groupId(g)
                .ipPermissions(tcp(22, 22, "0.0.0.0/0"), tcp(24, 24, "0.0.0.0/0")))), "all or nothing");
        for (String cidr : List.of("10.0.0.1/8", "10.0.0.0/33", "300.0.0.0/8", "10.0.0.0", "fe80::/10", "")) {
            assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(tcp(80, 80, cidr)))), cidr);
        }
        assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(tcp(90, 80, "0.0.0.0/0")))));
        assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(tcp(0, 70000, "0.0.0.0/0")))));
        assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipProtocol("tcp").cidrIp("0.0.0.0/0"))),
                "tcp without ports");
        assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipProtocol("gopher").fromPort(1).toPort(1).cidrIp("0.0.0.0/0"))));
        assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipProtocol("icmp").fromPort(-1).toPort(3).cidrIp("0.0.0.0/0"))));
        assertEquals("InvalidParameterValue", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(IpPermission.builder()
                .ipProtocol("tcp").fromPort(1).toPort(1).ipv6Ranges(x -> x.cidrIpv6("::/0")).build()))));
        assertEquals("MissingParameter", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g))));
        assertEquals("InvalidGroupId.Malformed", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId("sg-nope").ipPermissions(tcp(1, 1, "0.0.0.0/0")))));
        assertEquals("InvalidGroup.NotFound", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId("sg-0123456789abcdef0").ipPermissions(tcp(1, 1, "0.0.0.0/0")))));
        assertEquals("InvalidGroup.NotFound", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupName("no-such-group").ipPermissions(tcp(1, 1, "0.0.0.0/0")))));
        assertEquals("InvalidGroup.NotFound", code(() -> ec2.authorizeSecurityGroupIngress(r -> r.groupId(g).ipPermissions(IpPermission.builder()
                .ipProtocol("-1").userIdGroupPairs(UserIdGroupPair.builder().groupId("sg-0123456789abcdef0").build()).build()))), "unknown source group");
        assertEquals("InvalidSecurityGroupRuleId.NotFound", code(() -> ec2.revokeSecurityGroupIngress(r -> r.groupId(g).securityGroupRuleIds("sgr-0123456789abcdef0"))));
        assertEquals("InvalidSecurityGroupRuleId.Malformed", code(() -> ec2.revokeSecurityGroupIngress(r -> r.groupId(g).securityGroupRuleIds("rule-1"))));
        assertEquals("MissingParameter", code(() -> ec2.authorizeSecurityGroupEgress(r -> r.ipPermissions(tcp(1, 1, "0.0.0.0/0")))));

        assertEquals(before, group(g), "nothing changed");
        assertEquals(planBefore, cloud.runtime.firewall, "the filter was not touched");

        assertEquals("InvalidGroup.Duplicate", code(() -> create("strict")));
        assertEquals("InvalidParameterValue", code(() -> create("default")));
        assertEquals("InvalidParameterValue", code(() -> create("sg-named")));
        assertEquals("MissingParameter", code(() -> ec2.createSecurityGroup(r -> r.groupName("no-description"))));
        assertEquals("InvalidVpcID.NotFound", code(() -> ec2.createSecurityGroup(r -> r.groupName("elsewhere").description("x").vpcId("vpc-0123456789abcdef0"))));
        assertEquals("InvalidGroupId.Malformed", code(() -> ec2.describeSecurityGroups(r -> r.groupIds("web"))));
        assertEquals("InvalidGroup.NotFound", code(() -> ec2.describeSecurityGroups(r -> r.groupIds("sg-0123456789abcdef0"))));
        assertEquals("InvalidParameterValue", code(() -> ec2.describeSecurityGroups(r -> r.filters(Filter.builder().name("colour").values("red").build()))));
    }

    @Test
    void groupsInUseOrReferencedCannotBeDeleted() throws Exception {
        String a = create("in-use");
        String b = create("referrer");
        assertEquals("CannotDelete", code(() -> ec2.deleteSecurityGroup(r -> r.groupId(defaultGroupId()))));
        Instance i = launch(r -> r.securityGroups("in-use"));
        assertEquals("DependencyViolation", code(() -> ec2.deleteSecurityGroup(r -> r.groupId(a))));
        ec2.authorizeSecurityGroupIngress(r -> r.groupId(b).ipPermissions(IpPermission.builder().ipProtocol("tcp").fromPort(5432).toPort(5432)
                .userIdGroupPairs(UserIdGroupPair.builder().groupId(a).build()).build()));
        // Moving the instance out frees the group from instances, but b's rule still names it.
        ec2.modifyInstanceAttribute(r -> r.instanceId(i.instanceId()).groups(b));
        assertEquals(List.of(b), ec2.describeInstances(r -> r.instanceIds(i.instanceId())).reservations().getFirst().instances().getFirst()
                .securityGroups().stream().map(x -> x.groupId()).toList());
        assertEquals(List.of(new FirewallPlan.Rule("tcp", 5432, 5432, null, a)), planOf(i.privateIpAddress()).ingress());
        assertEquals("DependencyViolation", code(() -> ec2.deleteSecurityGroup(r -> r.groupId(a))));
        ec2.revokeSecurityGroupIngress(r -> r.groupId(b).ipPermissions(IpPermission.builder().ipProtocol("tcp").fromPort(5432).toPort(5432)
                .userIdGroupPairs(UserIdGroupPair.builder().groupId(a).build()).build()));
        var deleted = ec2.deleteSecurityGroup(r -> r.groupName("in-use"));
        assertEquals(a, deleted.groupId());
        assertEquals("InvalidGroup.NotFound", code(() -> ec2.deleteSecurityGroup(r -> r.groupId(a))));
        assertFalse(cloud.runtime.firewall.groupMembers().containsKey(a));
        assertEquals("DependencyViolation", code(() -> ec2.deleteSecurityGroup(r -> r.groupId(b))));
    }

    @Test
    void launchAndModifyInstanceAttributeCheckTheirGroups() {
        int before = ec2.describeInstances().reservations().size();
        assertEquals("InvalidGroup.NotFound", code(() -> launch(r -> r.securityGroupIds("sg-0123456789abcdef0"))));
        assertEquals("InvalidGroupId.Malformed", code(() -> launch(r -> r.securityGroupIds("default"))));
        assertEquals("InvalidGroup.NotFound", code(() -> launch(r -> r.securityGroups("nobody"))));
        List<String> six = new ArrayList<>();
        for (int n = 0; n < 6; n++) six.add(create("many-" + n));
        assertEquals("SecurityGroupsPerInstanceLimitExceeded", code(() -> launch(r -> r.securityGroupIds(six))));
        assertEquals(before, ec2.describeInstances().reservations().size(), "no instance was made");

        Instance i = launch(r -> r.securityGroupIds(six.get(0)).securityGroups("many-1"));
        assertEquals(List.of(six.get(0), six.get(1)), i.securityGroups().stream().map(x -> x.groupId()).toList());
        assertEquals(List.of(i.instanceId()), ec2.describeInstances(r -> r.filters(Filter.builder().name("instance.group-id").values(six.get(1)).build()))
                .reservations().stream().flatMap(x -> x.instances().stream()).map(Instance::instanceId).toList());
        assertEquals("UnsupportedOperation", code(() -> ec2.modifyInstanceAttribute(r -> r.instanceId(i.instanceId()).instanceType(t -> t.value("t3.large")))));
        assertEquals("MissingParameter", code(() -> ec2.modifyInstanceAttribute(r -> r.instanceId(i.instanceId()))));
        assertEquals("InvalidInstanceID.NotFound", code(() -> ec2.modifyInstanceAttribute(r -> r.instanceId("i-0123456789abcdef0").groups(six.get(2)))));
        assertEquals("InvalidInstanceID.Malformed", code(() -> ec2.modifyInstanceAttribute(r -> r.instanceId("web").groups(six.get(2)))));
        assertEquals("InvalidGroup.NotFound", code(() -> ec2.modifyInstanceAttribute(r -> r.instanceId(i.instanceId()).groups("sg-0123456789abcdef0"))));
        assertEquals(2, ec2.describeInstances(r -> r.instanceIds(i.instanceId())).reservations().getFirst().instances().getFirst().securityGroups().size());
        ec2.modifyInstanceAttribute(r -> r.instanceId(i.instanceId()).groups(six.get(2)));
        assertTrue(cloud.runtime.firewall.groupMembers().get(six.get(2)).contains(i.privateIpAddress()));
        assertFalse(cloud.runtime.firewall.groupMembers().get(six.get(0)).contains(i.privateIpAddress()));
    }

    @Test
    void describeSecurityGroupsPages() {
        for (int n = 0; n < 6; n++) create("page-" + n);
        List<String> all = ec2.describeSecurityGroups().securityGroups().stream().map(SecurityGroup::groupId).toList();
        List<String> paged = new ArrayList<>();
        String token = null;
        do {
            String t = token;
            DescribeSecurityGroupsResponse page = ec2.describeSecurityGroups(r -> r.maxResults(5).nextToken(t));
            assertTrue(page.securityGroups().size() <= 5);
            page.securityGroups().forEach(g -> paged.add(g.groupId()));
            token = page.nextToken();
        } while (token != null);
        assertEquals(all.stream().sorted().toList(), paged);
        assertEquals("InvalidParameterValue", code(() -> ec2.describeSecurityGroups(r -> r.maxResults(2))));
        assertEquals("InvalidParameterCombination", code(() -> ec2.describeSecurityGroups(r -> r.groupIds(all.getFirst()).maxResults(5))));
        Supplier<Integer> count = () -> ec2.describeSecurityGroupRules(r -> r.maxResults(1000)).securityGroupRules().size();
        assertNotNull(count.get());
    }
}
