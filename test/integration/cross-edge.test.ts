/**
 * Cross-edge behaviour on a real 3-node NATS cluster: two edge processes on two different NATS
 * nodes, a backend publishing from the third node, the admin API, real WebSocket clients.
 * A backend learns of connections through mesh.events.connect (the documented guarantee), so every
 * test waits for that announcement before pushing; "exactly once" is checked with a sentinel push
 * published afterwards (NATS keeps one publisher's order).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeId, Header } from '@session-mesh/protocol';
import { ADMIN_TOKEN, bytes, startMeshCluster, subjects, text, type MeshCluster } from '../support/mesh-cluster.js';
import { eventually } from '../support/processes.js';
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

let mesh: MeshCluster;
const open: MeshClient[] = [];

beforeAll(async () => {
  mesh = await startMeshCluster({ edges: 2, admin: true });
}, 90_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await mesh?.stop();
});

async function connect(edge: number, sub: string, opts: { jti?: string; client?: string; roles?: string[] } = {}): Promise<MeshClient> {
  const token = await mintToken({ sub, ...(opts.jti ? { jti: opts.jti } : {}), ...(opts.roles ? { roles: opts.roles } : {}) });
  const client = await connectClient({ url: mesh.edgeUrl(edge), token, ...(opts.client ? { client: opts.client } : {}) });
  if (!client.welcome) throw new Error(`not welcomed: ${JSON.stringify(client.refused ?? client.closed ?? client.error?.message)}`);
  open.push(client);
  const conn = client.welcome.conn;
  await eventually(() => mesh.announced.has(conn), `connect event for ${conn}`);
  return client;
}

const pushUser = (user: string, payload: string, headers?: Record<string, string>) =>
  mesh.backend.publish(subjects.pushUser(user), bytes(payload), headers);

/** Waits until every client received `sentinel`, then returns what each received before it. */
async function receivedBefore(clients: MeshClient[], sentinel: string): Promise<string[][]> {
  await eventually(() => clients.every((c) => c.pushes.some((p) => text(p) === sentinel)), `sentinel ${sentinel}`);
  return clients.map((c) => {
    const all = c.pushes.map(text);
    return all.slice(0, all.indexOf(sentinel));
  });
}

describe('push across edges', () => {
  it('reaches each of a user’s three clients on two edges exactly once, and no one else', async () => {
    const [a1, b1, a2, other] = [
      await connect(0, 'user-three', { client: 'tab-1' }),
      await connect(1, 'user-three', { client: 'tab-2' }),
      await connect(0, 'user-three', { client: 'tab-3' }),
      await connect(1, 'bystander'),
    ];
    expect(new Set([a1.welcome!.edge, b1.welcome!.edge]).size).toBe(2);
    pushUser('user-three', 'hello three');
    pushUser('user-three', 'sentinel-1');
    pushUser('bystander', 'sentinel-1');
    const got = await receivedBefore([a1, b1, a2, other], 'sentinel-1');
    expect(got).toEqual([['hello three'], ['hello three'], ['hello three'], []]);
  });

  it('reaches only one client (tab) when narrowed with Mesh-Client', async () => {
    const tabs = [await connect(0, 'user-tabs', { client: 'tab-a' }), await connect(1, 'user-tabs', { client: 'tab-b' })];
    pushUser('user-tabs', 'only b', { [Header.Client]: encodeId('tab-b') });
    pushUser('user-tabs', 'sentinel-2');
    expect(await receivedBefore(tabs, 'sentinel-2')).toEqual([[], ['only b']]);
  });

  it('forwards payload bytes exactly as published', async () => {
    const client = await connect(1, 'user-bytes');
    const payload = new Uint8Array([0, 1, 0xff, 0xfe, 0xc3, 0x28, 0x0a, 0x7b]);
    mesh.backend.publish(subjects.pushUser('user-bytes'), payload);
    expect(await client.nextPush()).toEqual(payload);
  });
});

describe('addressing by session id alone', () => {
  it('pushes to and kills every connection of one session on every edge, and nothing else', async () => {
    const s1 = [await connect(0, 'user-sess', { jti: 'session-one' }), await connect(1, 'user-sess', { jti: 'session-one' })];
    const s2 = await connect(1, 'user-sess', { jti: 'session-two' });
    const stranger = await connect(0, 'someone-else', { jti: 'session-three' });

    mesh.backend.publish(subjects.pushSession('session-one'), bytes('to session one'));
    mesh.backend.publish(subjects.pushUser('user-sess'), bytes('sentinel-3'));
    mesh.backend.publish(subjects.pushUser('someone-else'), bytes('sentinel-3'));
    expect(await receivedBefore([...s1, s2, stranger], 'sentinel-3')).toEqual([['to session one'], ['to session one'], [], []]);

    mesh.backend.publish(subjects.killSession('session-one'), new Uint8Array(), { [Header.Reason]: 'password changed' });
    const closes = await Promise.all(s1.map((c) => c.waitForClose()));
    expect(closes).toEqual([
      { code: 4005, reason: 'password changed' },
      { code: 4005, reason: 'password changed' },
    ]);
    // The other session of the same user and the other user stay connected and reachable.
    mesh.backend.publish(subjects.pushUser('user-sess'), bytes('still here'));
    mesh.backend.publish(subjects.pushUser('someone-else'), bytes('still here'));
    expect(text(await s2.nextPush())).toBe('sentinel-3');
    expect(text(await s2.nextPush())).toBe('still here');
    expect(text(await stranger.nextPush())).toBe('sentinel-3');
    expect(text(await stranger.nextPush())).toBe('still here');
    expect(s2.closed).toBeUndefined();
  });
});

describe('ids that look like subject syntax', () => {
  const ids = ['a', 'a.b', 'a.*', 'a.>', '*', '>', 'with space', 'Zoë 🙂 用户', 'alice@example.com', 'a/b\\c', 'YQ'];

  it('reach exactly their own user and never another one', async () => {
    const clients = [];
    for (const [i, id] of ids.entries()) clients.push(await connect(i % 2, id, { jti: `sess ${id}`, client: `tab ${id}` }));
    clients.forEach((c, i) => expect(c.welcome).toMatchObject({ user: ids[i], session: `sess ${ids[i]}`, client: `tab ${ids[i]}` }));
    for (const id of ids) pushUser(id, `for ${id}`);
    for (const id of ids) mesh.backend.publish(subjects.pushSession(`sess ${id}`), bytes(`session of ${id}`));
    for (const id of ids) pushUser(id, 'sentinel-4');
    const got = await receivedBefore(clients, 'sentinel-4');
    expect(got).toEqual(ids.map((id) => [`for ${id}`, `session of ${id}`]));
  });
});

describe('blacklist through the admin API', () => {
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${mesh.adminUrl()}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    });

  it('closes the session everywhere and refuses it until the TTL expires', async () => {
    const victims = [await connect(0, 'user-bl', { jti: 'bad-session' }), await connect(1, 'user-bl', { jti: 'bad-session' })];
    const survivor = await connect(1, 'user-bl', { jti: 'good-session' });
    const res = await admin('/v1/blacklist/sessions', { method: 'POST', body: JSON.stringify({ sessionId: 'bad-session', ttlSeconds: 2, reason: 'stolen' }) });
    expect(res.status).toBe(201);
    const entry = (await res.json()) as { expiresAt: number };
    const closes = await Promise.all(victims.map((c) => c.waitForClose()));
    expect(closes.map((c) => c.code)).toEqual([4004, 4004]);
    expect(survivor.closed).toBeUndefined();

    const token = await mintToken({ sub: 'user-bl', jti: 'bad-session' });
    const refused = await connectClient({ url: mesh.edgeUrl(1), token });
    expect(refused.refused?.status).toBe(403);
    expect(refused.refused?.body).toMatch(/SESSION_BLACKLISTED/);

    // After the TTL the same session connects again (polling, bounded).
    const back = await eventually(async () => {
      const c = await connectClient({ url: mesh.edgeUrl(0), token });
      if (c.welcome) return c;
      expect(c.refused?.status).toBe(403);
      return undefined;
    }, 'the session to be accepted after its TTL', 10_000);
    open.push(back);
    expect(Date.now()).toBeGreaterThanOrEqual(entry.expiresAt);
  });

  it('refuses admin calls without valid credentials', async () => {
    const none = await fetch(`${mesh.adminUrl()}/v1/blacklist`);
    expect(none.status).toBe(401);
    const wrong = await fetch(`${mesh.adminUrl()}/v1/users/x/push`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: 'x' });
    expect(wrong.status).toBe(401);
    const userJwt = await mintToken({ sub: 'mallory', roles: ['user'] });
    const noRole = await fetch(`${mesh.adminUrl()}/v1/blacklist`, { headers: { authorization: `Bearer ${userJwt}` } });
    expect(noRole.status).toBe(403);
  });
});
