import { readFileSync } from 'node:fs';
import { MemoryBroker, type Bus, type BusMessage } from '@session-mesh/bus';
import { blacklistKey, decodeId, EVENT_VERSION, Header, parseBlacklistEntry } from '@session-mesh/protocol';
import { loadRegistryConfig, startRegistry, type RegistryHandle } from '@session-mesh/registry';
import { createLogger, Health } from '@session-mesh/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mintToken } from '../../../test/support/tokens.js';
import { tokenFingerprint } from '../src/auth.js';
import { admin, ADMIN_TOKEN, bearer, buildTestAdmin, copy, createPushStream, subjects, type TestAdmin } from './support/admin-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

const ODD_IDS = ['alice/bob', 'ops@example.com', 'with space', 'ünïcødé ✓', 'star*', 'gt>', 'dot.ted', '100%', 'q?a#b'];

describe('admin API on the memory bus', () => {
  let broker: MemoryBroker;
  let bus: Bus;
  let observer: Bus;
  let t: TestAdmin;
  let received: BusMessage[];

  beforeEach(async () => {
    broker = new MemoryBroker();
    bus = broker.connect('admin');
    observer = broker.connect('observer');
    received = [];
    for (const pattern of ['mesh.kill.>', 'mesh.push.>']) observer.subscribe(pattern, (msg) => received.push(copy(msg)));
    await observer.flush();
    t = await buildTestAdmin(bus);
  });

  afterEach(async () => {
    await t.app.close();
    await bus.close();
    await observer.close();
  });

  async function published(count: number): Promise<BusMessage[]> {
    await bus.flush();
    await waitFor(() => received.length >= count, { what: `${count} published message(s)` });
    return received;
  }

  describe('authentication', () => {
    it('refuses requests without or with bad credentials (401) and JWTs without the admin role (403)', async () => {
      const none = await t.app.inject({ url: '/v1/blacklist' });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.json()).toMatchObject({ error: 'unauthorized' });
      for (const headers of [bearer('wrong-token-0123456789abcdef'), { authorization: ADMIN_TOKEN }, { authorization: `Basic ${ADMIN_TOKEN}` }]) {
        expect((await t.app.inject({ url: '/v1/blacklist', headers })).statusCode).toBe(401);
      }
      const forged = await mintToken({ sub: 'eve', roles: ['mesh-admin'], secret: 'another-secret-that-is-long-enough-1234' });
      expect((await t.app.inject({ url: '/v1/blacklist', headers: bearer(forged) })).statusCode).toBe(401);
      const user = await mintToken({ sub: 'bob', roles: ['user'] });
      const forbidden = await t.app.inject({ url: '/v1/blacklist', headers: bearer(user) });
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json()).toMatchObject({ error: 'forbidden' });
      // Refused before anything else happens: no audit line, no publish.
      const kill = await t.app.inject({ method: 'POST', url: '/v1/users/alice/kill', headers: bearer(user) });
      expect(kill.statusCode).toBe(403);
      expect(t.logs.audits()).toEqual([]);
    });

    it('accepts a static admin token and an admin-role JWT, naming the actor in audit lines', async () => {
      expect((await t.app.inject({ url: '/v1/blacklist', headers: admin })).statusCode).toBe(200);
      const jwt = await mintToken({ sub: 'ops@example.com', roles: ['mesh-admin'], jti: null });
      expect((await t.app.inject({ url: '/v1/blacklist', headers: bearer(jwt) })).statusCode).toBe(200);
      await t.app.inject({ method: 'POST', url: '/v1/sessions/s1/kill', headers: bearer(jwt) });
      await t.app.inject({ method: 'POST', url: '/v1/sessions/s2/kill', headers: admin });
      expect(t.logs.audits().map((a) => a['actor'])).toEqual(['jwt:ops@example.com', tokenFingerprint(ADMIN_TOKEN)]);
      expect(t.logs.raw.join('\n')).not.toContain(ADMIN_TOKEN);
      expect(t.logs.raw.join('\n')).not.toContain(jwt);
    });

    it('registers its readiness on the Health it was given, and serves no probes on the API port', async () => {
      expect(t.health.checkNames().sort()).toEqual(['blacklist', 'bus']);
      expect(t.health.readiness()).toEqual({ ready: true, failing: {} });
      t.health.startDraining();
      expect(t.health.readiness()).toEqual({ ready: false, failing: { shutdown: 'draining' } });
      // Probes live on the internal ops port (startOpsServer), never on the API port.
      for (const url of ['/healthz', '/readyz']) expect((await t.app.inject({ url })).statusCode).toBe(404);
    });
  });

  describe('blacklist', () => {
    it('adds, reads, lists and removes session and user entries in the KV bucket', async () => {
      const s = await t.app.inject({ method: 'POST', url: '/v1/blacklist/sessions', headers: admin, payload: { sessionId: 'sess/1', ttlSeconds: 60, reason: 'stolen' } });
      expect(s.statusCode).toBe(201);
      expect(s.json()).toMatchObject({ kind: 'session', id: 'sess/1', reason: 'stolen' });
      expect(s.json().expiresAt - s.json().createdAt).toBe(60_000);

      const u = await t.app.inject({
        method: 'POST',
        url: '/v1/blacklist/users',
        headers: admin,
        payload: { userId: 'ops@example.com', ttlSeconds: 3600, reason: 'log out everywhere', issuedBefore: '2026-01-02T03:04:05.000Z' },
      });
      expect(u.statusCode).toBe(201);
      expect(u.json().issuedBefore).toBe(Date.parse('2026-01-02T03:04:05.000Z'));
      const u2 = await t.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'mallory', ttlSeconds: 10, reason: 'abuse', issuedBefore: 1234 } });
      expect(u2.json()).toMatchObject({ issuedBefore: 1234 });

      // What edges read: the KV value under blacklistKey, with expiry inside.
      const kv = await bus.kv('mesh_blacklist');
      const stored = await kv.get(blacklistKey('session', 'sess/1'));
      expect(parseBlacklistEntry(stored!.value!)).toEqual(s.json());

      expect((await t.app.inject({ url: '/v1/blacklist/sessions/sess%2F1', headers: admin })).json()).toEqual(s.json());
      expect((await t.app.inject({ url: '/v1/blacklist/users/ops%40example.com', headers: admin })).json()).toEqual(u.json());
      const list = (await t.app.inject({ url: '/v1/blacklist', headers: admin })).json();
      expect(list.entries.map((e: { kind: string; id: string }) => `${e.kind}:${e.id}`)).toEqual(['session:sess/1', 'user:mallory', 'user:ops@example.com']);
      const users = (await t.app.inject({ url: '/v1/blacklist?kind=user', headers: admin })).json();
      expect(users.entries).toHaveLength(2);

      const del = await t.app.inject({ method: 'DELETE', url: '/v1/blacklist/sessions/sess%2F1', headers: admin });
      expect(del.statusCode).toBe(204);
      expect((await t.app.inject({ url: '/v1/blacklist/sessions/sess%2F1', headers: admin })).statusCode).toBe(404);
      const again = await t.app.inject({ method: 'DELETE', url: '/v1/blacklist/sessions/sess%2F1', headers: admin });
      expect(again.statusCode).toBe(404);
      expect(again.json()).toMatchObject({ error: 'not_found' });
      expect((await t.app.inject({ method: 'DELETE', url: '/v1/blacklist/users/nobody', headers: admin })).statusCode).toBe(404);
      expect(await kv.get(blacklistKey('session', 'sess/1'))).toBeUndefined();

      expect(t.logs.audits().map((a) => [a['action'], a['target']])).toEqual([
        ['blacklist.add', { kind: 'session', id: 'sess/1' }],
        ['blacklist.add', { kind: 'user', id: 'ops@example.com' }],
        ['blacklist.add', { kind: 'user', id: 'mallory' }],
        ['blacklist.remove', { kind: 'session', id: 'sess/1' }],
      ]);
    });

    it('expires entries by the time in the value, and the janitor deletes their keys', async () => {
      const start = Date.now();
      t.clock.t = start;
      await t.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'u1', ttlSeconds: 1, reason: 'brief' } });
      await t.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'u2', ttlSeconds: 3600, reason: 'long' } });
      expect((await t.app.inject({ url: '/v1/blacklist/users/u1', headers: admin })).statusCode).toBe(200);
      t.clock.t = start + 1_000;
      expect((await t.app.inject({ url: '/v1/blacklist/users/u1', headers: admin })).statusCode).toBe(404);
      const list = (await t.app.inject({ url: '/v1/blacklist', headers: admin })).json();
      expect(list.entries.map((e: { id: string }) => e.id)).toEqual(['u2']);
      const kv = await bus.kv('mesh_blacklist');
      await waitFor(async () => (await kv.get(blacklistKey('user', 'u1'))) === undefined, { what: 'the janitor to delete the expired key' });
      expect(await kv.get(blacklistKey('user', 'u2'))).toBeDefined();
    });

    it('validates bodies and ids, naming the field', async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ sessionId: 's', ttlSeconds: 0, reason: 'r' }, /ttlSeconds/],
        [{ sessionId: 's', ttlSeconds: 400 * 86400, reason: 'r' }, /ttlSeconds/],
        [{ sessionId: 's', ttlSeconds: 1.5, reason: 'r' }, /ttlSeconds/],
        [{ sessionId: 's', ttlSeconds: 10 }, /reason/],
        [{ sessionId: 'bad\u0001id', ttlSeconds: 10, reason: 'r' }, /sessionId must not contain control characters/],
        [{ sessionId: '', ttlSeconds: 10, reason: 'r' }, /sessionId/],
        [{ sessionId: 's', ttlSeconds: 10, reason: 'r', extra: 1 }, /extra|additional/i],
      ];
      for (const [payload, message] of cases) {
        const r = await t.app.inject({ method: 'POST', url: '/v1/blacklist/sessions', headers: admin, payload });
        expect(r.statusCode, JSON.stringify(payload)).toBe(400);
        expect(r.json().error).toBe('bad_request');
        expect(r.json().message).toMatch(message);
      }
      const when = await t.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'u', ttlSeconds: 10, reason: 'r', issuedBefore: 'yesterday' } });
      expect(when.statusCode).toBe(400);
      expect(when.json().message).toMatch(/issuedBefore/);
      const badPath = await t.app.inject({ url: '/v1/blacklist/users/a%00b', headers: admin });
      expect(badPath.statusCode).toBe(400);
      expect(badPath.json().message).toBe('params.userId must not contain control characters');
      const badEncoding = await t.app.inject({ url: '/v1/blacklist/users/%E2%9C', headers: admin });
      expect(badEncoding.statusCode).toBe(400);
      expect(badEncoding.json()).toMatchObject({ error: 'bad_request' });
      const union = await t.app.inject({ url: '/v1/blacklist?kind=device', headers: admin });
      expect(union.json().message).toBe('querystring.kind must be one of "session", "user"');
      const longId = await t.app.inject({ url: `/v1/blacklist/users/${'%C3%A9'.repeat(300)}`, headers: admin });
      expect(longId.statusCode).toBe(400);
      expect(longId.json().message).toMatch(/userId/);
    });
  });

  describe('kill', () => {
    it('publishes kills on the right subjects with encoded Mesh-Client and plain Mesh-Reason headers', async () => {
      const calls: Array<[string, unknown]> = [
        ['/v1/users/alice%2Fbob/kill', { reason: 'policy' }],
        ['/v1/sessions/s%201/kill', undefined],
        ['/v1/users/alice%2Fbob/clients/tab%3E1/kill', { reason: 'tab closed' }],
        ['/v1/connections/conn*1/kill', {}],
        ['/v1/users/carol/kill', { sessionId: 'sess.9' }],
      ];
      for (const [url, payload] of calls) {
        const r = await t.app.inject({ method: 'POST', url, headers: admin, ...(payload !== undefined ? { payload: payload as object } : {}) });
        expect(r.statusCode, url).toBe(202);
        expect(r.json().status).toBe('accepted');
      }
      const msgs = await published(5);
      expect(msgs.map((m) => m.subject)).toEqual([
        subjects.killUser('alice/bob'),
        subjects.killSession('s 1'),
        subjects.killUser('alice/bob'),
        subjects.killConnection('conn*1'),
        subjects.killUser('carol'),
      ]);
      expect(msgs[0]!.headers?.get(Header.Reason)).toBe('policy');
      expect(msgs[1]!.headers?.has(Header.Reason) ?? false).toBe(false);
      expect(decodeId(msgs[2]!.headers!.get(Header.Client))).toBe('tab>1');
      expect(msgs[2]!.headers!.get(Header.Reason)).toBe('tab closed');
      expect(decodeId(msgs[4]!.headers!.get(Header.Session))).toBe('sess.9');
      expect(t.logs.audits().map((a) => a['action'])).toEqual(['kill', 'kill', 'kill', 'kill', 'kill']);
      expect(t.logs.audits()[2]!['target']).toEqual({ kind: 'client', userId: 'alice/bob', clientId: 'tab>1' });
    });

    it('refuses reasons that cannot travel in a header or a close frame', async () => {
      for (const reason of ['caf\u00e9', 'line\nbreak', 'x'.repeat(124)]) {
        const r = await t.app.inject({ method: 'POST', url: '/v1/users/alice/kill', headers: admin, payload: { reason } });
        expect(r.statusCode).toBe(400);
        expect(r.json().message).toMatch(/reason/);
      }
      await bus.flush();
      expect(received).toEqual([]);
    });

    it('decodes arbitrary ids from paths', async () => {
      for (const id of ODD_IDS) {
        const r = await t.app.inject({ method: 'POST', url: `/v1/users/${encodeURIComponent(id)}/kill`, headers: admin });
        expect(r.statusCode, id).toBe(202);
      }
      const msgs = await published(ODD_IDS.length);
      expect(msgs.map((m) => m.subject)).toEqual(ODD_IDS.map((id) => subjects.killUser(id)));
    });
  });

  describe('push', () => {
    it('publishes the raw body byte-for-byte whatever its content type', async () => {
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const json = '{ "b": 1,   "a": [2] }';
      const r1 = await t.app.inject({ method: 'POST', url: '/v1/users/alice%2Fbob/push', headers: { ...admin, 'content-type': 'application/octet-stream' }, payload: binary });
      expect(r1.statusCode).toBe(202);
      const r2 = await t.app.inject({ method: 'POST', url: '/v1/sessions/s1/push', headers: { ...admin, 'content-type': 'application/json' }, payload: json });
      expect(r2.statusCode).toBe(202);
      const r3 = await t.app.inject({ method: 'POST', url: '/v1/users/alice/clients/tab%201/push', headers: { ...admin, 'content-type': 'text/plain; charset=utf-8' }, payload: 'héllo' });
      expect(r3.statusCode).toBe(202);
      const r4 = await t.app.inject({ method: 'POST', url: '/v1/broadcast', headers: admin, payload: Buffer.from([0, 1, 2]) });
      expect(r4.statusCode).toBe(202);
      const r5 = await t.app.inject({ method: 'POST', url: '/v1/users/alice/push?sessionId=s%2F2', headers: { ...admin, 'content-type': 'application/x-custom' }, payload: 'x' });
      expect(r5.statusCode).toBe(202);
      const r6 = await t.app.inject({ method: 'POST', url: '/v1/broadcast', headers: admin });
      expect(r6.statusCode).toBe(202);

      const msgs = await published(6);
      expect(msgs.map((m) => m.subject)).toEqual([
        subjects.pushUser('alice/bob'),
        subjects.pushSession('s1'),
        subjects.pushUser('alice'),
        subjects.pushBroadcast(),
        subjects.pushUser('alice'),
        subjects.pushBroadcast(),
      ]);
      expect(Buffer.from(msgs[0]!.data).equals(binary)).toBe(true);
      expect(Buffer.from(msgs[1]!.data).toString('utf8')).toBe(json);
      expect(Buffer.from(msgs[2]!.data).toString('utf8')).toBe('héllo');
      expect(decodeId(msgs[2]!.headers!.get(Header.Client))).toBe('tab 1');
      expect([...msgs[3]!.data]).toEqual([0, 1, 2]);
      expect(decodeId(msgs[4]!.headers!.get(Header.Session))).toBe('s/2');
      expect(msgs[5]!.data.length).toBe(0);
      const audits = t.logs.audits();
      expect(audits.map((a) => a['action'])).toEqual(['push', 'push', 'push', 'push', 'push', 'push']);
      expect(audits[0]).toMatchObject({ bytes: 256, contentType: 'application/octet-stream' });
      expect(t.logs.raw.join('\n')).not.toContain('héllo');
    });

    it('refuses bodies over MESH_ADMIN_MAX_PUSH_BYTES with 413', async () => {
      const ok = await t.app.inject({ method: 'POST', url: '/v1/broadcast', headers: { ...admin, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(1024) });
      expect(ok.statusCode).toBe(202);
      const big = await t.app.inject({ method: 'POST', url: '/v1/broadcast', headers: { ...admin, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(1025) });
      expect(big.statusCode).toBe(413);
      expect(big.json()).toMatchObject({ error: 'payload_too_large' });
      await published(1);
      expect(received).toHaveLength(1);
    });
  });

  describe('durable push', () => {
    const post = (url: string, payload?: string | Buffer, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url, headers: { ...admin, 'content-type': 'application/octet-stream', ...headers }, ...(payload !== undefined ? { payload } : {}) });

    it('answers 503 durable_stream_missing when no stream stores the subject, and audits nothing', async () => {
      const r = await post('/v1/users/alice/push?durable=true', 'x');
      expect(r.statusCode).toBe(503);
      expect(r.json()).toEqual({ error: 'durable_stream_missing', message: expect.stringContaining(`no stream stores ${subjects.durableUser('alice')}`) });
      expect(r.json().message).toContain('MESH_DURABLE=false');
      expect(t.logs.audits()).toEqual([]);
    });

    it('stores the push, answers 201 with its position, and the stream republishes it with the narrowing headers', async () => {
      await createPushStream(bus);
      const binary = Buffer.from([0x00, 0xff, 0x05, 0x7b]);
      const r1 = await post('/v1/users/alice%2Fbob/push?sessionId=s%2F1&durable=true', binary);
      expect(r1.statusCode, r1.body).toBe(201);
      expect(r1.json()).toEqual({ status: 'stored', subject: subjects.durableUser('alice/bob'), stream: 'MESH_PUSH', position: 1, duplicate: false });
      const r2 = await post('/v1/sessions/s1/push?durable=true', 'to the session');
      expect(r2.json()).toMatchObject({ subject: subjects.durableSession('s1'), position: 2, duplicate: false });
      const r3 = await post('/v1/users/alice/clients/tab%201/push?durable=true', undefined);
      expect(r3.json()).toMatchObject({ subject: subjects.durableUser('alice'), position: 3 });
      // durable=false is the at-most-once path (an Idempotency-Key is ignored there): 202, no position.
      const r4 = await post('/v1/users/alice/push?durable=false', 'plain', { 'idempotency-key': 'k1' });
      expect(r4.statusCode).toBe(202);
      expect(r4.json()).toEqual({ status: 'accepted', subject: subjects.pushUser('alice') });

      const msgs = await published(4);
      const byText = (m: BusMessage) => Buffer.from(m.data);
      expect(msgs.map((m) => [m.subject, m.headers?.get('Nats-Sequence') ?? ''])).toEqual([
        [subjects.pushUser('alice/bob'), '1'],
        [subjects.pushSession('s1'), '2'],
        [subjects.pushUser('alice'), '3'],
        [subjects.pushUser('alice'), ''],
      ]);
      expect(byText(msgs[0]!).equals(binary)).toBe(true);
      expect(decodeId(msgs[0]!.headers!.get(Header.Session))).toBe('s/1');
      expect(byText(msgs[1]!).toString()).toBe('to the session');
      expect(decodeId(msgs[2]!.headers!.get(Header.Client))).toBe('tab 1');
      expect(msgs[2]!.data.length).toBe(0);
      for (const m of msgs) expect(Number(m.headers!.get('Mesh-Published-At'))).toBeGreaterThan(Date.now() - 60_000);

      const audits = t.logs.audits();
      expect(audits.map((a) => [a['action'], a['position'], a['durable']])).toEqual([
        ['push', 1, true],
        ['push', 2, true],
        ['push', 3, true],
        ['push', undefined, undefined],
      ]);
      expect(audits[0]).toMatchObject({ target: { kind: 'user', id: 'alice/bob', sessionId: 's/1' }, stream: 'MESH_PUSH', duplicate: false, bytes: 4 });
    });

    it('stores a push once per Idempotency-Key: the retry answers duplicate with the first position', async () => {
      await createPushStream(bus);
      const first = await post('/v1/users/alice/push?durable=true', 'invoice 42', { 'idempotency-key': 'inv-42' });
      const retry = await post('/v1/users/alice/push?durable=true', 'invoice 42', { 'idempotency-key': 'inv-42' });
      const other = await post('/v1/users/alice/push?durable=true', 'invoice 43', { 'idempotency-key': 'inv-43' });
      expect([first.statusCode, retry.statusCode, other.statusCode]).toEqual([201, 201, 201]);
      expect([first.json(), retry.json(), other.json()].map((b) => [b.position, b.duplicate])).toEqual([
        [1, false],
        [1, true],
        [2, false],
      ]);
      const msgs = await published(2);
      expect(msgs.map((m) => Buffer.from(m.data).toString())).toEqual(['invoice 42', 'invoice 43']);
      expect(t.logs.audits().map((a) => [a['idempotencyKey'], a['duplicate']])).toEqual([
        ['inv-42', false],
        ['inv-42', true],
        ['inv-43', false],
      ]);
    });

    it('refuses a durable broadcast and bad flag or key values with 400', async () => {
      await createPushStream(bus);
      const cases: Array<[string, Record<string, string>, RegExp]> = [
        ['/v1/broadcast?durable=true', {}, /durable broadcast is not supported/],
        ['/v1/broadcast?durable=false', {}, /durable broadcast is not supported/],
        ['/v1/users/alice/push?durable=yes', {}, /querystring\.durable must be one of "true", "false"/],
        ['/v1/users/alice/push?durable=true', { 'idempotency-key': 'a\u00e9' }, /headers\.idempotency-key must be printable ASCII/],
        ['/v1/users/alice/push?durable=true', { 'idempotency-key': 'k'.repeat(257) }, /headers\.idempotency-key/],
      ];
      for (const [url, headers, message] of cases) {
        const r = await post(url, 'x', headers);
        expect(r.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(400);
        expect(r.json().error).toBe('bad_request');
        expect(r.json().message).toMatch(message);
      }
      // Nothing was published or stored.
      await bus.flush();
      expect(received).toEqual([]);
      expect((await (await bus.stream('MESH_PUSH')).state()).last).toBe(0);
      expect(t.logs.audits()).toEqual([]);
    });
  });

  describe('presence', () => {
    it('answers 503 when no registry replica is there, or when it does not answer in time', async () => {
      const none = await t.app.inject({ url: '/v1/users/alice/connections', headers: admin });
      expect(none.statusCode).toBe(503);
      expect(none.json()).toMatchObject({ error: 'registry_unavailable' });
      const silent = broker.connect('silent-registry');
      silent.subscribe('mesh.registry.>', () => undefined, { queue: 'mesh-registry' });
      await silent.flush();
      const slow = await t.app.inject({ url: '/v1/stats', headers: admin });
      expect(slow.statusCode).toBe(503);
      expect(slow.json()).toMatchObject({ error: 'registry_timeout' });
      expect(slow.json().message).toMatch(/300 ms/);
      await silent.close();
    });

    it('answers 502 when the registry reply is not what it should be', async () => {
      const odd = broker.connect('odd-registry');
      const enc = new TextEncoder();
      odd.subscribe(
        'mesh.registry.>',
        (msg) => {
          const body = msg.subject.endsWith('.stats') ? { error: 'internal', message: 'boom' } : { connections: 'nope' };
          odd.respond(msg, enc.encode(JSON.stringify(body)));
        },
        { queue: 'mesh-registry' },
      );
      await odd.flush();
      const bad = await t.app.inject({ url: '/v1/users/alice/connections', headers: admin });
      expect(bad.statusCode).toBe(502);
      expect(bad.json()).toMatchObject({ error: 'registry_bad_reply' });
      const refused = await t.app.inject({ url: '/v1/stats', headers: admin });
      expect(refused.statusCode).toBe(502);
      expect(refused.json()).toEqual({ error: 'registry_error', message: 'the registry refused the query: boom' });
      await odd.close();
    });

    it('proxies user, session and stats queries to the registry', async () => {
      const registryBus = broker.connect('registry');
      let registry: RegistryHandle | undefined;
      try {
        registry = await startRegistry({
          bus: registryBus,
          logger: createLogger({ name: 'registry', level: 'silent' }),
          health: new Health(),
          subjects,
          // From variables, so the test holds whatever fields RegistryConfig has.
          config: loadRegistryConfig({
            MESH_LOG_LEVEL: 'silent',
            MESH_REGISTRY_ID: 'r',
            MESH_REGISTRY_SETTLE_MS: '0',
            MESH_REGISTRY_LEASE_TTL_MS: '2000',
            MESH_EDGE_LOST_AFTER_MS: '10000',
            MESH_OPS_PORT: '0',
          }),
        });
        await registry.whenReady();
        const edgeBus = broker.connect('edge');
        const now = Date.now();
        for (const [conn, user, session] of [
          ['c1', 'alice/bob', 's 1'],
          ['c2', 'alice/bob', 's2'],
          ['c3', 'carol', 's 1'],
        ] as const) {
          const event = { v: EVENT_VERSION, edge: 'edge-1', at: now, connection: { conn, user, session, client: 'tab', edge: 'edge-1', connectedAt: now, lastActivity: now } };
          edgeBus.publish(subjects.eventConnect(), new TextEncoder().encode(JSON.stringify(event)));
        }
        await waitFor(() => registry!.store.stats().connections === 3);

        const user = await t.app.inject({ url: '/v1/users/alice%2Fbob/connections', headers: admin });
        expect(user.statusCode).toBe(200);
        expect(user.json().connections.map((c: { conn: string }) => c.conn).sort()).toEqual(['c1', 'c2']);
        expect(user.json().connections[0]).toMatchObject({ user: 'alice/bob', edge: 'edge-1', client: 'tab' });
        const session = await t.app.inject({ url: '/v1/sessions/s%201/connections', headers: admin });
        expect(session.json().connections.map((c: { conn: string }) => c.conn).sort()).toEqual(['c1', 'c3']);
        const stats = await t.app.inject({ url: '/v1/stats', headers: admin });
        expect(stats.json()).toMatchObject({ users: 2, sessions: 2, connections: 3, edges: [{ edge: 'edge-1', connections: 3 }] });
        await edgeBus.close();
      } finally {
        await registry?.stop();
        await registryBus.close();
      }
    });
  });

  describe('bus outage', () => {
    it('answers 503 instead of queueing publishes or waiting on the KV while the bus is down', async () => {
      const lonely = broker.connect('admin-2');
      const t2 = await buildTestAdmin(lonely);
      try {
        await lonely.close();
        for (const [method, url] of [
          ['POST', '/v1/users/alice/kill'],
          ['POST', '/v1/broadcast'],
          ['GET', '/v1/blacklist'],
          ['GET', '/v1/stats'],
        ] as const) {
          const r = await t2.app.inject({ method, url, headers: admin });
          expect(r.statusCode, url).toBe(503);
          expect(r.json().error).toBe('bus_unavailable');
        }
        expect(t2.health.readiness().failing).toMatchObject({ bus: 'bus disconnected' });
      } finally {
        await t2.app.close();
      }
    });
  });

  describe('OpenAPI', () => {
    it('serves an OpenAPI 3 document listing every route, identical to the published openapi.json', async () => {
      const r = await t.app.inject({ url: '/openapi.json' });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toMatch(/application\/json/);
      const doc = JSON.parse(r.body) as { openapi: string; paths: Record<string, Record<string, unknown>> };
      expect(doc.openapi).toMatch(/^3\./);
      const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      expect(operations.sort()).toEqual(
        [
          'POST /v1/blacklist/sessions',
          'POST /v1/blacklist/users',
          'GET /v1/blacklist',
          'GET /v1/blacklist/sessions/{sessionId}',
          'DELETE /v1/blacklist/sessions/{sessionId}',
          'GET /v1/blacklist/users/{userId}',
          'DELETE /v1/blacklist/users/{userId}',
          'POST /v1/users/{userId}/kill',
          'POST /v1/sessions/{sessionId}/kill',
          'POST /v1/users/{userId}/clients/{clientId}/kill',
          'POST /v1/connections/{connectionId}/kill',
          'POST /v1/users/{userId}/push',
          'POST /v1/sessions/{sessionId}/push',
          'POST /v1/users/{userId}/clients/{clientId}/push',
          'POST /v1/broadcast',
          'GET /v1/users/{userId}/connections',
          'GET /v1/sessions/{sessionId}/connections',
          'GET /v1/stats',
        ].sort(),
      );
      const published = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')) as unknown;
      expect(published, 'services/admin/openapi.json is stale: run `npm run -w @session-mesh/admin openapi`').toEqual(doc);
    });
  });
});
