// The console's only way to the cloud: EC2 Query actions posted to /console/api, run by the daemon's own
// EC2 handlers and answered with the same XML the AWS CLI reads. Authenticated by the session cookie and
// the CSRF token the server put into the page.

const csrf = document.querySelector('meta[name="flint-csrf"]')?.content ?? '';

export class Ec2Error extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
  /** The daemon does not implement this action (or this part of it). */
  get notAvailable() {
    return this.code === 'InvalidAction' || this.code === 'UnsupportedOperation';
  }
}

export async function ec2(action, params = {}) {
  const body = new URLSearchParams({ Action: action, Version: '2016-11-15' });
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') body.append(name, String(value));
  }
  let response;
  try {
    response = await fetch('/console/api', {
      method: 'POST',
      headers: { 'X-Flint-Csrf': csrf },
      body,
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new Ec2Error('NetworkError', 'The daemon did not answer (' + e.message + ')', 0);
  }
  if (response.status === 401) {
    // The session ended (daemon restart, idle): back to the sign-in page.
    window.location.assign('/console/');
    throw new Ec2Error('AuthFailure', 'Signed out', 401);
  }
  const text = await response.text();
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  if (!response.ok) {
    const code = doc.getElementsByTagName('Code')[0]?.textContent ?? 'HTTP' + response.status;
    const message = doc.getElementsByTagName('Message')[0]?.textContent ?? text.slice(0, 200);
    throw new Ec2Error(code, message, response.status);
  }
  if (doc.getElementsByTagName('parsererror').length > 0) {
    throw new Ec2Error('BadResponse', 'The answer was not XML', response.status);
  }
  return doc.documentElement;
}

/** Runs a paged Describe action to the end (the CLI does the same with nextToken). */
export async function ec2All(action, params, setName) {
  const all = [];
  let token;
  for (let page = 0; page < 50; page++) {
    const root = await ec2(action, { ...params, NextToken: token });
    all.push(...items(root, setName));
    const next = text(root, 'nextToken');
    if (!next || next === token) break;
    token = next;
  }
  return all;
}

// --- Reading EC2 XML: elements are in the EC2 namespace, members are lower camel case, lists are
// <fooSet><item>...</item></fooSet>.

export function child(el, name) {
  if (!el) return null;
  for (const c of el.children) if (c.localName === name) return c;
  return null;
}

export function text(el, name) {
  return child(el, name)?.textContent ?? '';
}

export function items(el, setName) {
  const set = child(el, setName);
  return set ? [...set.children].filter((c) => c.localName === 'item') : [];
}

export function tags(el) {
  return items(el, 'tagSet').map((t) => ({ key: text(t, 'key'), value: text(t, 'value') }));
}

export function instanceFrom(i) {
  const tagList = tags(i);
  return {
    id: text(i, 'instanceId'),
    state: text(child(i, 'instanceState'), 'name'),
    type: text(i, 'instanceType'),
    image: text(i, 'imageId'),
    keyName: text(i, 'keyName'),
    privateIp: text(i, 'privateIpAddress'),
    publicIp: text(i, 'ipAddress'),
    launchTime: text(i, 'launchTime'),
    stateReason: text(child(i, 'stateReason'), 'message') || text(i, 'reason'),
    securityGroups: items(i, 'groupSet').map((g) => text(g, 'groupName') || text(g, 'groupId')),
    tags: tagList,
    name: tagList.find((t) => t.key === 'Name')?.value ?? '',
  };
}

export async function describeInstances(params = {}) {
  const reservations = await ec2All('DescribeInstances', params, 'reservationSet');
  return reservations.flatMap((r) => items(r, 'instancesSet').map(instanceFrom));
}

/** UTF-8 text to base64, as the CLI sends user data. */
export function base64Utf8(s) {
  const bytes = new TextEncoder().encode(s);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64Utf8(s) {
  const binary = atob(s.replace(/\s+/g, ''));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function signOut() {
  return fetch('/console/signout', { method: 'POST', headers: { 'X-Flint-Csrf': csrf }, credentials: 'same-origin' });
}
