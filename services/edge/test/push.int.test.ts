import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Header } from '@session-mesh/protocol';
import { mintToken } from '../../../test/support/tokens.js';
import type { MeshClient } from '../../../test/support/ws-client.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('push fan-out', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge();
  });
  afterAll(() => t.stop());

  async function tab(user: string, session: string, client: string): Promise<MeshClient> {
    const c = await t.connect({ token: await mintToken({ sub: user, jti: session }), client });
    expect(c.welcome, `${user}/${session}/${client} refused: ${c.refused?.body} closed: ${JSON.stringify(c.closed)} error: ${c.error?.message}`).toBeDefined();
    return c;
  }

  /** Sends a marker to every given tab's user and waits for it, proving earlier pushes were all delivered. */
  async function settle(clients: MeshClient[], users: string[]): Promise<void> {
    for (const u of users) t.pushUser(u, `__settle_${u}`);
    await waitFor(() => clients.every((c) => c.pushes.some((p) => text(p).startsWith('__settle_'))), 5000, 'settle markers');
  }
  const real = (c: MeshClient) => c.pushes.map(text).filter((p) => !p.startsWith('__settle_'));

  it('delivers a user push to all of that user\'s connections exactly once, and to nobody else', async () => {
    const a1 = await tab('u-a', 'sa1', 'ta1');
    const a2 = await tab('u-a', 'sa2', 'ta2');
    const a3 = await tab('u-a', 'sa1', 'ta3');
    const b = await tab('u-b', 'sb', 'tb');
    t.pushUser('u-a', 'to-a');
    await settle([a1, a2, a3, b], ['u-a', 'u-b']);
    expect(real(a1)).toEqual(['to-a']);
    expect(real(a2)).toEqual(['to-a']);
    expect(real(a3)).toEqual(['to-a']);
    expect(real(b)).toEqual([]);
    await Promise.all([a1, a2, a3, b].map((c) => c.close()));
  });

  it('narrows a user push with Mesh-Client and Mesh-Session', async () => {
    const c1 = await tab('u-n', 's1', 'c1');
    const c2 = await tab('u-n', 's1', 'c2');
    const c3 = await tab('u-n', 's2', 'c3');
    t.pushUser('u-n', 'only-c2', { client: 'c2' });
    t.pushUser('u-n', 'only-s2', { session: 's2' });
    t.pushUser('u-n', 's1-c1', { session: 's1', client: 'c1' });
    t.pushUser('u-n', 'nobody', { session: 's2', client: 'c1' });
    await settle([c1, c2, c3], ['u-n']);
    expect(real(c1)).toEqual(['s1-c1']);
    expect(real(c2)).toEqual(['only-c2']);
    expect(real(c3)).toEqual(['only-s2']);
    await Promise.all([c1, c2, c3].map((c) => c.close()));
  });

  it('delivers to nobody when a narrowing header is not a valid encoded id', async () => {
    const c = await tab('u-bad', 's', 'c');
    t.bus.publish(t.subjects.pushUser('u-bad'), Buffer.from('x'), { [Header.Client]: 'not base64url!' });
    await settle([c], ['u-bad']);
    expect(real(c)).toEqual([]);
    await c.close();
  });

  it('pushes to a session, narrowed by Mesh-Client', async () => {
    const s1 = await tab('u-s1', 'shared-session', 'x1');
    const s2 = await tab('u-s1', 'shared-session', 'x2');
    const other = await tab('u-s1', 'other-session', 'x3');
    t.pushSession('shared-session', 'to-session');
    t.pushSession('shared-session', 'to-x2', { client: 'x2' });
    await settle([s1, s2, other], ['u-s1']);
    expect(real(s1)).toEqual(['to-session']);
    expect(real(s2)).toEqual(['to-session', 'to-x2']);
    expect(real(other)).toEqual([]);
    await Promise.all([s1, s2, other].map((c) => c.close()));
  });

  it('broadcasts to every connection', async () => {
    const clients = await Promise.all([tab('bc1', 'b1', 'c'), tab('bc2', 'b2', 'c'), tab('bc3', 'b3', 'c')]);
    t.bus.publish(t.subjects.pushBroadcast(), Buffer.from('everyone'));
    await waitFor(() => clients.every((c) => c.pushes.length === 1));
    expect(clients.map((c) => text(c.pushes[0]!))).toEqual(['everyone', 'everyone', 'everyone']);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('delivers payload bytes exactly as published (binary, 0x00, invalid UTF-8, empty, large)', async () => {
    const c = await tab('u-bytes', 's', 'c');
    const payloads = [
      new Uint8Array([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x00]),
      new Uint8Array(0),
      Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff),
      new Uint8Array([0x01, 0x04]),
    ];
    for (const p of payloads) t.pushUser('u-bytes', p);
    await waitFor(() => c.pushes.length === payloads.length);
    expect(c.pushes.map((p) => Buffer.from(p).toString('hex'))).toEqual(payloads.map((p) => Buffer.from(p).toString('hex')));
    await c.close();
  });

  it('keeps ids with subject-special characters apart', async () => {
    const ids = ['a.b', 'a', 'b', '*', '>', 'a.*', 'with space', 'ünïcødé ☃', '😀', 'user@example.com', 'user@example', 'A', 'a.b.c'];
    const clients = new Map<string, MeshClient>();
    for (const id of ids) clients.set(id, await tab(id, `s:${id}`, 'tab'));
    for (const id of ids) t.pushUser(id, `for ${id}`);
    for (const id of ids) t.pushSession(`s:${id}`, `session ${id}`);
    await waitFor(() => [...clients.values()].every((c) => c.pushes.length >= 2));
    await settle([...clients.values()], ids);
    for (const [id, c] of clients) expect(real(c), `tab of ${id}`).toEqual([`for ${id}`, `session ${id}`]);
    await Promise.all([...clients.values()].map((c) => c.close()));
  });

  it('subscribes once per user and session and unsubscribes when the last tab goes', async () => {
    const count = t.testBus!.subscriptionCount;
    const userSubject = t.subjects.pushUser('u-ref');
    const sessionSubject = t.subjects.pushSession('s-ref');
    const a = await tab('u-ref', 's-ref', 'a');
    const b = await tab('u-ref', 's-ref', 'b');
    expect(count(userSubject)).toBe(1);
    expect(count(sessionSubject)).toBe(1);
    const open = t.edge.stats().connections;
    await a.close();
    await waitFor(() => t.edge.stats().connections === open - 1);
    expect(count(userSubject)).toBe(1);
    await b.close();
    await waitFor(() => count(userSubject) === 0 && count(sessionSubject) === 0);
  });

  it('counts deliveries', async () => {
    const before = t.edge.stats().hub.deliveries;
    const c = await tab('u-count', 's', 'c');
    t.pushUser('u-count', 'x');
    await c.nextPush();
    expect(t.edge.stats().hub.deliveries).toBeGreaterThan(before);
    await c.close();
  });
});

describe('slow consumers', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_MAX_BACKPRESSURE_BYTES: '65536' } });
  });
  afterAll(() => t.stop());

  it('closes a client that stops reading with SLOW_CONSUMER', async () => {
    const c = await t.connect({ token: await mintToken({ sub: 'slow', jti: 's' }), client: 'c' });
    // Stop reading: the kernel buffers fill, then uWS's send buffer grows past the limit.
    (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const chunk = new Uint8Array(32 * 1024);
    for (let i = 0; i < 400 && t.edge.stats().outbound.slowConsumers === 0; i++) {
      t.pushUser('slow', chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => t.edge.stats().outbound.slowConsumers === 1, 10_000, 'the slow consumer to be closed');
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await c.waitForClose(10_000);
    expect(closed.code).toBe(4006);
  });
});
