import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { mintToken } from '../../../test/support/tokens.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

describe('inbound rate limit', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_INBOUND_RATE_PER_S: '50', MESH_INBOUND_BURST: '100' } });
  });
  afterAll(() => t.stop());

  // Finding: no inbound rate limiting; a few flooding clients delayed everybody's pushes and /healthz by seconds.
  it('closes a flooding client with RATE_LIMITED and keeps serving the others', async () => {
    const flooder = await t.connect({ token: await mintToken({ sub: 'flooder' }) });
    const calm = await t.connect({ token: await mintToken({ sub: 'calm' }) });
    for (let i = 0; i < 1000; i++) flooder.sendMessage('chat', 'x');
    expect((await flooder.waitForClose()).code).toBe(4007);
    expect(t.edge.stats().inbound.rateLimited).toBe(1);
    // Within the rate: never limited.
    for (let i = 0; i < 20; i++) calm.sendMessage('chat', 'y');
    t.pushUser('calm', 'still here');
    expect(Buffer.from(await calm.nextPush()).toString()).toBe('still here');
    await calm.close();
  });
});

describe('replies and errors count against the send buffer', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_MAX_BACKPRESSURE_BYTES: '65536', MESH_INBOUND_RATE_PER_S: '100000', MESH_INBOUND_BURST: '100000' } });
    // A backend answering every request with 60 KiB.
    const big = new Uint8Array(60 * 1024);
    t.bus.subscribe(`${t.config.subjectPrefix}.in.>`, (msg) => {
      if (msg.reply) t.bus.respond(msg, big);
    });
    await t.bus.flush();
  });
  afterAll(() => t.stop());

  // Bug: a REPLY frame past the hard send limit was dropped silently: the client timed out, never closed.
  it('closes a client that does not read its replies with SLOW_CONSUMER instead of dropping them', async () => {
    const c = await t.connect({ token: await mintToken({ sub: 'no-reader' }) });
    (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    // Replies pile up in the kernel, then in uWS's buffer, until the connection passes the limit.
    for (let i = 0; i < 400 && t.edge.stats().outbound.slowConsumers === 0; i++) {
      c.sendRequest('big', 'q');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await waitFor(() => t.edge.stats().outbound.slowConsumers === 1, 10_000, 'the client to be closed as a slow consumer');
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await c.waitForClose(10_000)).code).toBe(4006);
  });
});

describe('idle timeout', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_IDLE_TIMEOUT_S: '2' } });
  });
  afterAll(() => t.stop());

  // Bug: a client that never answers pings was dropped with a bare TCP close (1006) after about half
  // of MESH_IDLE_TIMEOUT_S. It now gets a close frame (IDLE_TIMEOUT), no earlier than the timeout.
  it('pings a silent client and closes it with IDLE_TIMEOUT after the configured time', async () => {
    const token = await mintToken({ sub: 'silent' });
    const ws = new WebSocket(t.url, ['session-mesh.v1'], { headers: { authorization: `Bearer ${token}` }, autoPong: false });
    let pings = 0;
    ws.on('ping', () => pings++);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const openedAt = Date.now();
    const [code, reason] = await new Promise<[number, string]>((resolve) => ws.once('close', (c, r) => resolve([c, r.toString()])));
    const afterS = (Date.now() - openedAt) / 1000;
    console.log(`idle client closed after ${afterS.toFixed(1)} s with ${code} (${reason}); pings received: ${pings}`);
    expect(code).toBe(4011);
    expect(pings).toBeGreaterThanOrEqual(1);
    // The sweep runs once a second on whole seconds: never before the timeout minus one tick.
    expect(afterS).toBeGreaterThanOrEqual(1);
  });

  it('keeps a client that answers pings', async () => {
    const c = await t.connect({ token: await mintToken({ sub: 'alive' }) });
    await waitFor(() => t.edge.stats().sweeps.pings > 1 || undefined, 10_000, 'pings to be answered');
    await new Promise((resolve) => setTimeout(resolve, 0));
    t.pushUser('alive', 'ok');
    expect(Buffer.from(await c.nextPush()).toString()).toBe('ok');
    await c.close();
  });
});

describe('request failures', () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  let t: TestEdge;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    bus = await connectNatsBus({ servers: nats.url, name: 'edge-limits' });
    t = await startTestEdge({ bus, env: { MESH_MAX_MESSAGE_BYTES: '2097152' } });
  });
  afterAll(async () => {
    await t?.stop();
    await bus?.close();
    await nats?.stop();
  });

  // Bug: every failed client request was reported as REQUEST_TIMEOUT, whatever the cause.
  it('reports a request NATS refuses (over max_payload) as REQUEST_FAILED, not REQUEST_TIMEOUT', async () => {
    const c = await t.connect({ token: await mintToken({ sub: 'big-request' }) });
    const answer = await c.request('anything', new Uint8Array(1200 * 1024));
    expect(answer).toMatchObject({ error: { code: 'REQUEST_FAILED' } });
    await c.close();
  });
});

describe('connection limits', () => {
  // Issue 10: each limit answers with its named status or close code.
  it('refuses upgrades past MESH_MAX_CONNECTIONS with 503 SERVER_FULL', async () => {
    const t = await startTestEdge({ env: { MESH_MAX_CONNECTIONS: '2' } });
    const a = await t.connect({ token: await mintToken({ sub: 'full-a' }) });
    const b = await t.connect({ token: await mintToken({ sub: 'full-b' }) });
    const c = await t.connect({ token: await mintToken({ sub: 'full-c' }) });
    expect(c.refused?.status).toBe(503);
    expect(JSON.parse(c.refused!.body)).toMatchObject({ error: 'SERVER_FULL' });
    expect(c.refused!.headers['retry-after']).toBe('1');
    await Promise.all([a.close(), b.close()]);
    await t.stop();
  });

  it('refuses a connect burst past MESH_MAX_CONNECTS_PER_S with 503 CONNECT_RATE_LIMITED', async () => {
    const t = await startTestEdge({ env: { MESH_MAX_CONNECTS_PER_S: '3' } });
    const token = await mintToken({ sub: 'storm' });
    const attempts = await Promise.all(Array.from({ length: 8 }, (_, i) => t.connect({ token, client: `tab-${i}` })));
    const refused = attempts.filter((c) => c.refused !== undefined);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    for (const c of refused) expect(JSON.parse(c.refused!.body)).toMatchObject({ error: 'CONNECT_RATE_LIMITED' });
    expect(t.edge.stats().limits.connectRate).toBe(refused.length);
    await Promise.all(attempts.map((c) => c.close()));
    await t.stop();
  });

  it('refuses the newest connection past MESH_MAX_CONNECTIONS_PER_USER with 429 TOO_MANY_CONNECTIONS', async () => {
    const t = await startTestEdge({ env: { MESH_MAX_CONNECTIONS_PER_USER: '2' } });
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await t.connect({ token: await mintToken({ sub: 'many', jti: 's' }), client: `t${i}` }));
    expect(tabs.map((c) => c.refused?.status)).toEqual([undefined, undefined, 429]);
    expect(JSON.parse(tabs[2]!.refused!.body)).toMatchObject({ error: 'TOO_MANY_CONNECTIONS', closeCode: 4013 });
    // Another user is not affected.
    const other = await t.connect({ token: await mintToken({ sub: 'other-user' }) });
    expect(other.welcome).toBeDefined();
    await Promise.all([...tabs, other].map((c) => c.close()));
    await t.stop();
  });

  it('closes the oldest connection past the per-user cap with close-oldest (4013)', async () => {
    const t = await startTestEdge({ env: { MESH_MAX_CONNECTIONS_PER_USER: '2', MESH_USER_LIMIT_POLICY: 'close-oldest' } });
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await t.connect({ token: await mintToken({ sub: 'rotating', jti: 's' }), client: `t${i}` }));
    expect((await tabs[0]!.waitForClose()).code).toBe(4013);
    expect(tabs[1]!.closed).toBeUndefined();
    expect(tabs[2]!.welcome).toBeDefined();
    expect(t.edge.stats().connectionEvents.limitClosed).toBe(1);
    await Promise.all(tabs.slice(1).map((c) => c.close()));
    await t.stop();
  });
});
