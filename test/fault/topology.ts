/**
 * The real topology for fault runs, on loopback: a 3-node NATS cluster with JetStream (nodes do
 * not advertise each other, so services reach NATS only through the TCP proxies this module puts
 * in front of every node for every service: a partition is a proxy cut), two edges, two registry
 * replicas and the admin API as separate processes, and an observer bus connection (straight to
 * nodes 2 and 1, never through a proxy) that publishes the numbered pushes and listens to presence
 * and lifecycle events. It knows two nodes so that it fails over when the one it sits on is killed
 * (the node holding the KV leaders can be any), and never node 0, the node frozen and killed.
 * nats.js shuffles a server list, so services do not reliably sit on their "preferred" node.
 */
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { startNatsCluster, type NatsClusterHandle, type NatsServerHandle } from '../support/nats-server.js';
import { startService, type ServiceName, type ServiceProcess } from '../support/processes.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait-for.js';

export const ADMIN_TOKEN = 'fault-admin-token-0123456789abcdef0123';
export const subjects = createSubjects('mesh');

export interface TopologyOptions {
  readonly heartbeatMs: number;
  /** MESH_EDGE_LOST_AFTER_MS of the registries. */
  readonly edgeLostAfterMs: number;
  readonly logLevel?: string;
}

export interface Topology {
  readonly nats: NatsClusterHandle;
  readonly observer: Bus;
  readonly edges: ServiceProcess[];
  readonly registries: ServiceProcess[];
  admin: ServiceProcess;
  edgeUrl(i: number): string;
  adminUrl(): string;
  /** The proxies (one per NATS node) a service reaches NATS through. */
  proxiesOf(service: string): TcpProxy[];
  startEdge(i: number): Promise<ServiceProcess>;
  startRegistry(i: number): Promise<ServiceProcess>;
  startAdmin(): Promise<ServiceProcess>;
  /** Every NATS node up and agreeing on a JetStream meta leader. */
  natsHealthy(timeoutMs?: number): Promise<void>;
  freeze(server: NatsServerHandle | ServiceProcess): void;
  thaw(server: NatsServerHandle | ServiceProcess): void;
  stop(): Promise<void>;
}

/** Edge i prefers node i (its first URL); registries and the admin API start elsewhere. */
const preferredNode: Record<string, number> = { 'edge-0': 0, 'edge-1': 1, 'registry-0': 0, 'registry-1': 1, admin: 2 };

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const nats = await startNatsCluster({ size: 3, jetstream: true, noAdvertise: true });
  const proxies = new Map<string, TcpProxy[]>();
  const observer = await connectNatsBus({ servers: [nats.urls[2]!, nats.urls[1]!], name: 'fault-observer' });
  const env = (service: string): Record<string, string> => ({
    MESH_NATS_URL: natsUrlFor(service),
    MESH_JWT_SECRET: TEST_JWT_SECRET,
    MESH_KV_REPLICAS: '3',
    MESH_HEARTBEAT_INTERVAL_MS: String(options.heartbeatMs),
    MESH_EDGE_LOST_AFTER_MS: String(options.edgeLostAfterMs),
    MESH_REGISTRY_SETTLE_MS: '1000',
    // The fault table compares presence with the truth at once: no offline grace.
    MESH_PRESENCE_GRACE_MS: '0',
    MESH_LOG_LEVEL: options.logLevel ?? 'warn',
  });
  function natsUrlFor(service: string): string {
    const list = proxies.get(service);
    if (list === undefined) throw new Error(`no proxies for ${service}`);
    const first = preferredNode[service] ?? 0;
    return [...list.slice(first), ...list.slice(0, first)].map((p) => p.url).join(',');
  }
  async function ensureProxies(service: string): Promise<void> {
    if (proxies.has(service)) return;
    proxies.set(service, await Promise.all(nats.servers.map((s) => startTcpProxy(s.port))));
  }
  async function start(kind: ServiceName, name: string, extra: Record<string, string>): Promise<ServiceProcess> {
    await ensureProxies(name);
    return startService(kind, { ...env(name), ...extra }, { name, readyTimeoutMs: 30_000 });
  }
  const topology: Topology = {
    nats,
    observer,
    edges: [],
    registries: [],
    admin: undefined as unknown as ServiceProcess,
    edgeUrl: (i) => `ws://127.0.0.1:${topology.edges[i]!.port}`,
    adminUrl: () => `http://127.0.0.1:${topology.admin.port}`,
    proxiesOf: (service) => proxies.get(service) ?? [],
    startEdge: async (i) => (topology.edges[i] = await start('edge', `edge-${i}`, { MESH_EDGE_ID: `edge-${i}` })),
    startRegistry: async (i) => (topology.registries[i] = await start('registry', `registry-${i}`, { MESH_REGISTRY_ID: `registry-${i}` })),
    startAdmin: async () => (topology.admin = await start('admin', 'admin', { MESH_ADMIN_TOKENS: ADMIN_TOKEN })),
    natsHealthy: async (timeoutMs = 30_000) => {
      await waitFor(
        async () => {
          const leaders = await Promise.all(
            nats.servers.map(async (s) => {
              const r = await fetch(`${s.monitorUrl}/jsz`, { signal: AbortSignal.timeout(1000) });
              return ((await r.json()) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
            }),
          );
          return leaders.every((l) => l !== undefined && l !== '' && l === leaders[0]);
        },
        { timeoutMs, intervalMs: 100, what: 'every NATS node to agree on a JetStream meta leader' },
      );
    },
    freeze: (p) => signal(p, 'SIGSTOP'),
    thaw: (p) => signal(p, 'SIGCONT'),
    stop: async () => {
      const services = [...topology.edges, ...topology.registries, topology.admin].filter((p) => p !== undefined);
      for (const p of services) signal(p, 'SIGCONT');
      for (const s of nats.servers) signal(s, 'SIGCONT');
      await Promise.all(services.map((p) => p.kill()));
      await observer.close().catch(() => undefined);
      for (const list of proxies.values()) await Promise.all(list.map((p) => p.close()));
      await nats.stop();
    },
  };
  try {
    // Admin first: it creates the blacklist bucket the edges wait for.
    await topology.startAdmin();
    await Promise.all([topology.startRegistry(0), topology.startRegistry(1)]);
    await Promise.all([topology.startEdge(0), topology.startEdge(1)]);
  } catch (err) {
    await topology.stop();
    throw err;
  }
  return topology;
}

function signal(p: NatsServerHandle | ServiceProcess, sig: NodeJS.Signals): void {
  const pid = 'child' in p ? p.child.pid : p.pid;
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** The node holding the leader of a JetStream stream (e.g. KV_mesh_blacklist), from /jsz. */
export async function streamLeaderNode(nats: NatsClusterHandle, stream: string): Promise<number | undefined> {
  for (const s of nats.servers) {
    try {
      const r = await fetch(`${s.monitorUrl}/jsz?streams=true`, { signal: AbortSignal.timeout(1000) });
      const jsz = (await r.json()) as { account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }> };
      for (const a of jsz.account_details ?? []) {
        for (const d of a.stream_detail ?? []) {
          if (d.name !== stream || d.cluster?.leader === undefined) continue;
          const index = nats.servers.findIndex((x) => x.name === d.cluster!.leader);
          if (index >= 0) return index;
        }
      }
    } catch {
      // a node down: ask the next
    }
  }
  return undefined;
}
