package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.Firewall;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.InstanceState;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.model.SecurityGroupRecord;
import dev.flint.cloud.model.SecurityGroupRecord.Rule;
import dev.flint.cloud.store.CloudStore;
import dev.flint.cloud.store.CloudStore.Write;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.util.SdkAutoConstructList;
import software.amazon.awssdk.services.ec2.model.AuthorizeSecurityGroupEgressRequest;
import software.amazon.awssdk.services.ec2.model.AuthorizeSecurityGroupEgressResponse;
import software.amazon.awssdk.services.ec2.model.AuthorizeSecurityGroupIngressRequest;
import software.amazon.awssdk.services.ec2.model.AuthorizeSecurityGroupIngressResponse;
import software.amazon.awssdk.services.ec2.model.CreateSecurityGroupRequest;
import software.amazon.awssdk.services.ec2.model.CreateSecurityGroupResponse;
import software.amazon.awssdk.services.ec2.model.DeleteSecurityGroupRequest;
import software.amazon.awssdk.services.ec2.model.DeleteSecurityGroupResponse;
import software.amazon.awssdk.services.ec2.model.DescribeSecurityGroupRulesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeSecurityGroupRulesResponse;
import software.amazon.awssdk.services.ec2.model.DescribeSecurityGroupsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeSecurityGroupsResponse;
import software.amazon.awssdk.services.ec2.model.GroupIdentifier;
import software.amazon.awssdk.services.ec2.model.IpPermission;
import software.amazon.awssdk.services.ec2.model.IpRange;
import software.amazon.awssdk.services.ec2.model.ModifyInstanceAttributeRequest;
import software.amazon.awssdk.services.ec2.model.ModifyInstanceAttributeResponse;
import software.amazon.awssdk.services.ec2.model.ReferencedSecurityGroup;
import software.amazon.awssdk.services.ec2.model.RevokeSecurityGroupEgressRequest;
import software.amazon.awssdk.services.ec2.model.RevokeSecurityGroupEgressResponse;
import software.amazon.awssdk.services.ec2.model.RevokeSecurityGroupIngressRequest;
import software.amazon.awssdk.services.ec2.model.RevokeSecurityGroupIngressResponse;
import software.amazon.awssdk.services.ec2.model.SecurityGroup;
import software.amazon.awssdk.services.ec2.model.SecurityGroupRule;
import software.amazon.awssdk.services.ec2.model.UserIdGroupPair;

/**
 * Security groups: Create/Delete/DescribeSecurityGroups, DescribeSecurityGroupRules, Authorize/Revoke for
 * ingress and egress, and ModifyInstanceAttribute's {@code Groups}. Rules are checked here, against EC2's
 * errors, before anything is stored; after every change {@link Firewall#sync} makes the host's packet filter
 * follow, running instances included. Changes are serialised by one lock and written with compare-and-set.
 */
public final class SecurityGroupActions {
    public static final Pattern GROUP_ID = Pattern.compile("sg-(?:[0-9a-f]{8}|[0-9a-f]{17})");
    static final Pattern RULE_ID = Pattern.compile("sgr-(?:[0-9a-f]{8}|[0-9a-f]{17})");
    /** EC2's default quotas: rules per group and direction, groups per network interface. */
    static final int MAX_RULES = 60;
    public static final int MAX_GROUPS_PER_INSTANCE = 5;

    private final CloudContext cloud;
    private final Firewall firewall;
    private final Filters<SecurityGroupRecord> groupFilters;
    private final Filters<RuleRow> ruleFilters;
    private final Object lock = new Object();

    /** One rule with its group and direction, as DescribeSecurityGroupRules lists it. */
    record RuleRow(SecurityGroupRecord group, Rule rule, boolean egress) {}

    public SecurityGroupActions(CloudContext cloud, Firewall firewall) {
        this.cloud = cloud;
        this.firewall = firewall;
        Map<String, Function<SecurityGroupRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("group-id", g -> List.of(g.groupId()));
        a.put("group-name", g -> List.of(g.groupName()));
        a.put("description", g -> List.of(g.description()));
        a.put("vpc-id", g -> List.of(g.vpcId()));
        a.put("owner-id", g -> List.of(cloud.accountId()));
        for (boolean egress : new boolean[] {false, true}) {
            String p = egress ? "egress.ip-permission." : "ip-permission.";
            a.put(p + "protocol", g -> g.rules(egress).stream().map(Rule::protocol).toList());
            a.put(p + "from-port", g -> g.rules(egress).stream().map(r -> String.valueOf(r.fromPort())).toList());
            a.put(p + "to-port", g -> g.rules(egress).stream().map(r -> String.valueOf(r.toPort())).toList());
            a.put(p + "cidr", g -> g.rules(egress).stream().map(Rule::cidr).filter(c -> c != null).toList());
            a.put(p + "group-id", g -> g.rules(egress).stream().map(Rule::groupId).filter(c -> c != null).toList());
        }
        this.groupFilters = new Filters<>(a, SecurityGroupRecord::tags);
        Map<String, Function<RuleRow, Collection<String>>> r = new LinkedHashMap<>();
        r.put("group-id", x -> List.of(x.group().groupId()));
        r.put("security-group-rule-id", x -> List.of(x.rule().ruleId()));
        this.ruleFilters = new Filters<>(r, null);
    }

    public void register(ActionRegistry registry) {
        registry.add(CreateSecurityGroupRequest.class, this::create)
                .add(DeleteSecurityGroupRequest.class, this::delete)
                .add(DescribeSecurityGroupsRequest.class, this::describe)
                .add(DescribeSecurityGroupRulesRequest.class, this::describeRules)
                .add(AuthorizeSecurityGroupIngressRequest.class, this::authorizeIngress)
                .add(AuthorizeSecurityGroupEgressRequest.class, this::authorizeEgress)
                .add(RevokeSecurityGroupIngressRequest.class, this::revokeIngress)
                .add(RevokeSecurityGroupEgressRequest.class, this::revokeEgress)
                .add(ModifyInstanceAttributeRequest.class, this::modifyInstanceAttribute);
    }

    // ---- lookups, shared with RunInstances ----

    static List<SecurityGroupRecord> all(CloudContext cloud) {
        return cloud.records().list(Keys.SECURITY_GROUP, SecurityGroupRecord.class).stream().map(Versioned::value).toList();
    }

    static Ec2Exception notFound(String idOrName) {
        return Ec2Exception.client("InvalidGroup.NotFound", "The security group '" + idOrName + "' does not exist");
    }

    static void checkGroupId(String id) {
        if (id == null || !GROUP_ID.matcher(id).matches()) {
            throw Ec2Exception.client("InvalidGroupId.Malformed", "Invalid id: \"" + id + "\" (expecting \"sg-...\")");
        }
    }

    static Versioned<SecurityGroupRecord> byId(CloudContext cloud, String id) {
        checkGroupId(id);
        return cloud.records().get(Keys.SECURITY_GROUP + id, SecurityGroupRecord.class).orElseThrow(() -> notFound(id));
    }

    static SecurityGroupRecord byName(CloudContext cloud, String name) {
        return all(cloud).stream().filter(g -> g.groupName().equals(name)).findFirst().orElseThrow(() -> Ec2Exception.client(
                "InvalidGroup.NotFound", "The security group '" + name + "' does not exist in default VPC '" + Firewall.VPC_ID + "'"));
    }

    /**
     * The groups an instance is launched into, by id and by name, in order and without repeats; none given
     * means the VPC's default group, as on EC2.
     */
    public static List<String> forLaunch(CloudContext cloud, List<String> ids, List<String> names) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (String id : ids) out.add(byId(cloud, id).value().groupId());
        for (String name : names) out.add(byName(cloud, name).groupId());
        if (out.isEmpty()) out.add(byName(cloud, SecurityGroupRecord.DEFAULT_NAME).groupId());
        if (out.size() > MAX_GROUPS_PER_INSTANCE) {
            throw Ec2Exception.client("SecurityGroupsPerInstanceLimitExceeded", "The maximum number of security groups per interface ("
                    + MAX_GROUPS_PER_INSTANCE + ") has been reached.");
        }
        return List.copyOf(out);
    }

    /** An instance's groups as DescribeInstances shows them. */
    static List<GroupIdentifier> identifiers(CloudContext cloud, InstanceRecord r) {
        Map<String, String> names = new LinkedHashMap<>();
        String defaultId = null;
        for (SecurityGroupRecord g : all(cloud)) {
            names.put(g.groupId(), g.groupName());
            if (g.isDefault()) defaultId = g.groupId();
        }
        if (defaultId == null) return List.of();
        return Firewall.groupsOf(r, defaultId).stream().filter(names::containsKey)
                .map(id -> GroupIdentifier.builder().groupId(id).groupName(names.get(id)).build()).toList();
    }

    private Versioned<SecurityGroupRecord> resolve(String groupId, String groupName) {
        if (groupId != null) return byId(cloud, groupId);
        if (groupName != null) return byId(cloud, byName(cloud, groupName).groupId());
        throw Ec2Exception.missingParameter("groupName or groupId");
    }

    // ---- Create, Delete, Describe ----

    private CreateSecurityGroupResponse create(CreateSecurityGroupRequest q) {
        String name = q.groupName();
        if (name == null) throw Ec2Exception.missingParameter("GroupName");
        if (q.description() == null) throw Ec2Exception.missingParameter("GroupDescription");
        checkText("GroupName", name);
        checkText("GroupDescription", q.description());
        if (name.startsWith("sg-")) throw Ec2Exception.invalidParameter("Group names may not be in the format sg-*.");
        if (name.equals(SecurityGroupRecord.DEFAULT_NAME)) throw Ec2Exception.invalidParameter("Cannot use reserved security group name: default");
        if (q.vpcId() != null && !q.vpcId().equals(Firewall.VPC_ID)) {
            throw Ec2Exception.client("InvalidVpcID.NotFound", "The vpc ID '" + q.vpcId() + "' does not exist");
        }
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "security-group");
        synchronized (lock) {
            if (all(cloud).stream().anyMatch(g -> g.groupName().equals(name))) {
                throw Ec2Exception.client("InvalidGroup.Duplicate", "The security group '" + name + "' already exists for VPC '"
                        + Firewall.VPC_ID + "'");
            }
            String id = Ids.next("sg");
            // A new group lets everything out and nothing in, as on EC2.
            SecurityGroupRecord g = new SecurityGroupRecord(id, name, q.description(), Firewall.VPC_ID, List.of(),
                    List.of(new Rule(Ids.next("sgr"), "-1", -1, -1, Firewall.ANYWHERE, null, null)), tags);
            if (!cloud.records().store().putIfAbsent(Keys.SECURITY_GROUP + id, Records.encode(g))) {
                throw Ec2Exception.internal("the store refused the new security group; retry");
            }
            return CreateSecurityGroupResponse.builder().groupId(id).tags(TagSupport.toSdk(tags)).securityGroupArn(arn(g)).build();
        }
    }

    private static void checkText(String parameter, String value) {
        if (value.isEmpty() || value.length() > 255 || !value.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
            throw Ec2Exception.invalidParameter("Invalid value for " + parameter + ": 1 to 255 printable ASCII characters.");
        }
    }

    private DeleteSecurityGroupResponse delete(DeleteSecurityGroupRequest q) {
        synchronized (lock) {
            for (int attempt = 0; attempt < 16; attempt++) {
                Versioned<SecurityGroupRecord> v = resolve(q.groupId(), q.groupName());
                SecurityGroupRecord g = v.value();
                if (g.isDefault()) {
                    throw Ec2Exception.client("CannotDelete", "the specified group: \"" + g.groupId() + "\" name: \"default\" cannot be deleted by a user");
                }
                String defaultId = firewall.defaultGroup().map(d -> d.value().groupId()).orElse("");
                for (InstanceRecord r : cloud.fleet().all()) {
                    if (r.state() != InstanceState.TERMINATED && Firewall.groupsOf(r, defaultId).contains(g.groupId())) {
                        throw Ec2Exception.client("DependencyViolation", "resource " + g.groupId() + " has a dependent object ("
                                + r.instanceId() + ")");
                    }
                }
                for (SecurityGroupRecord other : all(cloud)) {
                    if (!other.groupId().equals(g.groupId()) && other.allRules().stream().anyMatch(r -> g.groupId().equals(r.groupId()))) {
                        throw Ec2Exception.client("DependencyViolation", "resource " + g.groupId() + " has a dependent object (a rule of "
                                + other.groupId() + ")");
                    }
                }
                if (cloud.records().store().delete(v.entry())) {
                    firewall.sync();
                    return DeleteSecurityGroupResponse.builder().returnValue(true).groupId(g.groupId()).build();
                }
            }
            throw Ec2Exception.internal("the security group is being changed by another writer; retry");
        }
    }

    private DescribeSecurityGroupsResponse describe(DescribeSecurityGroupsRequest q) {
        if (!q.groupIds().isEmpty() && q.maxResults() != null) {
            throw Ec2Exception.client("InvalidParameterCombination", "The parameter groupIds cannot be used with the parameter maxResults");
        }
        List<SecurityGroupRecord> chosen = new ArrayList<>();
        if (q.groupIds().isEmpty() && q.groupNames().isEmpty()) chosen.addAll(all(cloud));
        for (String id : q.groupIds()) chosen.add(byId(cloud, id).value());
        for (String name : q.groupNames()) chosen.add(byName(cloud, name));
        chosen = new ArrayList<>(groupFilters.apply(q.filters(), chosen.stream().distinct().toList()));
        chosen.sort(Comparator.comparing(SecurityGroupRecord::groupId));
        Paging.Page<SecurityGroupRecord> page = Paging.page(chosen, SecurityGroupRecord::groupId, q.maxResults(), q.nextToken(), 5, 1000);
        return DescribeSecurityGroupsResponse.builder().securityGroups(page.items().stream().map(this::toSdk).toList())
                .nextToken(page.nextToken()).build();
    }

    private SecurityGroup toSdk(SecurityGroupRecord g) {
        return SecurityGroup.builder().groupId(g.groupId()).groupName(g.groupName()).description(g.description())
                .ownerId(cloud.accountId()).vpcId(g.vpcId()).securityGroupArn(arn(g))
                .ipPermissions(permissions(g.ingress())).ipPermissionsEgress(permissions(g.egress()))
                .tags(TagSupport.toSdk(g.tags())).build();
    }

    /** EC2's view: rules with the same protocol and ports are one IpPermission with several sources. */
    private List<IpPermission> permissions(List<Rule> rules) {
        Map<String, List<Rule>> byTraffic = new LinkedHashMap<>();
        for (Rule r : rules) byTraffic.computeIfAbsent(r.protocol() + "/" + r.fromPort() + "/" + r.toPort(), k -> new ArrayList<>()).add(r);
        List<IpPermission> out = new ArrayList<>();
        for (List<Rule> same : byTraffic.values()) {
            Rule first = same.getFirst();
            IpPermission.Builder p = IpPermission.builder().ipProtocol(first.protocol());
            if (hasPorts(first.protocol())) p.fromPort(first.fromPort()).toPort(first.toPort());
            p.ipRanges(same.stream().filter(r -> r.cidr() != null)
                    .map(r -> IpRange.builder().cidrIp(r.cidr()).description(r.description()).build()).toList());
            p.userIdGroupPairs(same.stream().filter(r -> r.groupId() != null)
                    .map(r -> UserIdGroupPair.builder().groupId(r.groupId()).userId(cloud.accountId()).description(r.description()).build())
                    .toList());
            out.add(p.build());
        }
        return out;
    }

    private static boolean hasPorts(String protocol) {
        return protocol.equals("tcp") || protocol.equals("udp") || protocol.equals("icmp");
    }

    private DescribeSecurityGroupRulesResponse describeRules(DescribeSecurityGroupRulesRequest q) {
        for (String id : q.securityGroupRuleIds()) checkRuleId(id);
        List<RuleRow> rows = new ArrayList<>();
        for (SecurityGroupRecord g : all(cloud)) {
            for (Rule r : g.ingress()) rows.add(new RuleRow(g, r, false));
            for (Rule r : g.egress()) rows.add(new RuleRow(g, r, true));
        }
        if (!q.securityGroupRuleIds().isEmpty()) {
            List<RuleRow> named = new ArrayList<>();
            for (String id : q.securityGroupRuleIds()) {
                named.add(rows.stream().filter(x -> x.rule().ruleId().equals(id)).findFirst().orElseThrow(() -> Ec2Exception.client(
                        "InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '" + id + "' does not exist")));
            }
            rows = named;
        }
        rows = new ArrayList<>(ruleFilters.apply(q.filters(), rows));
        rows.sort(Comparator.comparing(x -> x.rule().ruleId()));
        Paging.Page<RuleRow> page = Paging.page(rows, x -> x.rule().ruleId(), q.maxResults(), q.nextToken(), 5, 1000);
        return DescribeSecurityGroupRulesResponse.builder().securityGroupRules(page.items().stream().map(this::toSdk).toList())
                .nextToken(page.nextToken()).build();
    }

    private static void checkRuleId(String id) {
        if (id == null || !RULE_ID.matcher(id).matches()) {
            throw Ec2Exception.client("InvalidSecurityGroupRuleId.Malformed", "Invalid id: \"" + id + "\" (expecting \"sgr-...\")");
        }
    }

    private SecurityGroupRule toSdk(RuleRow x) {
        Rule r = x.rule();
        SecurityGroupRule.Builder b = SecurityGroupRule.builder().securityGroupRuleId(r.ruleId()).groupId(x.group().groupId())
                .groupOwnerId(cloud.accountId()).isEgress(x.egress()).ipProtocol(r.protocol()).description(r.description())
                .securityGroupRuleArn("arn:aws:ec2:" + cloud.region() + ":" + cloud.accountId() + ":security-group-rule/" + r.ruleId());
        b.fromPort(hasPorts(r.protocol()) ? r.fromPort() : -1).toPort(hasPorts(r.protocol()) ? r.toPort() : -1);
        if (r.cidr() != null) b.cidrIpv4(r.cidr());
        if (r.groupId() != null) b.referencedGroupInfo(ReferencedSecurityGroup.builder().groupId(r.groupId()).userId(cloud.accountId()).build());
        return b.build();
    }

    private String arn(SecurityGroupRecord g) {
        return "arn:aws:ec2:" + cloud.region() + ":" + cloud.accountId() + ":security-group/" + g.groupId();
    }

    // ---- Authorize and Revoke ----

    /** The legacy top-level form ({@code --protocol tcp --port 22 --cidr ...}) the AWS CLI sends, or IpPermissions. */
    record Legacy(String protocol, Integer fromPort, Integer toPort, String cidr, String sourceGroupName) {
        boolean given() {
            return protocol != null || fromPort != null || toPort != null || cidr != null || sourceGroupName != null;
        }
    }

    private AuthorizeSecurityGroupIngressResponse authorizeIngress(AuthorizeSecurityGroupIngressRequest q) {
        List<Rule> added = authorize(q.groupId(), q.groupName(), false, q.ipPermissions(),
                new Legacy(q.ipProtocol(), q.fromPort(), q.toPort(), q.cidrIp(), q.sourceSecurityGroupName()));
        return AuthorizeSecurityGroupIngressResponse.builder().returnValue(true)
                .securityGroupRules(added.stream().map(r -> toSdk(new RuleRow(byId(cloud, groupOf(q.groupId(), q.groupName())).value(), r, false))).toList())
                .build();
    }

    private AuthorizeSecurityGroupEgressResponse authorizeEgress(AuthorizeSecurityGroupEgressRequest q) {
        if (q.groupId() == null) throw Ec2Exception.missingParameter("GroupId");
        List<Rule> added = authorize(q.groupId(), null, true, q.ipPermissions(),
                new Legacy(q.ipProtocol(), q.fromPort(), q.toPort(), q.cidrIp(), q.sourceSecurityGroupName()));
        SecurityGroupRecord g = byId(cloud, q.groupId()).value();
        return AuthorizeSecurityGroupEgressResponse.builder().returnValue(true)
                .securityGroupRules(added.stream().map(r -> toSdk(new RuleRow(g, r, true))).toList()).build();
    }

    private String groupOf(String groupId, String groupName) {
        return groupId != null ? groupId : byName(cloud, groupName).groupId();
    }

    private RevokeSecurityGroupIngressResponse revokeIngress(RevokeSecurityGroupIngressRequest q) {
        revoke(q.groupId(), q.groupName(), false, q.ipPermissions(), q.securityGroupRuleIds(),
                new Legacy(q.ipProtocol(), q.fromPort(), q.toPort(), q.cidrIp(), q.sourceSecurityGroupName()));
        return RevokeSecurityGroupIngressResponse.builder().returnValue(true).build();
    }

    private RevokeSecurityGroupEgressResponse revokeEgress(RevokeSecurityGroupEgressRequest q) {
        if (q.groupId() == null) throw Ec2Exception.missingParameter("GroupId");
        revoke(q.groupId(), null, true, q.ipPermissions(), q.securityGroupRuleIds(),
                new Legacy(q.ipProtocol(), q.fromPort(), q.toPort(), q.cidrIp(), q.sourceSecurityGroupName()));
        return RevokeSecurityGroupEgressResponse.builder().returnValue(true).build();
    }

    private List<Rule> authorize(String groupId, String groupName, boolean egress, List<IpPermission> permissions, Legacy legacy) {
        synchronized (lock) {
            Versioned<SecurityGroupRecord> v = resolve(groupId, groupName);
            List<Rule> wanted = RuleParser.parse(cloud, permissions, legacy, true);
            List<Rule> current = v.value().rules(egress);
            for (int i = 0; i < wanted.size(); i++) {
                Rule w = wanted.get(i);
                boolean dup = current.stream().anyMatch(w::sameAs) || wanted.subList(0, i).stream().anyMatch(w::sameAs);
                if (dup) {
                    throw Ec2Exception.client("InvalidPermission.Duplicate", "the specified rule \"" + RuleParser.describe(w)
                            + "\" already exists");
                }
            }
            if (current.size() + wanted.size() > MAX_RULES) {
                throw Ec2Exception.client("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group ("
                        + MAX_RULES + " per direction) has been reached.");
            }
            List<Rule> next = new ArrayList<>(current);
            next.addAll(wanted);
            change(v, g -> g.withRules(egress, next));
            return wanted;
        }
    }

    private void revoke(String groupId, String groupName, boolean egress, List<IpPermission> permissions, List<String> ruleIds, Legacy legacy) {
        synchronized (lock) {
            Versioned<SecurityGroupRecord> v = resolve(groupId, groupName);
            List<Rule> current = v.value().rules(egress);
            List<Rule> next = new ArrayList<>(current);
            if (!ruleIds.isEmpty()) {
                if (!permissions.isEmpty() || legacy.given()) {
                    throw Ec2Exception.client("InvalidParameterCombination", "Give either SecurityGroupRuleIds or IpPermissions, not both.");
                }
                for (String id : ruleIds) {
                    checkRuleId(id);
                    if (!next.removeIf(r -> r.ruleId().equals(id))) {
                        throw Ec2Exception.client("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '" + id
                                + "' does not exist in " + v.value().groupId() + (egress ? " (egress)" : " (ingress)"));
                    }
                }
            } else {
                for (Rule w : RuleParser.parse(cloud, permissions, legacy, false)) {
                    if (!next.removeIf(w::sameAs)) {
                        throw Ec2Exception.client("InvalidPermission.NotFound", "The specified rule \"" + RuleParser.describe(w)
                                + "\" does not exist in this security group.");
                    }
                }
            }
            change(v, g -> g.withRules(egress, next));
        }
    }

    /** Writes the changed group (compare-and-set; one retry path for a concurrent tagger) and applies it. */
    private void change(Versioned<SecurityGroupRecord> read, UnaryOperator<SecurityGroupRecord> edit) {
        Versioned<SecurityGroupRecord> v = read;
        for (int attempt = 0; attempt < 16; attempt++) {
            if (cloud.records().store().compareAndSet(v.entry(), Records.encode(edit.apply(v.value())))) {
                firewall.sync();
                return;
            }
            v = byId(cloud, v.value().groupId());
        }
        throw Ec2Exception.internal("the security group is being changed by another writer; retry");
    }

    // ---- ModifyInstanceAttribute (Groups) ----

    private ModifyInstanceAttributeResponse modifyInstanceAttribute(ModifyInstanceAttributeRequest q) {
        if (q.instanceId() == null) throw Ec2Exception.missingParameter("InstanceId");
        for (SdkField<?> field : q.sdkFields()) {
            String member = field.memberName();
            if (member.equals("InstanceId") || member.equals("Groups") || member.equals("DryRun")) continue;
            Object value = field.getValueOrDefault(q);
            if (value != null && !(value instanceof SdkAutoConstructList<?>)) {
                throw Ec2Exception.client("UnsupportedOperation", "Flint's ModifyInstanceAttribute changes only the security groups (GroupId.N), not "
                        + member + ".");
            }
        }
        if (q.groups().isEmpty()) throw Ec2Exception.missingParameter("GroupId");
        InstanceActions.checkId(q.instanceId());
        synchronized (lock) {
            List<String> groups = forLaunch(cloud, q.groups(), List.of());
            for (int attempt = 0; attempt < 16; attempt++) {
                Versioned<InstanceRecord> v = cloud.fleet().find(q.instanceId()).orElseThrow(() -> Ec2Exception.client(
                        "InvalidInstanceID.NotFound", "The instance ID '" + q.instanceId() + "' does not exist"));
                if (v.value().state() == InstanceState.TERMINATED) {
                    throw Ec2Exception.client("IncorrectInstanceState", "The instance '" + q.instanceId() + "' is terminated.");
                }
                List<Write> writes = new ArrayList<>();
                writes.add(Write.update(v.entry(), Records.encode(v.value().withSecurityGroups(groups))));
                // Rewritten unchanged, so a racing DeleteSecurityGroup fails its compare-and-set.
                for (String g : groups) {
                    CloudStore.Entry e = cloud.records().store().get(Keys.SECURITY_GROUP + g).orElseThrow(() -> notFound(g));
                    writes.add(Write.update(e, e.value()));
                }
                if (cloud.records().store().commit(writes)) {
                    firewall.sync();
                    return ModifyInstanceAttributeResponse.builder().build();
                }
            }
            throw Ec2Exception.internal("the instance is being changed by another writer; retry");
        }
    }

    static Optional<SecurityGroupRecord> find(CloudContext cloud, String id) {
        return cloud.records().get(Keys.SECURITY_GROUP + id, SecurityGroupRecord.class).map(Versioned::value);
    }
}
