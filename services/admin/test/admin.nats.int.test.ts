import { createBus, type Bus, type BusMessage } from '@session-mesh/bus';
import { BLACKLIST_HISTORY, blacklistKey, decodeId, Header, parseBlacklistEntry } from '@session-mesh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { admin, buildTestAdmin, copy, subjects, type TestAdmin } from './support/admin-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

describe('admin API against a real nats-server', () => {
  let server: NatsServerHandle;
  let bus: Bus;
  let other: Bus;
  let t: TestAdmin;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    bus = await createBus({ natsUrl: server.url, name: 'admin' });
    other = await createBus({ natsUrl: server.url, name: 'other' });
    t = await buildTestAdmin(bus);
  });

  afterAll(async () => {
    await t?.app.close();
    await bus?.close();
    await other?.close();
    await server?.stop();
  });

  it('round-trips blacklist entries through the JetStream KV bucket', async () => {
    const post = await t.app.inject({
      method: 'POST',
      url: '/v1/blacklist/users',
      headers: admin,
      payload: { userId: 'alice/bob', ttlSeconds: 120, reason: 'compromised', issuedBefore: '2026-05-01T00:00:00Z' },
    });
    expect(post.statusCode).toBe(201);

    // What an edge sees: another connection reading the same bucket.
    const kv = await other.kv('mesh_blacklist');
    const entry = await kv.get(blacklistKey('user', 'alice/bob'));
    expect(parseBlacklistEntry(entry!.value!)).toEqual(post.json());
    expect(post.json().issuedBefore).toBe(Date.parse('2026-05-01T00:00:00Z'));

    expect((await t.app.inject({ url: '/v1/blacklist/users/alice%2Fbob', headers: admin })).json()).toEqual(post.json());
    expect((await t.app.inject({ url: '/v1/blacklist', headers: admin })).json().entries).toHaveLength(1);
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/blacklist/users/alice%2Fbob', headers: admin })).statusCode).toBe(204);
    expect(await kv.get(blacklistKey('user', 'alice/bob'))).toBeUndefined();
    expect((await t.app.inject({ url: '/v1/blacklist', headers: admin })).json().entries).toEqual([]);
  });

  it('publishes kills and pushes other NATS clients receive, and reports a missing registry as 503', async () => {
    const got: BusMessage[] = [];
    other.subscribe('mesh.kill.>', (m) => got.push(copy(m)));
    other.subscribe('mesh.push.>', (m) => got.push(copy(m)));
    await other.flush();
    expect((await t.app.inject({ method: 'POST', url: '/v1/users/u%201/clients/tab%2F2/kill', headers: admin, payload: { reason: 'bye' } })).statusCode).toBe(202);
    const bytes = Buffer.from([0xff, 0x00, 0x7b]);
    expect((await t.app.inject({ method: 'POST', url: '/v1/sessions/s.1/push', headers: { ...admin, 'content-type': 'application/octet-stream' }, payload: bytes })).statusCode).toBe(202);
    await waitFor(() => got.length === 2);
    expect(got[0]!.subject).toBe(subjects.killUser('u 1'));
    expect(decodeId(got[0]!.headers!.get(Header.Client))).toBe('tab/2');
    expect(got[0]!.headers!.get(Header.Reason)).toBe('bye');
    expect(got[1]!.subject).toBe(subjects.pushSession('s.1'));
    expect(Buffer.from(got[1]!.data).equals(bytes)).toBe(true);

    const stats = await t.app.inject({ url: '/v1/stats', headers: admin });
    expect(stats.statusCode).toBe(503);
    expect(stats.json().error).toMatch(/^registry_/);
  });

  it('owns the blacklist bucket: creates it with MESH_KV_REPLICAS and history 1, refuses one with other settings (unready, no crash)', async () => {
    const settings = await (await other.kv('mesh_blacklist', { create: false })).settings();
    expect(settings).toEqual({ replicas: 1, history: BLACKLIST_HISTORY });

    // A bucket someone else created with other settings: the admin says so and stays unready.
    await other.kv('odd_blacklist', { history: 5, create: true });
    const odd = await buildTestAdmin(bus, { blacklistBucket: 'odd_blacklist' }, { waitLoaded: false });
    try {
      const why = await waitFor(() => {
        const r = odd.health.readiness();
        return r.failing['blacklist']?.includes('history') ? r.failing['blacklist'] : undefined;
      });
      expect(why).toMatch(/odd_blacklist.*history 5 \(expected 1\)/);
      expect(odd.logs.lines.some((l) => l['level'] === 50 && String(l['msg']).includes('other settings'))).toBe(true);
      const list = await odd.app.inject({ url: '/v1/blacklist', headers: admin });
      expect(list.statusCode).toBe(503);
      expect(list.json()).toMatchObject({ error: 'kv_unavailable' });
    } finally {
      await odd.app.close();
    }
  });
});
