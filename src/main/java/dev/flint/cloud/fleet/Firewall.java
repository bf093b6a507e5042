package dev.flint.cloud.fleet;

import dev.flint.cloud.compute.FirewallPlan;
import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.InstanceRuntime.RuntimeFailure;
import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.InstanceState;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.model.SecurityGroupRecord;
import dev.flint.cloud.model.SecurityGroupRecord.Rule;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The security groups as the runtime enforces them: after every change of a rule, a group or an instance's
 * membership, {@link #sync} reads the stored records and hands the runtime the whole resulting
 * {@link FirewallPlan}, which replaces the previous one at once. Syncs are serialised, and each reads the
 * store after taking the lock, so the last one to run always reflects the latest committed change.
 *
 * <p>Flint has one VPC ({@value #VPC_ID}, {@value #VPC_CIDR}; instances sit in its subnet
 * {@value AddressPlan#SUBNET}) with its {@code default} group, made on first start: as on EC2 it lets all
 * traffic out and, in, only traffic from its own members.
 */
public final class Firewall {
    private static final Logger LOG = Logger.getLogger(Firewall.class.getName());
    public static final String VPC_ID = "vpc-0f117c1a0d0000001";
    public static final String VPC_CIDR = "172.31.0.0/16";
    public static final String ANYWHERE = "0.0.0.0/0";

    private final Records records;
    private final InstanceRuntime runtime;
    private final Object lock = new Object();

    public Firewall(Records records, InstanceRuntime runtime) {
        this.records = records;
        this.runtime = runtime;
    }

    public List<Versioned<SecurityGroupRecord>> groups() {
        return records.list(Keys.SECURITY_GROUP, SecurityGroupRecord.class);
    }

    public Optional<Versioned<SecurityGroupRecord>> group(String groupId) {
        return records.get(Keys.SECURITY_GROUP + groupId, SecurityGroupRecord.class);
    }

    public Optional<Versioned<SecurityGroupRecord>> defaultGroup() {
        return groups().stream().filter(v -> v.value().isDefault()).findFirst();
    }

    /** The VPC's default group, made if there is none yet. */
    public SecurityGroupRecord ensureDefaultGroup() {
        Optional<Versioned<SecurityGroupRecord>> existing = defaultGroup();
        if (existing.isPresent()) return existing.get().value();
        String id = Ids.next("sg");
        SecurityGroupRecord group = new SecurityGroupRecord(id, SecurityGroupRecord.DEFAULT_NAME, "default VPC security group", VPC_ID,
                List.of(new Rule(Ids.next("sgr"), "-1", -1, -1, null, id, null)),
                List.of(new Rule(Ids.next("sgr"), "-1", -1, -1, ANYWHERE, null, null)), Map.of());
        if (!records.store().putIfAbsent(Keys.SECURITY_GROUP + id, Records.encode(group))) {
            throw Ec2Exception.internal("the store refused the default security group; retry");
        }
        LOG.info("security group " + id + " (default) made for " + VPC_ID);
        return group;
    }

    /** An instance's groups: those it was launched with or given, or the default group for records older than groups. */
    public static List<String> groupsOf(InstanceRecord r, String defaultGroupId) {
        return r.securityGroupIds() == null || r.securityGroupIds().isEmpty() ? List.of(defaultGroupId) : r.securityGroupIds();
    }

    /** Makes the runtime's packet filter what the records say now; a runtime that cannot is an InternalError. */
    public void sync() {
        synchronized (lock) {
            try {
                runtime.applyFirewall(plan());
            } catch (RuntimeFailure e) {
                LOG.warning(e.getMessage());
                throw Ec2Exception.internal("the security groups could not be applied on this host: " + e.getMessage());
            }
        }
    }

    FirewallPlan plan() {
        Map<String, SecurityGroupRecord> groups = new LinkedHashMap<>();
        for (Versioned<SecurityGroupRecord> v : groups()) groups.put(v.value().groupId(), v.value());
        String defaultId = groups.values().stream().filter(SecurityGroupRecord::isDefault).map(SecurityGroupRecord::groupId)
                .findFirst().orElse(null);
        Map<String, List<String>> members = new LinkedHashMap<>();
        for (String id : groups.keySet()) members.put(id, new ArrayList<>());
        List<FirewallPlan.Interface> interfaces = new ArrayList<>();
        for (Versioned<InstanceRecord> v : records.list(Keys.INSTANCE, InstanceRecord.class)) {
            InstanceRecord r = v.value();
            if (r.state() == InstanceState.TERMINATED) continue;
            List<FirewallPlan.Rule> in = new ArrayList<>(), out = new ArrayList<>();
            for (String g : defaultId == null ? r.securityGroupIds() == null ? List.<String>of() : r.securityGroupIds() : groupsOf(r, defaultId)) {
                SecurityGroupRecord group = groups.get(g);
                if (group == null) continue; // deleted under a stopped record: it allows nothing
                members.get(g).add(r.privateIp());
                for (Rule rule : group.ingress()) in.add(toPlan(rule));
                for (Rule rule : group.egress()) out.add(toPlan(rule));
            }
            interfaces.add(new FirewallPlan.Interface(r.instanceId(), r.privateIp(), in, out));
        }
        return new FirewallPlan(interfaces, members);
    }

    private static FirewallPlan.Rule toPlan(Rule r) {
        return new FirewallPlan.Rule(r.protocol(), r.fromPort(), r.toPort(), r.cidr(), r.groupId());
    }
}
