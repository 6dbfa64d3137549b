/**
 * A live edge for abuse tests and the black-box fuzzer: a real nats-server (JetStream for the
 * blacklist bucket) and the built edge (services/edge/dist) as its own process, plus a backend bus
 * connection that pushes the way any backend would. `check()` is the oracle run after every batch:
 * the process is alive, its health endpoints answer, and a fresh client connects and receives a push
 * published through the bus.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { startNatsServer, type NatsServerHandle } from '../../support/nats-server.js';
import { freePort, startService, type ServiceProcess } from '../../support/processes.js';
import { mintToken, TEST_JWT_SECRET } from '../../support/tokens.js';
import { connectClient } from '../../support/ws-client.js';

export const subjects = createSubjects('mesh');

export interface LiveEdge {
  readonly nats: NatsServerHandle;
  readonly edge: ServiceProcess;
  readonly backend: Bus;
  /** The WebSocket port. */
  readonly port: number;
  /** Where /healthz and /readyz answer (the ops port once the edge has one, else the WebSocket port). */
  healthBase(): Promise<string>;
  /** A valid token for a fresh user (unique per call unless `user` is given). */
  token(user?: string, claims?: Record<string, unknown>): Promise<string>;
  /** Alive, healthy, ready, and serving a fresh client end to end; returns what failed, or undefined. */
  check(timeoutMs?: number): Promise<string | undefined>;
  stop(): Promise<void>;
}

export async function startLiveEdge(env: Record<string, string> = {}): Promise<LiveEdge> {
  const nats = await startNatsServer({ jetstream: true });
  const opsPort = await freePort();
  let edge: ServiceProcess;
  try {
    edge = await startService(
      'edge',
      {
        MESH_NATS_URL: nats.url,
        MESH_JWT_SECRET: TEST_JWT_SECRET,
        MESH_KV_REPLICAS: '1',
        MESH_OPS_PORT: String(opsPort),
        MESH_EDGE_ID: 'fuzz-edge',
        MESH_LOG_LEVEL: process.env['MESH_TEST_LOG_LEVEL'] ?? 'warn',
        ...env,
      },
      { name: 'edge under abuse' },
    );
  } catch (err) {
    await nats.stop();
    throw err;
  }
  const backend = await connectNatsBus({ servers: [nats.url], name: 'fuzz-backend' });
  let base: string | undefined;

  const healthBase = async (): Promise<string> => {
    if (base !== undefined) return base;
    // processes.ts may know the ops port (the lead is moving health there); else probe ours, then
    // fall back to the WebSocket port where older edges serve /healthz.
    const known = (edge as ServiceProcess & { opsPort?: number }).opsPort;
    for (const port of [known, opsPort, edge.port]) {
      if (port === undefined) continue;
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      if (res?.status === 200) {
        base = `http://127.0.0.1:${port}`;
        return base;
      }
    }
    throw new Error('no /healthz answers on the ops port or the WebSocket port');
  };

  const token = (user = `fuzz-${randomUUID()}`, claims?: Record<string, unknown>) => mintToken({ sub: user, ...(claims ? { claims } : {}) });

  const check = async (timeoutMs = 5000): Promise<string | undefined> => {
    if (edge.child.exitCode !== null || edge.child.signalCode !== null) {
      return `edge process exited (${edge.child.exitCode ?? edge.child.signalCode})`;
    }
    try {
      const at = await healthBase();
      for (const path of ['/healthz', '/readyz']) {
        const res = await fetch(`${at}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
        if (res.status !== 200) return `${path} answered ${res.status} ${await res.text()}`;
      }
    } catch (err) {
      return `health: ${(err as Error).message}`;
    }
    const user = `fresh-${randomUUID()}`;
    const client = await connectClient({ url: `ws://127.0.0.1:${edge.port}`, token: await token(user), timeoutMs });
    try {
      if (!client.welcome) {
        return `a fresh client got no welcome: ${client.refused ? `HTTP ${client.refused.status} ${client.refused.body}` : client.closed ? `closed ${client.closed.code}` : (client.error?.message ?? 'no outcome')}`;
      }
      const body = `push-${randomUUID()}`;
      backend.publish(subjects.pushUser(user), new TextEncoder().encode(body));
      const push = await client.nextPush(timeoutMs).catch((err: Error) => err);
      if (push instanceof Error) return `a fresh client received no push: ${push.message}`;
      if (Buffer.from(push).toString() !== body) return `a fresh client received the wrong push: ${Buffer.from(push).toString().slice(0, 80)}`;
      return undefined;
    } finally {
      await client.close();
    }
  };

  const live: LiveEdge = {
    nats,
    edge,
    backend,
    port: edge.port,
    healthBase,
    token,
    check,
    stop: async () => {
      await edge.kill();
      await backend.close().catch(() => undefined);
      await nats.stop();
    },
  };
  // Ready for these tests means serving a client end to end (a /readyz of 200 has been seen before
  // the edge admits upgrades: reported to the edge's owner, not what these tests are about).
  let failure: string | undefined = 'not checked yet';
  const deadline = Date.now() + 15_000;
  while (failure !== undefined && Date.now() < deadline) {
    failure = await check(2000);
    if (failure !== undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (failure !== undefined) {
    await live.stop();
    throw new Error(`the edge never served a fresh client end to end: ${failure}\n${edge.output()}`);
  }
  return live;
}

/** One live edge per test file: started before its tests, stopped after them. */
export function liveEdgePerFile(env: Record<string, string> = {}): () => LiveEdge {
  let live: LiveEdge | undefined;
  beforeAll(async () => {
    live = await startLiveEdge(env);
  }, 60_000);
  afterAll(async () => {
    await live?.stop();
  });
  return () => {
    if (live === undefined) throw new Error('the live edge did not start');
    return live;
  };
}
