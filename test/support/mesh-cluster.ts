/**
 * A real Session Mesh topology for integration tests: a 3-node NATS cluster with JetStream, edges
 * (each on its own NATS node), registry replicas and the admin API as separate processes, plus a
 * "backend" bus connection on yet another node that publishes the way any backend would.
 */
import { connectNatsBus, type Bus, type BusMessage } from '@session-mesh/bus';
import { createSubjects, parseConnectEvent } from '@session-mesh/protocol';
import { startNatsCluster, type NatsClusterHandle } from './nats-server.js';
import { startService, type ServiceProcess } from './processes.js';
import { TEST_JWT_SECRET } from './tokens.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123';
export const subjects = createSubjects('mesh');

export interface MeshCluster {
  readonly nats: NatsClusterHandle;
  readonly edges: ServiceProcess[];
  readonly registries: ServiceProcess[];
  readonly admin: ServiceProcess | undefined;
  /** A backend's connection, on the LAST node of the cluster (no edge is connected there). */
  readonly backend: Bus;
  /** Connection ids announced by edges (mesh.events.connect), as seen by the backend. */
  readonly announced: Set<string>;
  edgeUrl(i: number): string;
  adminUrl(): string;
  startEdge(i: number, node: number): Promise<ServiceProcess>;
  startRegistry(i: number, node: number): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export const commonEnv = (natsUrl: string): Record<string, string> => ({
  MESH_NATS_URL: natsUrl,
  MESH_JWT_SECRET: TEST_JWT_SECRET,
  MESH_KV_REPLICAS: '3',
  MESH_HEARTBEAT_INTERVAL_MS: '300',
  MESH_EDGE_LOST_AFTER_MS: '1500',
  MESH_REGISTRY_SETTLE_MS: '1000',
  // Tests assert offline presence at once (the grace has its own tests).
  MESH_PRESENCE_GRACE_MS: '0',
  MESH_LOG_LEVEL: process.env['MESH_TEST_LOG_LEVEL'] ?? 'warn',
});

export async function startMeshCluster(options: { edges?: number; registries?: number; admin?: boolean; registryEnv?: Record<string, string> } = {}): Promise<MeshCluster> {
  const nats = await startNatsCluster({ size: 3, jetstream: true });
  const url = (node: number) => nats.urls[node % nats.urls.length]!;
  const edges: ServiceProcess[] = [];
  const registries: ServiceProcess[] = [];
  const backend = await connectNatsBus({ servers: [url(2)], name: 'test-backend' });
  const announced = new Set<string>();
  backend.subscribe(subjects.eventConnect(), (msg: BusMessage) => {
    const parsed = parseConnectEvent(msg.data);
    if (parsed.ok) announced.add(parsed.value.connection.conn);
  });
  await backend.flush();

  const cluster: MeshCluster = {
    nats,
    edges,
    registries,
    admin: undefined,
    backend,
    announced,
    edgeUrl: (i) => `ws://127.0.0.1:${edges[i]!.port}`,
    adminUrl: () => `http://127.0.0.1:${cluster.admin!.port}`,
    startEdge: async (i, node) => {
      const edge = await startService('edge', { ...commonEnv(url(node)), MESH_EDGE_ID: `edge-${i}` }, { name: `edge-${i}` });
      edges[i] = edge;
      return edge;
    },
    startRegistry: async (i, node) => {
      const registry = await startService('registry', { ...commonEnv(url(node)), MESH_REGISTRY_ID: `registry-${i}`, ...options.registryEnv }, { name: `registry-${i}` });
      registries[i] = registry;
      return registry;
    },
    stop: async () => {
      await Promise.all([...edges, ...registries, ...(cluster.admin ? [cluster.admin] : [])].map((p) => p?.kill()));
      await backend.close().catch(() => undefined);
      await nats.stop();
    },
  };
  try {
    for (let i = 0; i < (options.registries ?? 0); i++) await cluster.startRegistry(i, i);
    if (options.admin) {
      (cluster as { admin: ServiceProcess | undefined }).admin = await startService('admin', { ...commonEnv(url(2)), MESH_ADMIN_TOKENS: ADMIN_TOKEN });
    }
    for (let i = 0; i < (options.edges ?? 2); i++) await cluster.startEdge(i, i);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
