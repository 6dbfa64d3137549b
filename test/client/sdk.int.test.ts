/**
 * The SDK against a real edge process and a real nats-server, over real `ws` sockets: connect,
 * pushes, messages, request/reply, reconnects across edge restarts (SIGTERM drain and SIGKILL),
 * live token refresh past the first token's expiry, ROLES_MISMATCH, TOKEN_EXPIRED, and no
 * reconnect after KILLED.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type ClientOptions, type CloseInfo, type MeshClient, type Push, type SessionError, type WebSocketConstructor } from '@session-mesh/client';
import type { BusMessage } from '@session-mesh/bus';
import { eventually } from '../support/processes.js';
import { bytes, startClientTopology, subjects, type ClientTopology } from './topology.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let mesh: ClientTopology;
const clients: MeshClient[] = [];

beforeAll(async () => {
  mesh = await startClientTopology();
  // A backend answering requests on `echo` and recording messages on `chat`.
  mesh.backend.subscribe(subjects.inbound('echo'), (msg: BusMessage) => {
    mesh.backend.respond(msg, bytes(`echo:${new TextDecoder().decode(msg.data)}`));
  });
  await mesh.backend.flush();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await mesh?.stop();
});

/** A client on `ws` whose sockets are counted, with everything it reports recorded. */
function sdk(options: Omit<ClientOptions, 'url'>) {
  let sockets = 0;
  const Counting = class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets++;
    }
  } as unknown as WebSocketConstructor;
  const pushes: Push[] = [];
  const errors: SessionError[] = [];
  const closes: CloseInfo[] = [];
  const welcomes: string[] = [];
  const client = createClient({ url: mesh.url, WebSocket: Counting, storage: null, ...options });
  client.onPush((p) => pushes.push(p));
  client.onSessionError((e) => errors.push(e));
  client.on('close', (c) => closes.push(c));
  client.on('welcome', (w) => welcomes.push(w.conn));
  clients.push(client);
  return { client, pushes, errors, closes, welcomes, sockets: () => sockets };
}

const texts = (pushes: Push[]) => pushes.map((p) => p.text());

describe('a live session', () => {
  it('connects (Node 20: `ws` found by itself), receives pushes, sends messages and gets replies', async () => {
    const received: string[] = [];
    mesh.backend.subscribe(subjects.inbound('chat'), (msg: BusMessage) => received.push(new TextDecoder().decode(msg.data)));
    await mesh.backend.flush();
    const client = createClient({ url: mesh.url, token: await mesh.token({ sub: 'sdk-alice', roles: ['member'] }), storage: null, clientId: 'tab-1' });
    clients.push(client);
    const iterator = client.pushes();
    const welcome = await client.connect();
    expect(welcome).toMatchObject({ user: 'sdk-alice', client: 'tab-1', roles: ['member'] });
    expect(client.state).toBe('open');

    mesh.backend.publish(subjects.pushUser('sdk-alice'), bytes('{"hello":"alice"}'));
    const first = await iterator.next();
    expect(first.value?.json()).toEqual({ hello: 'alice' });
    expect(first.value?.position).toBeUndefined();

    expect(client.send('chat', 'hi backend')).toBe(true);
    await eventually(() => received.includes('hi backend'), 'the message at the backend');
    expect((await client.request('echo', 'ping')).text()).toBe('echo:ping');
    await expect(client.request('nobody-listens', 'x')).rejects.toMatchObject({ name: 'RequestError', code: 'NO_RESPONDERS' });
    client.close();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('reconnects after the edge drains (honouring its hint) and after it is SIGKILLed, and receives pushes again', async () => {
    const s = sdk({ token: await mesh.token({ sub: 'sdk-restart' }), backoff: { baseMs: 100, maxMs: 1000 } });
    await s.client.connect();
    mesh.backend.publish(subjects.pushUser('sdk-restart'), bytes('before'));
    await eventually(() => s.pushes.length === 1, 'the first push');

    // SIGTERM: the edge drains, closing with 4008 and a per-client hint; the client waits it out.
    await mesh.edge().stop();
    await eventually(() => s.closes.length >= 1, 'the drain close');
    expect(s.closes[0]).toMatchObject({ code: 4008, name: 'SERVER_DRAINING', willReconnect: true });
    expect(s.closes[0]!.delayMs).toBeLessThanOrEqual(300);
    await mesh.startEdge();
    await eventually(() => s.welcomes.length === 2 && s.client.state === 'open', 'the reconnect after the drain', 15_000);
    mesh.backend.publish(subjects.pushUser('sdk-restart'), bytes('after drain'));
    await eventually(() => s.pushes.length === 2, 'a push after the drain');

    // SIGKILL: no close frame (1006); backoff until the edge is back.
    await mesh.edge().kill();
    // Each failed attempt while the edge is down is a close of its own: the first one is the kill.
    await eventually(() => s.closes.length >= 2, 'the abnormal close');
    expect(s.closes[1]).toMatchObject({ code: 1006, willReconnect: true });
    await mesh.startEdge();
    await eventually(() => s.welcomes.length === 3 && s.client.state === 'open', 'the reconnect after the kill', 15_000);
    mesh.backend.publish(subjects.pushUser('sdk-restart'), bytes('after kill'));
    await eventually(() => s.pushes.length === 3, 'a push after the kill');
    expect(texts(s.pushes)).toEqual(['before', 'after drain', 'after kill']);
    expect(new Set(s.welcomes).size).toBe(3);
    expect(s.errors).toEqual([]);
    console.log(`edge restarts: ${s.sockets()} sockets opened for 3 welcomes (failed attempts while the edge was down: ${s.sockets() - 3})`);
  });
});

describe('tokens', () => {
  it('a refresh handler keeps the connection alive past the first token’s expiry, without reconnecting', async () => {
    const first = await mesh.token({ sub: 'sdk-refresh', jti: 'refresh-session', roles: ['r'], expiresInS: 3 });
    let refreshes = 0;
    const s = sdk({
      token: first,
      refreshLeadMs: 1500,
      refreshHandler: () => {
        refreshes++;
        return mesh.token({ sub: 'sdk-refresh', jti: 'refresh-session', roles: ['r'], expiresInS: 3600 });
      },
    });
    const refreshed: (number | null)[] = [];
    s.client.on('refreshed', (r) => refreshed.push(r.expiresAt));
    const welcome = await s.client.connect();
    expect(welcome.expiresAt).not.toBeNull();
    await eventually(() => refreshed.length === 1, 'the refreshed answer', 10_000);
    // The edge closes expired connections within a second of exp: wait until well past it.
    await eventually(() => Date.now() > welcome.expiresAt! + 2_000, 'the first token to be long expired', 10_000);
    mesh.backend.publish(subjects.pushUser('sdk-refresh'), bytes('still here'));
    await eventually(() => s.pushes.length === 1, 'a push after the first expiry');
    expect(s.client.state).toBe('open');
    expect(s.welcomes).toEqual([welcome.conn]);
    expect(s.sockets()).toBe(1);
    expect(refreshes).toBe(1);
    expect(refreshed[0]!).toBeGreaterThan(Date.now() + 3_000_000);
    expect(s.errors).toEqual([]);
  });

  it('a refreshed token with other roles closes with ROLES_MISMATCH, reported, and no reconnect', async () => {
    const s = sdk({ token: await mesh.token({ sub: 'sdk-roles', jti: 'roles-s', roles: ['member'] }) });
    await s.client.connect();
    s.client.updateToken(await mesh.token({ sub: 'sdk-roles', jti: 'roles-s', roles: ['admin'] }));
    await eventually(() => s.client.state === 'closed', 'the close');
    expect(s.errors).toEqual([{ code: 'ROLES_MISMATCH', closeCode: 4003, reason: expect.any(String) }]);
    expect(s.closes).toEqual([expect.objectContaining({ code: 4003, willReconnect: false })]);
    expect(s.sockets()).toBe(1);
  });

  it('an expired token without refresh closes with TOKEN_EXPIRED, reported, and no reconnect', async () => {
    const s = sdk({ token: await mesh.token({ sub: 'sdk-expired', expiresInS: 2 }) });
    await s.client.connect();
    await eventually(() => s.client.state === 'closed', 'the expiry close', 10_000);
    expect(s.errors).toEqual([{ code: 'TOKEN_EXPIRED', closeCode: 4002, reason: 'token expired' }]);
    expect(s.sockets()).toBe(1);
    // Asked to connect again with the same (expired) token, the client refuses before dialling.
    await expect(s.client.connect()).rejects.toThrow(/4002/);
    expect(s.sockets()).toBe(1);
  });
});

describe('kills', () => {
  it('after KILLED the client reports it and stays closed; connect() brings it back', async () => {
    const s = sdk({ token: await mesh.token({ sub: 'sdk-killed', jti: 'killed-s' }), backoff: { baseMs: 1, maxMs: 5 } });
    const witness = sdk({ token: await mesh.token({ sub: 'sdk-witness' }) });
    await Promise.all([s.client.connect(), witness.client.connect()]);
    mesh.backend.publish(subjects.killSession('killed-s'), new Uint8Array(0));
    await eventually(() => s.client.state === 'closed', 'the kill');
    expect(s.errors).toEqual([{ code: 'KILLED', closeCode: 4005, reason: 'killed' }]);
    // Far longer than the backoff ceiling (5 ms): a sentinel round trip through NATS and the edge.
    for (let i = 0; i < 20; i++) {
      mesh.backend.publish(subjects.pushUser('sdk-witness'), bytes(`sentinel-${i}`));
      await eventually(() => witness.pushes.length === i + 1, `sentinel ${i}`);
    }
    expect(s.sockets()).toBe(1);
    expect(s.client.state).toBe('closed');
    await s.client.connect();
    expect(s.sockets()).toBe(2);
  });
});

describe('the terminal client (npm run -s client), built on the SDK', () => {
  function run(args: string[]) {
    const child = spawn(process.execPath, ['scripts/mesh-client.mjs', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    return { child, out: () => out, err: () => err, exited };
  }

  it('prints the welcome and pushes, and exits 0 when killed', async () => {
    const cli = run(['--url', mesh.url, '--token', await mesh.token({ sub: 'sdk-cli', jti: 'cli-s' }), '--client', 'term-1']);
    await eventually(() => cli.out().includes('control {"type":"welcome"'), `the welcome line (stderr: ${cli.err()})`);
    mesh.backend.publish(subjects.pushUser('sdk-cli'), bytes('hello terminal'));
    await eventually(() => cli.out().includes('push hello terminal\n'), 'the push line');
    mesh.backend.publish(subjects.killSession('cli-s'), new Uint8Array(0));
    expect(await cli.exited).toBe(0);
    expect(cli.out()).toContain('closed 4005 killed');
    expect(cli.err()).toContain('session error KILLED');
  });

  it('says why a refused token was refused and exits 1', async () => {
    const cli = run(['--url', mesh.url, '--token', 'not-a-jwt']);
    expect(await cli.exited).toBe(1);
    expect(cli.err()).toMatch(/refused: .*401/);
  });
});
