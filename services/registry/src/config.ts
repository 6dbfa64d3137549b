import { hostname } from 'node:os';
import { env, jetStreamNameEnv, loadConfig, replicasEnv, serviceConfigFrom, serviceEnvShape, z, type ServiceConfig } from '@session-mesh/runtime';

export const REGISTRY_KV_BUCKET = 'mesh_registry';

const schema = z.object({
  ...serviceEnvShape,
  MESH_REGISTRY_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1..128 characters of [A-Za-z0-9_.-]').optional(),
  MESH_EDGE_LOST_AFTER_MS: env.positiveInt(30_000),
  MESH_REGISTRY_SETTLE_MS: z.coerce.number({ message: 'must be a number' }).int('must be an integer').min(0, 'must be >= 0').optional(),
  MESH_REGISTRY_LEASE_TTL_MS: env.positiveInt(5_000).refine((v) => v >= 2_000, 'must be at least 2000 (twice the 1 s renew interval)'),
  MESH_MAX_CONNECTIONS_PER_USER_CLUSTER: env.nonNegativeInt(0),
  MESH_PRESENCE_GRACE_MS: env.nonNegativeInt(10_000),
  MESH_EVENTS: env.boolean(true),
  MESH_EVENTS_STREAM: jetStreamNameEnv('MESH_EVENTS'),
  MESH_EVENTS_MAX_AGE_S: env.positiveInt(86_400),
  MESH_EVENTS_REPLICAS: replicasEnv(1).optional(),
  MESH_CLUSTER_USER_LIMIT_POLICY: z.enum(['close-newest', 'close-oldest'], { message: 'must be close-newest or close-oldest' }).default('close-newest'),
});

export interface RegistryConfig extends ServiceConfig {
  /** Names this replica in logs and in the leader lease. */
  readonly registryId: string;
  /**
   * An edge silent for max(this, 3 x its heartbeat interval) is declared lost and purged. Default
   * 30 s: an edge on a frozen NATS node needs up to 15 s (bus pings) to notice, then to reconnect
   * and heartbeat; a shorter value purges live edges (issue 9, finding 4).
   */
  readonly edgeLostAfterMs: number;
  /**
   * How long after start the first snapshot round counts as settled (readiness). undefined:
   * 5000 ms on NATS, 0 on the memory bus (every edge is in this process and answers at once).
   */
  readonly settleMs: number | undefined;
  readonly leaseTtlMs: number;
  readonly leaseRenewMs: number;
  /** Cluster-wide cap on one user's connections, enforced by the leader (0: off), and which go. */
  readonly maxConnectionsPerUser: number;
  readonly userLimitPolicy: 'close-newest' | 'close-oldest';
  /** A user is announced offline only after staying without connections this long (0: at once). */
  readonly presenceGraceMs: number;
  /** The lifecycle events stream the registry creates (undefined: MESH_EVENTS=false). */
  readonly eventsStream: { readonly name: string; readonly maxAgeS: number; readonly replicas: number } | undefined;
}

export function loadRegistryConfig(environment: NodeJS.ProcessEnv = process.env): RegistryConfig {
  const c = loadConfig(schema, environment);
  return {
    ...serviceConfigFrom(c),
    registryId: c.MESH_REGISTRY_ID ?? defaultRegistryId(),
    edgeLostAfterMs: c.MESH_EDGE_LOST_AFTER_MS,
    settleMs: c.MESH_REGISTRY_SETTLE_MS,
    leaseTtlMs: c.MESH_REGISTRY_LEASE_TTL_MS,
    leaseRenewMs: 1_000,
    maxConnectionsPerUser: c.MESH_MAX_CONNECTIONS_PER_USER_CLUSTER,
    userLimitPolicy: c.MESH_CLUSTER_USER_LIMIT_POLICY,
    presenceGraceMs: c.MESH_PRESENCE_GRACE_MS,
    eventsStream: c.MESH_EVENTS ? { name: c.MESH_EVENTS_STREAM, maxAgeS: c.MESH_EVENTS_MAX_AGE_S, replicas: c.MESH_EVENTS_REPLICAS ?? c.MESH_KV_REPLICAS } : undefined,
  };
}

/** The pod name in Kubernetes (its hostname). */
function defaultRegistryId(): string {
  return hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128) || 'registry';
}
