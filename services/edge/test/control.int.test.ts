import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '@session-mesh/bus';
import { blacklistKey, decodeId, encodeId, Header, type BlacklistEntry } from '@session-mesh/protocol';
import { mintToken } from '../../../test/support/tokens.js';
import type { MeshClient } from '../../../test/support/ws-client.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

const enc = new TextEncoder();

async function tabOf(t: TestEdge, user: string, session: string, client: string, roles: string[] = []): Promise<MeshClient> {
  const c = await t.connect({ token: await mintToken({ sub: user, jti: session, roles }), client });
  expect(c.welcome, c.refused?.body).toBeDefined();
  return c;
}

describe('kills', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge();
  });
  afterAll(() => t.stop());

  function kill(subject: string, headers: Record<string, string> = {}) {
    t.bus.publish(subject, new Uint8Array(0), Object.keys(headers).length ? headers : undefined);
  }

  it('kills a user (all tabs) and nothing else, with the reason', async () => {
    const a1 = await tabOf(t, 'k-a', 's1', 'c1');
    const a2 = await tabOf(t, 'k-a', 's2', 'c2');
    const b = await tabOf(t, 'k-b', 's3', 'c3');
    kill(t.subjects.killUser('k-a'), { [Header.Reason]: 'fraud \t detected\u0001 ✓' });
    expect(await a1.waitForClose()).toEqual({ code: 4005, reason: 'fraud detected' });
    expect((await a2.waitForClose()).code).toBe(4005);
    t.pushUser('k-b', 'still here');
    await b.nextPush();
    expect(b.closed).toBeUndefined();
    await b.close();
  });

  it('narrows a user kill by session and by client', async () => {
    const s1c1 = await tabOf(t, 'k-n', 's1', 'c1');
    const s1c2 = await tabOf(t, 'k-n', 's1', 'c2');
    const s2c3 = await tabOf(t, 'k-n', 's2', 'c3');
    kill(t.subjects.killUser('k-n'), { [Header.Session]: encodeId('s1'), [Header.Client]: encodeId('c2') });
    expect((await s1c2.waitForClose()).code).toBe(4005);
    kill(t.subjects.killUser('k-n'), { [Header.Session]: encodeId('s2') });
    expect((await s2c3.waitForClose()).code).toBe(4005);
    t.pushUser('k-n', 'alive');
    await s1c1.nextPush();
    expect(s1c1.closed).toBeUndefined();
    await s1c1.close();
  });

  it('kills a session, narrowed by client', async () => {
    const x = await tabOf(t, 'k-s1', 'ks', 'x');
    const y = await tabOf(t, 'k-s1', 'ks', 'y');
    const z = await tabOf(t, 'k-s1', 'other', 'z');
    kill(t.subjects.killSession('ks'), { [Header.Client]: encodeId('y') });
    expect((await y.waitForClose()).code).toBe(4005);
    kill(t.subjects.killSession('ks'));
    expect((await x.waitForClose()).reason).toBe('killed');
    t.pushUser('k-s1', 'alive');
    await z.nextPush();
    expect(z.closed).toBeUndefined();
    await z.close();
  });

  it('kills one connection by its id', async () => {
    const a = await tabOf(t, 'k-c', 's', 'same');
    const b = await tabOf(t, 'k-c', 's', 'same');
    kill(t.subjects.killConnection(a.welcome!.conn));
    expect((await a.waitForClose()).code).toBe(4005);
    kill(t.subjects.killConnection(`${t.edge.edgeId}-zzzz`));
    kill(t.subjects.killConnection('other-edge-1'));
    t.pushUser('k-c', 'alive');
    await b.nextPush();
    expect(b.closed).toBeUndefined();
    await b.close();
  });
});

describe('blacklist', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge();
  });
  afterAll(() => t.stop());

  async function blacklist(entry: Omit<BlacklistEntry, 'createdAt' | 'expiresAt'> & { expiresAt?: number }) {
    const kv = await t.bus.kv(t.config.blacklistBucket);
    const value: BlacklistEntry = { createdAt: Date.now(), expiresAt: Date.now() + 60_000, ...entry };
    await kv.put(blacklistKey(entry.kind, entry.id), enc.encode(JSON.stringify(value)));
    return () => kv.delete(blacklistKey(entry.kind, entry.id));
  }

  it('closes live connections of a blacklisted session and refuses new ones', async () => {
    const a = await tabOf(t, 'bl-u', 'bl-s', 'a');
    const other = await tabOf(t, 'bl-u', 'bl-other', 'b');
    const remove = await blacklist({ kind: 'session', id: 'bl-s', reason: 'stolen device' });
    expect(await a.waitForClose()).toEqual({ code: 4004, reason: 'stolen device' });
    const again = await t.connect({ token: await mintToken({ sub: 'bl-u', jti: 'bl-s' }) });
    expect(again.refused?.status).toBe(403);
    expect(JSON.parse(again.refused!.body)).toMatchObject({ error: 'SESSION_BLACKLISTED', closeCode: 4004 });
    expect(other.closed).toBeUndefined();
    await remove();
    await waitFor(() => t.edge.stats().blacklistEntries === 0);
    const back = await t.connect({ token: await mintToken({ sub: 'bl-u', jti: 'bl-s' }) });
    expect(back.welcome).toBeDefined();
    await Promise.all([other.close(), back.close()]);
  });

  it('closes only connections whose token predates issuedBefore for a user entry', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await t.connect({ token: await mintToken({ sub: 'bl-user', jti: 'a', iat: now - 100 }), client: 'old' });
    const fresh = await t.connect({ token: await mintToken({ sub: 'bl-user', jti: 'b', iat: now + 5 }), client: 'fresh' });
    await blacklist({ kind: 'user', id: 'bl-user', reason: 'logout everywhere', issuedBefore: (now - 10) * 1000 });
    expect((await old.waitForClose()).code).toBe(4004);
    t.pushUser('bl-user', 'alive');
    await fresh.nextPush();
    expect(fresh.closed).toBeUndefined();
    const oldAgain = await t.connect({ token: await mintToken({ sub: 'bl-user', iat: now - 100 }) });
    expect(oldAgain.refused?.status).toBe(403);
    await fresh.close();
  });

  it('ignores expired entries', async () => {
    await blacklist({ kind: 'user', id: 'bl-expired', reason: 'old', expiresAt: Date.now() - 1 });
    const c = await t.connect({ token: await mintToken({ sub: 'bl-expired' }) });
    expect(c.welcome).toBeDefined();
    await c.close();
  });
});

describe('refresh and expiry', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_JWT_CLOCK_TOLERANCE_S: '0' } });
  });
  afterAll(() => t.stop());

  it('accepts a fresh token for the same user and roles', async () => {
    const c = await tabOf(t, 'r-ok', 's', 'c', ['a', 'b']);
    const iat = Math.floor(Date.now() / 1000);
    c.sendRefresh(await mintToken({ sub: 'r-ok', jti: 'other-jti', roles: ['b', 'a'], iat, expiresInS: 7200 }));
    expect(await c.nextControl('refreshed')).toEqual({ type: 'refreshed', expiresAt: (iat + 7200) * 1000 });
    await c.close();
  });

  it('closes with ROLES_MISMATCH for other roles or another user', async () => {
    const c1 = await tabOf(t, 'r-mm', 's', 'c1', ['reader']);
    c1.sendRefresh(await mintToken({ sub: 'r-mm', roles: ['admin'] }));
    expect((await c1.waitForClose()).code).toBe(4003);
    const c2 = await tabOf(t, 'r-mm', 's', 'c2', ['reader']);
    c2.sendRefresh(await mintToken({ sub: 'someone-else', roles: ['reader'] }));
    expect((await c2.waitForClose()).code).toBe(4003);
  });

  it('answers REFRESH_FAILED for an invalid token and keeps the connection', async () => {
    const c = await tabOf(t, 'r-bad', 's', 'c');
    c.sendRefresh('garbage');
    expect(await c.nextControl('error')).toMatchObject({ type: 'error', code: 'REFRESH_FAILED' });
    t.pushUser('r-bad', 'alive');
    await c.nextPush();
    await c.close();
  });

  it('closes with TOKEN_EXPIRED when the token runs out, unless refreshed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expiring = await t.connect({ token: await mintToken({ sub: 'r-exp', jti: 's', iat: now, expiresInS: 2 }), client: 'x' });
    const refreshed = await t.connect({ token: await mintToken({ sub: 'r-exp', jti: 's', iat: now, expiresInS: 2 }), client: 'y' });
    expect(expiring.welcome?.expiresAt).toBe((now + 2) * 1000);
    refreshed.sendRefresh(await mintToken({ sub: 'r-exp', jti: 's', expiresInS: 600 }));
    await refreshed.nextControl('refreshed');
    expect(await expiring.waitForClose(6000)).toEqual({ code: 4002, reason: 'token expired' });
    expect(refreshed.closed).toBeUndefined();
    await refreshed.close();
  });
});

describe('client to backend', () => {
  let t: TestEdge;
  const inbound: BusMessage[] = [];
  beforeAll(async () => {
    t = await startTestEdge();
    t.bus.subscribe(t.subjects.inboundAll(), (msg) => {
      if (msg.reply !== undefined) {
        if (msg.subject.endsWith('.echo')) t.bus.respond(msg, msg.data);
        return;
      }
      inbound.push({ subject: msg.subject, data: msg.data.slice(), headers: msg.headers });
    });
    await t.bus.flush();
  });
  afterAll(() => t.stop());

  it('publishes client messages with identity headers from the token, not the client', async () => {
    const c = await tabOf(t, 'in-user', 'in-session', 'in-tab', ['writer', 'reader']);
    const payload = new Uint8Array([0x00, 0xff, 0x80, 0x41]);
    c.sendMessage('chat', payload);
    const msg = await waitFor(() => inbound.find((m) => m.subject === `${t.config.subjectPrefix}.in.chat`));
    expect(Buffer.from(msg.data).toString('hex')).toBe('00ff8041');
    const h = msg.headers!;
    expect(decodeId(h.get(Header.User))).toBe('in-user');
    expect(decodeId(h.get(Header.Session))).toBe('in-session');
    expect(decodeId(h.get(Header.Client))).toBe('in-tab');
    expect(decodeId(h.get(Header.Connection))).toBe(c.welcome!.conn);
    expect(decodeId(h.get(Header.Edge))).toBe(t.edge.edgeId);
    expect(JSON.parse(h.get(Header.Roles))).toEqual(['reader', 'writer']);
    await c.close();
  });

  it('cannot be forged: header-like bytes in the payload stay payload', async () => {
    const c = await tabOf(t, 'in-honest', 's', 'tab');
    const forged = `NATS/1.0\r\n${Header.User}: ${encodeId('admin')}\r\n\r\n`;
    c.sendMessage('forge', forged);
    const msg = await waitFor(() => inbound.find((m) => m.subject.endsWith('.in.forge')));
    expect(decodeId(msg.headers!.get(Header.User))).toBe('in-honest');
    expect(Buffer.from(msg.data).toString()).toBe(forged);
    await c.close();
  });

  it('round-trips a REQUEST to a backend reply', async () => {
    const c = await tabOf(t, 'rq', 's', 'c');
    const payload = new Uint8Array([0, 1, 2, 255]);
    const answer = await c.request('echo', payload);
    expect('reply' in answer && Buffer.from(answer.reply).toString('hex')).toBe('000102ff');
    await c.close();
  });

  it('answers NO_RESPONDERS when no backend listens', async () => {
    const c = await tabOf(t, 'rq2', 's', 'c');
    // The catch-all subscriber above ignores requests on other topics: use a prefix nobody serves.
    const t2 = await startTestEdge({ env: { MESH_SUBJECT_PREFIX: 'other' } });
    const c2 = await t2.connect({ token: await mintToken({ sub: 'x' }) });
    const answer = await c2.request('nothing', 'x');
    expect('error' in answer && answer.error).toMatchObject({ type: 'error', code: 'NO_RESPONDERS', id: expect.any(Number) });
    await t2.stop();
    await c.close();
  });

  it('answers REQUEST_TIMEOUT when the backend is silent', async () => {
    const t3 = await startTestEdge({ env: { MESH_REQUEST_TIMEOUT_MS: '200', MESH_SUBJECT_PREFIX: 'silent' } });
    t3.bus.subscribe(t3.subjects.inbound('slow'), () => undefined);
    await t3.bus.flush();
    const c = await t3.connect({ token: await mintToken({ sub: 'x' }) });
    const answer = await c.request('slow', 'x');
    expect('error' in answer && answer.error).toMatchObject({ code: 'REQUEST_TIMEOUT' });
    await t3.stop();
  });

  it('answers malformed frames with BAD_FRAME / BAD_TOPIC and closes after repeated abuse', async () => {
    const c = await tabOf(t, 'abuse', 's', 'c');
    c.sendRaw(new Uint8Array([0x09, 1, 2]));
    expect(await c.nextControl('error')).toMatchObject({ code: 'BAD_FRAME' });
    c.sendRaw(new Uint8Array([0x02, 3, 0x2e, 0x2a, 0x3e]));
    expect(await c.nextControl('error')).toMatchObject({ code: 'BAD_TOPIC' });
    c.sendRaw('{"type":"nope"}');
    expect(await c.nextControl('error')).toMatchObject({ code: 'BAD_FRAME' });
    for (let i = 0; i < 20; i++) c.sendRaw(new Uint8Array([0x00]));
    expect((await c.waitForClose()).code).toBe(4009);
  });

  it('closes an oversized message with TOO_LARGE and 1009; far beyond the limit uWS cuts the TCP connection', async () => {
    const t4 = await startTestEdge({ env: { MESH_MAX_MESSAGE_BYTES: '1024' } });
    const c = await t4.connect({ token: await mintToken({ sub: 'big' }) });
    c.sendMessage('chat', new Uint8Array(1500));
    expect(await c.nextControl('error')).toMatchObject({ code: 'TOO_LARGE' });
    expect((await c.waitForClose()).code).toBe(1009);
    // Past twice the limit uWS refuses the frame itself, without a close frame (documented).
    const d = await t4.connect({ token: await mintToken({ sub: 'bigger' }) });
    d.sendMessage('chat', new Uint8Array(4096));
    expect((await d.waitForClose()).code).toBe(1006);
    await waitFor(() => t4.edge.stats().connections === 0);
    await t4.stop();
  });
});

describe('sessions belong to one user', () => {
  // Finding: two users whose tokens carried the same jti received each other's session pushes.
  it('refuses a second user presenting a session id another user holds, so session pushes stay with one user', async () => {
    const t = await startTestEdge();
    const owner = await tabOf(t, 'owner', 'shared-jti', 'a');
    const intruder = await t.connect({ token: await mintToken({ sub: 'intruder', jti: 'shared-jti' }), client: 'b' });
    expect((await intruder.waitForClose()).code).toBe(4012);
    t.pushSession('shared-jti', 'for the owner');
    expect(Buffer.from(await owner.nextPush()).toString()).toBe('for the owner');
    expect(t.edge.stats().connectionEvents.sessionConflicts).toBe(1);
    await owner.close();
    await t.stop();
  });
});

describe('overload and drain', () => {
  it('closes connections whose subscription the bus refused with SERVER_OVERLOADED and fails readiness', async () => {
    const t = await startTestEdge();
    const c = await tabOf(t, 'ov-user', 's', 'c');
    t.testBus!.emit({ type: 'subscription-error', subject: t.subjects.pushUser('ov-user'), error: new Error('maximum subscriptions exceeded') });
    expect((await c.waitForClose()).code).toBe(4010);
    expect((await fetch(`${t.opsUrl}/readyz`)).status).toBe(503);
    // A later subscription that succeeds restores readiness.
    const d = await tabOf(t, 'ov-other', 's2', 'd');
    await waitFor(async () => (await fetch(`${t.opsUrl}/readyz`)).status === 200);
    await d.close();
    await t.stop();
  });

  it('drains: closes every socket with SERVER_DRAINING, publishes disconnects, closes the listen socket', async () => {
    const t = await startTestEdge();
    const clients = await Promise.all([1, 2, 3].map((i) => tabOf(t, `dr-${i}`, `s-${i}`, 'c')));
    const conns = new Set(clients.map((c) => c.welcome!.conn));
    await t.edge.drain();
    for (const c of clients) expect((await c.waitForClose()).code).toBe(4008);
    const disconnects = () =>
      t
        .recorded(`${t.config.subjectPrefix}.events.>`)
        .filter((m) => m.subject.endsWith('.disconnect'))
        .map((m) => JSON.parse(Buffer.from(m.data).toString()) as { conn: string; code: number });
    await waitFor(() => [...conns].every((conn) => disconnects().some((d) => d.conn === conn && d.code === 4008)), 5000, 'disconnect events');
    // The listen socket is closed: nothing answers on the public port any more.
    await expect(fetch(`${t.httpUrl}/`)).rejects.toThrow();
    await t.stop();
  });
});
