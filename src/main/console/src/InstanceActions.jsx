import { useState } from 'preact/hooks';
import { ACTIONS, instanceAction } from './actions.js';

/** Start / Stop / Reboot / Terminate for one instance; Terminate asks once more. */
export function InstanceActions({ instance, onDone, onError }) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const run = async (a) => {
    if (a.action === 'TerminateInstances' && !confirming) {
      setConfirming(true);
      return;
    }
    setConfirming(false);
    setBusy(true);
    try {
      await instanceAction(a.action, instance.id);
      onDone?.(a);
    } catch (e) {
      onError?.(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="actions">
      {ACTIONS.filter((a) => a.states.includes(instance.state)).map((a) => (
        <button
          key={a.name}
          type="button"
          class={'small' + (a.name === 'Terminate' ? ' danger' : '')}
          disabled={busy}
          data-action={a.name.toLowerCase()}
          data-instance={instance.id}
          onClick={() => run(a)}
        >
          {a.name === 'Terminate' && confirming ? 'Confirm terminate' : a.name}
        </button>
      ))}
      {confirming ? (
        <button type="button" class="small link" onClick={() => setConfirming(false)}>
          Cancel
        </button>
      ) : null}
    </span>
  );
}
