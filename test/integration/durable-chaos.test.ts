/**
 * Chaos for durable pushes, end to end with exact counts: a backend publishes thousands of durable
 * pushes to one user at a steady rate while a client (the SDK, over `ws`, behind a TCP load
 * balancer in front of three edge processes) receives them, and mid-stream
 *   1. the edge holding the client is SIGKILLed,
 *   2. every edge is restarted one after another (SIGTERM drain, start again),
 *   3. one node of the 3-node NATS cluster (the one the client's edge uses) is SIGKILLed and restarted.
 * The client must end with every push exactly once, in order. The stream is replicated 3 ways.
 * Each case prints sent / delivered / lost / duplicated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { createClient, type MeshClient, type Push, type WebSocketConstructor } from '@session-mesh/client';
import { createSubjects } from '@session-mesh/protocol';
import { commonEnv } from '../support/mesh-cluster.js';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-server.js';
import { eventually, freePort, startService, waitReady, type ServiceProcess } from '../support/processes.js';
import { startTcpBalancer, type TcpBalancer } from '../support/tcp-balancer.js';
import { mintToken } from '../support/tokens.js';

const EDGES = 3;
const subjects = createSubjects('mesh');
const encoder = new TextEncoder();

let nats: NatsClusterHandle;
let backend: Bus;
let balancer: TcpBalancer;
const ports: number[] = [];
const edges: ServiceProcess[] = [];
const clients: MeshClient[] = [];

function edgeEnv(i: number): Record<string, string> {
  // Each edge is given its own node first; nats.js moves to the others if that node dies.
  const urls = [nats.urls[i % nats.urls.length]!, ...nats.urls.filter((_, k) => k !== i % nats.urls.length)].join(',');
  return {
    ...commonEnv(urls),
    MESH_EDGE_ID: `edge-${i}`,
    MESH_EDGE_HOST: '127.0.0.1',
    MESH_EDGE_PORT: String(ports[i]),
    MESH_DURABLE_REPLICAS: '3',
    MESH_DRAIN_SPREAD_MS: '0',
    MESH_DRAIN_RECONNECT_JITTER_MS: '200',
  };
}

async function startEdge(i: number): Promise<void> {
  edges[i] = await startService('edge', edgeEnv(i), { name: `edge-${i}`, readyTimeoutMs: 30_000 });
}

beforeAll(async () => {
  nats = await startNatsCluster({ size: 3, jetstream: true });
  backend = await connectNatsBus({ servers: [...nats.urls], name: 'chaos-backend' });
  for (let i = 0; i < EDGES; i++) ports.push(await freePort());
  for (let i = 0; i < EDGES; i++) await startEdge(i);
  balancer = await startTcpBalancer(ports);
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await balancer?.close();
  await Promise.all(edges.map((e) => e?.kill()));
  await backend?.close().catch(() => undefined);
  await nats?.stop();
});

/** The SDK behind the balancer, recording every push and which edge welcomed it each time. */
async function sdkClient(user: string) {
  const pushes: Push[] = [];
  const edgesSeen: string[] = [];
  const client = createClient({
    url: `ws://127.0.0.1:${balancer.port}/`,
    token: await mintToken({ sub: user, jti: `${user}-session` }),
    storage: null,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { baseMs: 50, maxMs: 500 },
  });
  client.onPush((p) => pushes.push(p));
  client.on('welcome', (w) => edgesSeen.push(w.edge));
  clients.push(client);
  await client.connect();
  return { client, pushes, edgesSeen };
}

/**
 * Publishes `i` = 0, 1, 2... to the user's durable subject, one every `intervalMs`, each retried
 * until the stream acks it (the same Nats-Msg-Id: a retry of a stored push is stored once), until
 * at least `min` were sent and `until()` holds. Returns how many were sent.
 */
async function publishSteadily(user: string, min: number, intervalMs: number, until: () => boolean, onSent: (i: number) => void): Promise<{ sent: number; retries: number }> {
  const start = Date.now();
  let retries = 0;
  let i = 0;
  for (; i < min || !until(); i++) {
    for (;;) {
      try {
        await backend.publishStored(subjects.durableUser(user), encoder.encode(String(i)), { msgId: `${user}-${i}`, timeoutMs: 2000 });
        break;
      } catch {
        retries++; // a NATS node or the stream leader is gone for a moment: try again
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    onSent(i + 1);
    const ahead = start + (i + 1) * intervalMs - Date.now();
    if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead)); // the steady rate
    if (i > 100_000) throw new Error('the fault never finished');
  }
  return { sent: i, retries };
}

/** Runs one case: `fault` starts once `faultAt` pushes were sent; publishing goes on until it finished. */
let clientEdge: () => number | undefined = () => undefined;

async function chaos(name: string, fault: (edgeOfClient: number) => Promise<void>, faultAt = 700, min = 2000) {
  const user = `chaos-${name}`;
  const s = await sdkClient(user);
  clientEdge = () => (s.client.state === 'open' ? Number(s.edgesSeen.at(-1)!.replace('edge-', '')) : undefined);
  let faultDone = false;
  let faultStarted: Promise<void> | undefined;
  const published = await publishSteadily(user, min, 2, () => faultDone, (sent) => {
    if (sent === faultAt) {
      const edgeOfClient = Number(s.edgesSeen.at(-1)!.replace('edge-', ''));
      faultStarted = fault(edgeOfClient).finally(() => (faultDone = true));
    }
  });
  await faultStarted;
  // A last push after everything: once it is in, anything still missing is lost, not late.
  await backend.publishStored(subjects.durableUser(user), encoder.encode('end'), { msgId: `${user}-end` });
  await eventually(() => s.pushes.some((p) => p.text() === 'end'), `the end marker for ${name}`, 30_000);
  const got = s.pushes.filter((p) => p.text() !== 'end').map((p) => Number(p.text()));
  const distinct = new Set(got);
  const lost = published.sent - distinct.size;
  const duplicated = got.length - distinct.size;
  const inOrder = got.every((v, k) => k === 0 || v > got[k - 1]!);
  const positions = s.pushes.map((p) => p.position!);
  console.log(
    `[durable chaos: ${name}] sent ${published.sent} / delivered ${got.length} / lost ${lost} / duplicated ${duplicated} / in order ${inOrder}; ` +
      `publish retries ${published.retries}; replayed ${s.pushes.filter((p) => p.recovered).length}; welcomes ${s.edgesSeen.join(' > ')}`,
  );
  s.client.close();
  return { sent: published.sent, got, lost, duplicated, inOrder, positions, edgesSeen: s.edgesSeen };
}

async function allEdgesReady(): Promise<void> {
  for (const e of edges) await waitReady(e, 30_000);
}

describe('durable pushes under chaos, exact counts', () => {
  it('the edge holding the client is SIGKILLed mid-stream: the client resumes on another edge with every push once, in order', async () => {
    const r = await chaos('edge-sigkill', async (i) => {
      await edges[i]!.kill();
      await startEdge(i);
    });
    expect({ lost: r.lost, duplicated: r.duplicated, inOrder: r.inOrder }).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(r.got).toEqual(Array.from({ length: r.sent }, (_, k) => k));
    expect(new Set(r.edgesSeen).size).toBeGreaterThan(1);
  }, 120_000);

  it('every edge is restarted one after another mid-stream: every push once, in order', async () => {
    const r = await chaos('rolling-restart', async (first) => {
      // The client's edge first, then whichever edge holds it now, so the client moves as often as it can.
      const left = new Set(Array.from({ length: EDGES }, (_, k) => k));
      for (let next = first; left.size > 0; ) {
        left.delete(next);
        await edges[next]!.stop();
        await startEdge(next);
        if (left.size === 0) break;
        await eventually(() => clientEdge() !== undefined, 'the client to be welcomed again', 30_000);
        const now = clientEdge()!;
        next = left.has(now) ? now : [...left][0]!;
      }
    });
    expect({ lost: r.lost, duplicated: r.duplicated, inOrder: r.inOrder }).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(r.got).toEqual(Array.from({ length: r.sent }, (_, k) => k));
    expect(r.edgesSeen.length).toBeGreaterThanOrEqual(EDGES);
  }, 180_000);

  it('one node of the 3-node NATS cluster is SIGKILLed mid-stream: every push once, in order', async () => {
    await allEdgesReady();
    const r = await chaos('nats-node-sigkill', async (i) => {
      await nats.servers[i % nats.servers.length]!.restart();
      await allEdgesReady();
    });
    expect({ lost: r.lost, duplicated: r.duplicated, inOrder: r.inOrder }).toEqual({ lost: 0, duplicated: 0, inOrder: true });
    expect(r.got).toEqual(Array.from({ length: r.sent }, (_, k) => k));
  }, 180_000);
});
