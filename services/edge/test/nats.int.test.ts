import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNatsBus, type Bus, type BusMessage } from '@session-mesh/bus';
import { blacklistKey, decodeId, encodeId, Header, type BlacklistEntry } from '@session-mesh/protocol';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { mintToken } from '../../../test/support/tokens.js';
import type { MeshClient } from '../../../test/support/ws-client.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

/** The same edge on a real nats-server (JetStream for the blacklist KV): the production path. */
describe('edge on NATS', () => {
  let nats: NatsServerHandle;
  let edgeBus: Bus;
  let backend: Bus;
  let t: TestEdge;
  const inbound: BusMessage[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    edgeBus = await connectNatsBus({ servers: nats.url, name: 'edge-under-test' });
    backend = await connectNatsBus({ servers: nats.url, name: 'backend' });
    backend.subscribe('mesh.in.>', (msg) => {
      if (msg.reply) backend.respond(msg, msg.data); // nats.js gives "" for no reply
      else inbound.push({ subject: msg.subject, data: msg.data.slice(), headers: msg.headers });
    });
    await backend.flush();
    t = await startTestEdge({ bus: edgeBus });
  });
  afterAll(async () => {
    await t?.stop();
    await edgeBus?.close();
    await backend?.close();
    await nats?.stop();
  });

  async function tab(user: string, session: string, client: string): Promise<MeshClient> {
    const c = await t.connect({ token: await mintToken({ sub: user, jti: session, roles: ['r'] }), client });
    expect(c.welcome, JSON.stringify(c.refused ?? c.closed)).toBeDefined();
    return c;
  }

  it('delivers a push published by another connection right after welcome', async () => {
    const c = await tab('nats user.*>', 's 1', 'tab 1');
    backend.publish(`mesh.push.user.${encodeId('nats user.*>')}`, new Uint8Array([0, 255, 1]));
    expect(Buffer.from(await c.nextPush()).toString('hex')).toBe('00ff01');
    backend.publish(`mesh.push.session.${encodeId('s 1')}`, new Uint8Array([7]), { [Header.Client]: encodeId('tab 1') });
    expect(Buffer.from(await c.nextPush()).toString('hex')).toBe('07');
    await c.close();
  });

  it('carries client messages with identity headers, and requests both ways', async () => {
    const c = await tab('nats-in', 's', 'c');
    c.sendMessage('chat', 'hi');
    const msg = await waitFor(() => inbound.find((m) => m.subject === 'mesh.in.chat'));
    expect(decodeId(msg.headers!.get(Header.User))).toBe('nats-in');
    expect(msg.headers!.get(Header.Roles)).toBe('["r"]');
    const answer = await c.request('echo', 'ping');
    expect('reply' in answer && Buffer.from(answer.reply).toString()).toBe('ping');
    await c.close();
  });

  it('kills and blacklists through NATS', async () => {
    const a = await tab('nats-k', 's-a', 'a');
    const b = await tab('nats-k', 's-b', 'b');
    backend.publish(`mesh.kill.user.${encodeId('nats-k')}`, new Uint8Array(0), { [Header.Session]: encodeId('s-a'), [Header.Reason]: 'bye' });
    expect(await a.waitForClose()).toEqual({ code: 4005, reason: 'bye' });
    const kv = await backend.kv(t.config.blacklistBucket);
    const entry: BlacklistEntry = { kind: 'session', id: 's-b', reason: 'stolen', createdAt: Date.now(), expiresAt: Date.now() + 60_000 };
    await kv.put(blacklistKey('session', 's-b'), new TextEncoder().encode(JSON.stringify(entry)));
    expect(await b.waitForClose()).toEqual({ code: 4004, reason: 'stolen' });
    const again = await t.connect({ token: await mintToken({ sub: 'nats-k', jti: 's-b' }) });
    expect(again.refused?.status).toBe(403);
  });
});

describe('edge on NATS with max_subs', () => {
  let nats: NatsServerHandle;
  let edgeBus: Bus;
  let t: TestEdge;

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true, maxSubs: 24 });
    edgeBus = await connectNatsBus({ servers: nats.url, name: 'edge-under-test' });
    t = await startTestEdge({ bus: edgeBus });
  });
  afterAll(async () => {
    await t?.stop();
    await edgeBus?.close();
    await nats?.stop();
  });

  it('closes connections the server cannot subscribe for with SERVER_OVERLOADED and fails readiness', async () => {
    const clients: MeshClient[] = [];
    for (let i = 0; i < 30 && !clients.some((x) => x.closed?.code === 4010); i++) {
      clients.push(await t.connect({ token: await mintToken({ sub: `u${i}`, jti: `s${i}` }) }));
    }
    const overloaded = await waitFor(() => clients.find((x) => x.closed?.code === 4010), 5000, 'a SERVER_OVERLOADED close');
    expect(overloaded.closed).toEqual({ code: 4010, reason: 'server overloaded, retry later' });
    const ready = await fetch(`${t.opsUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/subscriptions/);
    // Users still connected keep receiving.
    const alive = clients.find((c) => c.welcome && !c.closed)!;
    t.pushUser(alive.welcome!.user, 'still works');
    expect(Buffer.from(await alive.nextPush()).toString()).toBe('still works');
    // Freeing subscriptions lets a newcomer in, and readiness comes back.
    await Promise.all(clients.map((c) => c.close()));
    await waitFor(() => t.edge.stats().connections === 0);
    const late = await t.connect({ token: await mintToken({ sub: 'late', jti: 'late' }) });
    expect(late.welcome).toBeDefined();
    await waitFor(async () => (await fetch(`${t.opsUrl}/readyz`)).status === 200);
    await late.close();
  });
});
