import { ec2All, items, tags as tagsOf, text } from '../ec2.js';
import { ResourceTable, StateBadge, Tags, usePoll, when } from '../ui.jsx';

export function ImagesPage() {
  const state = usePoll(() => ec2All('DescribeImages', {}, 'imagesSet'), 10000);
  return (
    <ResourceTable
      title="Images"
      state={state}
      rows={state.data ?? []}
      empty="No images registered."
      columns={[
        { title: 'Image', cell: (i) => <span class="mono">{text(i, 'imageId')}</span> },
        { title: 'Name', cell: (i) => text(i, 'name') },
        { title: 'State', cell: (i) => <StateBadge state={text(i, 'imageState')} /> },
        { title: 'Architecture', cell: (i) => text(i, 'architecture') },
        { title: 'Root device', cell: (i) => text(i, 'rootDeviceName') },
        { title: 'Created', cell: (i) => when(text(i, 'creationDate')) },
        { title: 'Description', cell: (i) => text(i, 'description') },
      ]}
    />
  );
}

export function VolumesPage() {
  const state = usePoll(() => ec2All('DescribeVolumes', {}, 'volumeSet'), 5000);
  return (
    <ResourceTable
      title="Volumes"
      state={state}
      rows={state.data ?? []}
      empty="No volumes."
      columns={[
        { title: 'Volume', cell: (v) => <span class="mono">{text(v, 'volumeId')}</span> },
        { title: 'Size (GiB)', cell: (v) => text(v, 'size') },
        { title: 'State', cell: (v) => <StateBadge state={text(v, 'status')} /> },
        {
          title: 'Attached to',
          cell: (v) =>
            items(v, 'attachmentSet')
              .map((a) => `${text(a, 'instanceId')} ${text(a, 'device')}`)
              .join(', '),
        },
        { title: 'Zone', cell: (v) => text(v, 'availabilityZone') },
        { title: 'Created', cell: (v) => when(text(v, 'createTime')) },
        { title: 'Tags', cell: (v) => <Tags tags={tagsOf(v)} /> },
      ]}
    />
  );
}

function rules(group, setName) {
  return items(group, setName)
    .map((p) => {
      const proto = text(p, 'ipProtocol');
      const ports = text(p, 'fromPort') ? `${text(p, 'fromPort')}-${text(p, 'toPort')}` : 'all';
      const from = items(p, 'ipRanges').map((r) => text(r, 'cidrIp'));
      return `${proto === '-1' ? 'all' : proto} ${ports} ${from.join(' ')}`.trim();
    })
    .join('; ');
}

export function SecurityGroupsPage() {
  const state = usePoll(() => ec2All('DescribeSecurityGroups', {}, 'securityGroupInfo'), 10000);
  return (
    <ResourceTable
      title="Security groups"
      state={state}
      rows={state.data ?? []}
      empty="No security groups."
      columns={[
        { title: 'Group', cell: (g) => <span class="mono">{text(g, 'groupId')}</span> },
        { title: 'Name', cell: (g) => text(g, 'groupName') },
        { title: 'Description', cell: (g) => text(g, 'groupDescription') },
        { title: 'Inbound', cell: (g) => rules(g, 'ipPermissions') },
        { title: 'Outbound', cell: (g) => rules(g, 'ipPermissionsEgress') },
      ]}
    />
  );
}
