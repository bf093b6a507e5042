import { useState } from 'preact/hooks';
import { describeInstances } from '../ec2.js';
import { ErrorNote, StateBadge, Tags, usePoll, when } from '../ui.jsx';
import { InstanceActions } from '../InstanceActions.jsx';

export function InstancesPage({ flash }) {
  const [tick, setTick] = useState(0);
  const [actionError, setActionError] = useState(null);
  // Polled every 2 s: an action taken with the AWS CLI shows here without a reload.
  const state = usePoll(() => describeInstances(), 2000, [tick]);
  const instances = state.data ?? [];
  return (
    <section>
      <div class="page-head">
        <h2>Instances</h2>
        <a class="button" href="#/launch" id="launch-link">
          Launch instance
        </a>
      </div>
      {flash ? <p class="flash" id="flash">{flash}</p> : null}
      <ErrorNote error={actionError || state.error} />
      {state.loading ? (
        <p class="muted">Loading…</p>
      ) : instances.length === 0 ? (
        <p class="muted">No instances. Launch one.</p>
      ) : (
        <table class="grid" id="instances">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Name</th>
              <th>State</th>
              <th>Type</th>
              <th>Image</th>
              <th>Private IP</th>
              <th>Public IP</th>
              <th>Launched</th>
              <th>Tags</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {instances.map((i) => (
              <tr key={i.id} data-instance={i.id}>
                <td>
                  <a href={'#/instances/' + i.id} class="mono">
                    {i.id}
                  </a>
                </td>
                <td>{i.name}</td>
                <td data-col="state">
                  <StateBadge state={i.state} />
                </td>
                <td>{i.type}</td>
                <td class="mono">{i.image}</td>
                <td class="mono">{i.privateIp}</td>
                <td class="mono">{i.publicIp}</td>
                <td>{when(i.launchTime)}</td>
                <td>
                  <Tags tags={i.tags.filter((t) => t.key !== 'Name')} />
                </td>
                <td>
                  <InstanceActions
                    instance={i}
                    onDone={() => {
                      setActionError(null);
                      setTick((t) => t + 1);
                    }}
                    onError={setActionError}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
