import { useState } from 'preact/hooks';
import { base64Utf8, child, ec2, ec2All, items, text } from '../ec2.js';
import { ErrorNote, usePoll } from '../ui.jsx';

async function choices(action, setName, pick) {
  try {
    return { list: (await ec2All(action, {}, setName)).map(pick), error: null };
  } catch (error) {
    return { list: [], error };
  }
}

function clientToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'console-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function Choice({ id, label, state, children, unavailable }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {state?.error?.notAvailable && unavailable ? <p class="not-available small">{unavailable}</p> : children}
      {state?.error && !state.error.notAvailable ? <ErrorNote error={state.error} /> : null}
    </div>
  );
}

export function LaunchPage({ navigate }) {
  const options = usePoll(async () => {
    const [images, types, keys, groups] = await Promise.all([
      choices('DescribeImages', 'imagesSet', (i) => ({ id: text(i, 'imageId'), name: text(i, 'name') })),
      choices('DescribeInstanceTypes', 'instanceTypeSet', (t) => ({
        id: text(t, 'instanceType'),
        vcpus: text(child(t, 'vCpuInfo'), 'defaultVCpus'),
        mib: text(child(t, 'memoryInfo'), 'sizeInMiB'),
      })),
      choices('DescribeKeyPairs', 'keySet', (k) => ({ id: text(k, 'keyName') })),
      choices('DescribeSecurityGroups', 'securityGroupInfo', (g) => ({ id: text(g, 'groupId'), name: text(g, 'groupName') })),
    ]);
    return { images, types, keys, groups };
  }, 0);
  const [form, setForm] = useState({ image: '', type: '', key: '', group: '', name: '', userData: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const o = options.data;
  const image = form.image || o?.images.list[0]?.id || '';
  const type = form.type || o?.types.list[0]?.id || '';

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const params = {
      ImageId: image,
      InstanceType: type,
      MinCount: 1,
      MaxCount: 1,
      KeyName: form.key,
      'SecurityGroupId.1': form.group,
      UserData: form.userData ? base64Utf8(form.userData) : '',
      ClientToken: clientToken(),
    };
    if (form.name) {
      params['TagSpecification.1.ResourceType'] = 'instance';
      params['TagSpecification.1.Tag.1.Key'] = 'Name';
      params['TagSpecification.1.Tag.1.Value'] = form.name;
    }
    try {
      const root = await ec2('RunInstances', params);
      const ids = items(root, 'instancesSet').map((i) => text(i, 'instanceId'));
      navigate('#/instances', 'Launched ' + ids.join(', ') + '.');
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  if (!o) return <section><h2>Launch an instance</h2><p class="muted">Loading…</p></section>;
  return (
    <section>
      <h2>Launch an instance</h2>
      <form class="launch" onSubmit={submit} id="launch-form">
        <Choice id="image" label="Image" state={o.images} unavailable="Images are not available.">
          {o.images.list.length === 0 ? (
            <p class="muted">No images registered.</p>
          ) : (
            <select id="image" value={image} onChange={set('image')} required>
              {o.images.list.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.id} {i.name ? '— ' + i.name : ''}
                </option>
              ))}
            </select>
          )}
        </Choice>
        <Choice id="type" label="Instance type" state={o.types} unavailable={null}>
          {o.types.list.length === 0 ? (
            <input id="type" value={form.type} onInput={set('type')} placeholder="t3.micro" required />
          ) : (
            <select id="type" value={type} onChange={set('type')}>
              {o.types.list.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.id}
                  {t.vcpus ? ` — ${t.vcpus} vCPU, ${t.mib} MiB` : ''}
                </option>
              ))}
            </select>
          )}
        </Choice>
        <Choice id="key" label="Key pair" state={o.keys} unavailable="Key pairs are not available.">
          <select id="key" value={form.key} onChange={set('key')}>
            <option value="">(none)</option>
            {o.keys.list.map((k) => (
              <option key={k.id} value={k.id}>
                {k.id}
              </option>
            ))}
          </select>
        </Choice>
        <Choice id="group" label="Security group" state={o.groups} unavailable="Security groups are not available in this Flint cloud.">
          <select id="group" value={form.group} onChange={set('group')}>
            <option value="">(default)</option>
            {o.groups.list.map((g) => (
              <option key={g.id} value={g.id}>
                {g.id} {g.name ? '— ' + g.name : ''}
              </option>
            ))}
          </select>
        </Choice>
        <div class="field">
          <label for="name">Name tag</label>
          <input id="name" value={form.name} onInput={set('name')} placeholder="optional" maxLength={255} />
        </div>
        <div class="field">
          <label for="user-data">User data</label>
          <textarea id="user-data" rows={6} value={form.userData} onInput={set('userData')} placeholder="#!/bin/sh …" />
        </div>
        <ErrorNote error={error} />
        <button type="submit" id="launch" disabled={busy || !image}>
          {busy ? 'Launching…' : 'Launch'}
        </button>
      </form>
    </section>
  );
}
