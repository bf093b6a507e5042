import { useState } from 'preact/hooks';
import { ec2, ec2All, text } from '../ec2.js';
import { ErrorNote, NotAvailable, usePoll, when } from '../ui.jsx';

/** Hands the private key to the browser as a file; the console keeps no copy (nor does EC2). */
function download(name, material) {
  const blob = new Blob([material.endsWith('\n') ? material : material + '\n'], { type: 'application/x-pem-file' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name + '.pem';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function KeyPairsPage() {
  const [tick, setTick] = useState(0);
  const state = usePoll(() => ec2All('DescribeKeyPairs', {}, 'keySet'), 0, [tick]);
  const [name, setName] = useState('');
  const [type, setType] = useState('ed25519');
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);

  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const root = await ec2('CreateKeyPair', { KeyName: name, KeyType: type });
      const keyName = text(root, 'keyName');
      download(keyName, text(root, 'keyMaterial'));
      setCreated({ name: keyName, fingerprint: text(root, 'keyFingerprint') });
      setName('');
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (keyName) => {
    try {
      await ec2('DeleteKeyPair', { KeyName: keyName });
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };

  if (state.error?.notAvailable) {
    return (
      <section>
        <h2>Key pairs</h2>
        <NotAvailable what="Key pairs" />
      </section>
    );
  }
  const keys = state.data ?? [];
  return (
    <section>
      <h2>Key pairs</h2>
      <form class="inline" onSubmit={create} id="keypair-form">
        <input id="keypair-name" placeholder="new key pair name" value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={255} />
        <select id="keypair-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="ed25519">ed25519</option>
          <option value="rsa">rsa</option>
        </select>
        <button type="submit" id="keypair-create">Create and download</button>
      </form>
      {created ? (
        <p class="flash" id="keypair-created">
          Created <strong>{created.name}</strong>; its private key was downloaded as {created.name}.pem. This was
          the only chance to get it: Flint keeps only the public key.
        </p>
      ) : null}
      <ErrorNote error={error || state.error} />
      {state.loading ? (
        <p class="muted">Loading…</p>
      ) : keys.length === 0 ? (
        <p class="muted">No key pairs.</p>
      ) : (
        <table class="grid" id="keypairs">
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Type</th>
              <th>Fingerprint</th>
              <th>Created</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={text(k, 'keyName')}>
                <td>{text(k, 'keyName')}</td>
                <td class="mono">{text(k, 'keyPairId')}</td>
                <td>{text(k, 'keyType')}</td>
                <td class="mono small">{text(k, 'keyFingerprint')}</td>
                <td>{when(text(k, 'createTime'))}</td>
                <td>
                  <button type="button" class="small danger" onClick={() => remove(text(k, 'keyName'))}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
