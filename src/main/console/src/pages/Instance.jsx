import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { describeInstances, ec2, fromBase64Utf8, text } from '../ec2.js';
import { ErrorNote, StateBadge, Tags, usePoll, when } from '../ui.jsx';
import { InstanceActions } from '../InstanceActions.jsx';
import { SerialTerminal } from '../SerialTerminal.jsx';
import { MetricsPlot } from '../MetricsPlot.jsx';

function ConsoleOutput({ instanceId }) {
  const [tick, setTick] = useState(0);
  const state = usePoll(
    async () => {
      const root = await ec2('GetConsoleOutput', { InstanceId: instanceId });
      const encoded = text(root, 'output');
      return { output: encoded ? fromBase64Utf8(encoded) : '', at: text(root, 'timestamp') };
    },
    0,
    [instanceId, tick],
  );
  return (
    <section>
      <div class="page-head">
        <h3>Console output</h3>
        <button type="button" class="small" id="console-output-refresh" onClick={() => setTick((t) => t + 1)}>
          Refresh
        </button>
      </div>
      <ErrorNote error={state.error} />
      {state.data ? (
        <>
          <p class="muted small">{state.data.at ? 'As of ' + when(state.data.at) : ''}</p>
          <pre class="console-output" id="console-output">
            {state.data.output || '(no output yet)'}
          </pre>
        </>
      ) : null}
    </section>
  );
}

export function InstancePage({ instanceId }) {
  const [tick, setTick] = useState(0);
  const [actionError, setActionError] = useState(null);
  const state = usePoll(() => describeInstances({ 'InstanceId.1': instanceId }), 2000, [instanceId, tick]);
  const instance = state.data?.[0];
  if (!instance) {
    return (
      <section>
        <h2 class="mono">{instanceId}</h2>
        <ErrorNote error={state.error} />
        {state.loading ? <p class="muted">Loading…</p> : null}
      </section>
    );
  }
  const facts = [
    ['State', <StateBadge state={instance.state} />],
    ['Type', instance.type],
    ['Image', instance.image],
    ['Key pair', instance.keyName || '—'],
    ['Private IP', instance.privateIp || '—'],
    ['Public IP', instance.publicIp || '—'],
    ['Security groups', instance.securityGroups.join(', ') || '—'],
    ['Launched', when(instance.launchTime)],
    ['Tags', <Tags tags={instance.tags} />],
  ];
  if (instance.stateReason) facts.push(['Reason', instance.stateReason]);
  return (
    <section id="instance-page" data-instance={instance.id} data-state={instance.state}>
      <div class="page-head">
        <h2>
          <span class="mono">{instance.id}</span> {instance.name ? <span class="muted">{instance.name}</span> : null}
        </h2>
        <InstanceActions
          instance={instance}
          onDone={() => {
            setActionError(null);
            setTick((t) => t + 1);
          }}
          onError={setActionError}
        />
      </div>
      <ErrorNote error={actionError} />
      <dl class="facts">
        {facts.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </Fragment>
        ))}
      </dl>
      <h3>Resource use</h3>
      <MetricsPlot instanceId={instance.id} />
      <h3>Serial console</h3>
      <SerialTerminal instanceId={instance.id} running={instance.state === 'running'} />
      <ConsoleOutput instanceId={instance.id} />
    </section>
  );
}
