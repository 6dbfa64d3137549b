/**
 * The topology the SDK tests run against: a real nats-server (JetStream on, for the KV buckets and
 * durable pushes), one edge process on a fixed port so it can be stopped and started again at the
 * same address, and a backend connection that pushes, kills and answers requests like any backend.
 */
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { freePort, startService, type ServiceProcess } from '../support/processes.js';
import { mintToken, TEST_JWT_SECRET, type MintOptions } from '../support/tokens.js';

export const subjects = createSubjects('mesh');
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

export interface ClientTopology {
  readonly nats: NatsServerHandle;
  readonly backend: Bus;
  readonly url: string;
  readonly port: number;
  edge(): ServiceProcess;
  /** Starts the edge (again) on the same port and waits until it is ready. */
  startEdge(): Promise<ServiceProcess>;
  token(options: MintOptions): Promise<string>;
  stop(): Promise<void>;
}

export async function startClientTopology(env: Record<string, string> = {}): Promise<ClientTopology> {
  const nats = await startNatsServer({ jetstream: true });
  const backend = await connectNatsBus({ servers: [nats.url], name: 'client-test-backend' });
  const port = await freePort();
  let current: ServiceProcess | undefined;
  const topology: ClientTopology = {
    nats,
    backend,
    port,
    url: `ws://127.0.0.1:${port}/`,
    edge: () => {
      if (current === undefined) throw new Error('edge not started');
      return current;
    },
    startEdge: async () => {
      current = await startService(
        'edge',
        {
          MESH_NATS_URL: nats.url,
          MESH_JWT_SECRET: TEST_JWT_SECRET,
          MESH_KV_REPLICAS: '1',
          MESH_EDGE_HOST: '127.0.0.1',
          MESH_EDGE_PORT: String(port),
          MESH_EDGE_ID: 'client-test-edge',
          MESH_DRAIN_SPREAD_MS: '0',
          // No leeway: a token's expiry closes its connection within a second of `exp`, so the
          // refresh test really outlives the first token.
          MESH_JWT_CLOCK_TOLERANCE_S: '0',
          MESH_DRAIN_RECONNECT_JITTER_MS: '300',
          MESH_LOG_LEVEL: process.env['MESH_TEST_LOG_LEVEL'] ?? 'warn',
          ...env,
        },
        { name: 'client-test-edge' },
      );
      return current;
    },
    token: (options) => mintToken(options),
    stop: async () => {
      await current?.kill();
      await backend.close().catch(() => undefined);
      await nats.stop();
    },
  };
  try {
    await topology.startEdge();
  } catch (err) {
    await topology.stop();
    throw err;
  }
  return topology;
}
