import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { jwtConfigFromEnv, jwtEnvShape, refineJwtEnv, type TokenVerifierConfig } from '@session-mesh/auth';
import { BLACKLIST_BUCKET, idProblem } from '@session-mesh/protocol';
import type { DurableConfig } from './durable/durable-pushes.js';
import { jetStreamNameEnv, env, replicasEnv, loadConfig, serviceConfigFrom, serviceEnvShape, z, type ServiceConfig } from '@session-mesh/runtime';

export const TOKEN_SOURCES = ['header', 'protocol', 'query', 'cookie'] as const;
export type TokenSourceName = (typeof TOKEN_SOURCES)[number];
/** The cookie source is opt-in: it is only safe with an origin allowlist (see docs/security.md). */
export const USER_LIMIT_POLICIES = ['refuse-newest', 'close-oldest'] as const;
export type UserLimitPolicy = (typeof USER_LIMIT_POLICIES)[number];
export const DEFAULT_TOKEN_SOURCES: readonly TokenSourceName[] = ['header', 'protocol', 'query'];

/** Longest edge id: connection ids are `<edge id>-<counter>` and travel in every event. */
const MAX_EDGE_ID_CHARS = 64;

export interface EdgeConfig extends ServiceConfig {
  readonly host: string;
  /** 0 picks a free port; EdgeHandle.port reports the bound one. */
  readonly port: number;
  readonly edgeId: string;
  /** No token at all: every tab is its own user and session (user = session = client id). */
  readonly anonymous: boolean;
  /** Undefined exactly when anonymous. */
  readonly auth: TokenVerifierConfig | undefined;
  /** Anonymous mode: the secret signing visitors' client ids (shared by every edge); undefined otherwise. */
  readonly anonymousSecret: Buffer | undefined;
  /** Tried in this order; the first source that carries a token wins. */
  readonly tokenSources: readonly TokenSourceName[];
  readonly tokenQueryParam: string;
  readonly tokenCookie: string;
  /** Normalised origins (`scheme://host[:port]`, lower case); undefined allows any origin. */
  readonly allowedOrigins: readonly string[] | undefined;
  readonly heartbeatIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly maxBackpressureBytes: number;
  /** 0 (off) or 8..960: uWebSockets.js terminates the process on other values. */
  /** A client silent this long (no frame, no pong) is closed with IDLE_TIMEOUT; pinged at half. 0: off. */
  readonly idleTimeoutS: number;
  readonly requestTimeoutMs: number;
  readonly blacklistBucket: string;
  /** Inbound frames per second per connection (token bucket), and the burst past which it closes. */
  readonly inboundRatePerS: number;
  readonly inboundBurst: number;
  /** Drain: how long readiness fails (upgrades 503) before sockets are closed, and over how long they are closed. */
  readonly drainDelayMs: number;
  readonly drainSpreadMs: number;
  /** Upper bound of the per-client reconnect delay hint in drain close reasons. */
  readonly drainReconnectJitterMs: number;
  /** Limits (0: off): sockets on this edge, upgrades per second, connections per user on this edge. */
  readonly maxConnections: number;
  readonly maxConnectsPerS: number;
  readonly maxConnectionsPerUser: number;
  /** What happens to the connection past the per-user limit. */
  readonly userLimitPolicy: UserLimitPolicy;
  /** Delivery canary: one publish every interval; readiness fails after `misses` silent intervals. */
  readonly canaryIntervalMs: number;
  readonly canaryMisses: number;
  /** Durable pushes and resume (MESH_DURABLE_*); undefined when MESH_DURABLE=false. */
  readonly durable: DurableConfig | undefined;
}

export function defaultEdgeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 48) || 'edge';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/** `https://App.example.com/` -> `https://app.example.com`; `null` and `*` stay as they are. */
export function normaliseOrigin(origin: string): string | undefined {
  const trimmed = origin.trim().toLowerCase();
  if (trimmed === '*' || trimmed === 'null') return trimmed;
  if (!URL.canParse(trimmed)) return undefined;
  const url = new URL(trimmed);
  if (url.origin === 'null') return undefined;
  return url.origin;
}

const schema = z
  .object({
    ...serviceEnvShape,
    MESH_EDGE_HOST: z.string().min(1).default('0.0.0.0'),
    MESH_EDGE_PORT: env.port(8080),
    MESH_EDGE_ID: z
      .string()
      .refine((v) => idProblem(v) === undefined && v.length <= MAX_EDGE_ID_CHARS, `must be a valid id of at most ${MAX_EDGE_ID_CHARS} characters`)
      .optional(),
    ...jwtEnvShape,
    MESH_TOKEN_SOURCES: env
      .list()
      .refine(
        (list) => list === undefined || (list.length > 0 && list.every((s) => (TOKEN_SOURCES as readonly string[]).includes(s))),
        `must be a comma-separated list of ${TOKEN_SOURCES.join(', ')}`,
      ),
    MESH_TOKEN_QUERY_PARAM: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a plain query parameter name').default('token'),
    MESH_TOKEN_COOKIE: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a valid cookie name').default('mesh_token'),
    MESH_ALLOWED_ORIGINS: env
      .list()
      .refine((list) => list === undefined || list.every((o) => normaliseOrigin(o) !== undefined), 'must be a comma-separated list of origins like https://app.example.com'),
    MESH_ANONYMOUS: env.boolean(false),
    MESH_ANONYMOUS_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    MESH_HEARTBEAT_INTERVAL_MS: env.positiveInt(5000).refine((v) => v >= 100, 'must be at least 100'),
    MESH_MAX_MESSAGE_BYTES: env.positiveInt(65536).refine((v) => v >= 64 && v <= 16 * 1024 * 1024, 'must be between 64 and 16777216'),
    MESH_MAX_BACKPRESSURE_BYTES: env.positiveInt(1048576).refine((v) => v >= 1024, 'must be at least 1024'),
    MESH_IDLE_TIMEOUT_S: env.nonNegativeInt(120).refine((v) => v === 0 || (v >= 2 && v <= 3600), 'must be 0 (disabled) or between 2 and 3600'),
    MESH_REQUEST_TIMEOUT_MS: env.positiveInt(5000),
    MESH_BLACKLIST_BUCKET: jetStreamNameEnv(BLACKLIST_BUCKET),
    MESH_INBOUND_RATE_PER_S: env.positiveInt(100),
    MESH_INBOUND_BURST: env.positiveInt(200),
    MESH_DRAIN_DELAY_MS: env.nonNegativeInt(5000),
    MESH_DRAIN_SPREAD_MS: env.nonNegativeInt(10_000),
    MESH_DRAIN_RECONNECT_JITTER_MS: env.nonNegativeInt(1000),
    MESH_MAX_CONNECTIONS: env.nonNegativeInt(0),
    MESH_MAX_CONNECTS_PER_S: env.nonNegativeInt(0),
    MESH_MAX_CONNECTIONS_PER_USER: env.nonNegativeInt(0),
    MESH_USER_LIMIT_POLICY: z.enum(USER_LIMIT_POLICIES, { message: `must be one of ${USER_LIMIT_POLICIES.join(', ')}` }).default('refuse-newest'),
    MESH_CANARY_INTERVAL_MS: env.positiveInt(5000).refine((v) => v >= 100, 'must be at least 100'),
    MESH_CANARY_MISSES: env.positiveInt(3),
    MESH_DURABLE: env.boolean(true),
    MESH_DURABLE_STREAM: jetStreamNameEnv('MESH_PUSH'),
    MESH_DURABLE_MAX_AGE_S: env.nonNegativeInt(3600),
    MESH_DURABLE_MAX_MSGS: env.nonNegativeInt(1_000_000),
    MESH_DURABLE_MAX_BYTES: env.nonNegativeInt(1024 * 1024 * 1024),
    MESH_DURABLE_REPLICAS: replicasEnv(1),
    MESH_DURABLE_REPLAY_MAX: env.positiveInt(1000),
    MESH_DURABLE_REPLAY_CONCURRENCY: env.positiveInt(64),
    MESH_DURABLE_PENDING_MAX: env.positiveInt(10_000),
    MESH_DURABLE_MERGE_MAX: env.nonNegativeInt(100_000),
  })
  .superRefine(refineJwtEnv((v) => v.MESH_ANONYMOUS))
  .superRefine((v, ctx) => {
    // The shutdown watchdog must outlast the drain, or it kills the edge halfway through.
    if (v.MESH_SHUTDOWN_TIMEOUT_MS <= v.MESH_DRAIN_DELAY_MS + v.MESH_DRAIN_SPREAD_MS + 2000) {
      ctx.addIssue({
        code: 'custom',
        path: ['MESH_SHUTDOWN_TIMEOUT_MS'],
        message: `must exceed MESH_DRAIN_DELAY_MS + MESH_DRAIN_SPREAD_MS + 2000 (${v.MESH_DRAIN_DELAY_MS + v.MESH_DRAIN_SPREAD_MS + 2000})`,
      });
    }
    const sources = v.MESH_TOKEN_SOURCES ?? DEFAULT_TOKEN_SOURCES;
    const origins = v.MESH_ALLOWED_ORIGINS ?? [];
    if (sources.includes('cookie') && (origins.length === 0 || origins.includes('*'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['MESH_TOKEN_SOURCES'],
        message: 'the cookie source needs MESH_ALLOWED_ORIGINS set to your sites (without it any site could connect as your users)',
      });
    }
  });

/** Reads and validates the edge's variables; a ConfigError lists every bad variable by name. */
export function loadEdgeConfig(vars: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const v = loadConfig(schema, vars);
  const origins = v.MESH_ALLOWED_ORIGINS?.map((o) => normaliseOrigin(o)!);
  return {
    ...serviceConfigFrom(v),
    host: v.MESH_EDGE_HOST,
    port: v.MESH_EDGE_PORT,
    edgeId: v.MESH_EDGE_ID ?? defaultEdgeId(),
    anonymous: v.MESH_ANONYMOUS,
    auth: v.MESH_ANONYMOUS ? undefined : jwtConfigFromEnv(v),
    // Without a configured secret, ids are valid on this edge only (a reconnect elsewhere gets a new identity).
    anonymousSecret: !v.MESH_ANONYMOUS ? undefined : v.MESH_ANONYMOUS_SECRET !== undefined ? Buffer.from(v.MESH_ANONYMOUS_SECRET) : randomBytes(32),
    tokenSources: v.MESH_TOKEN_SOURCES ? [...new Set(v.MESH_TOKEN_SOURCES as TokenSourceName[])] : DEFAULT_TOKEN_SOURCES,
    tokenQueryParam: v.MESH_TOKEN_QUERY_PARAM,
    tokenCookie: v.MESH_TOKEN_COOKIE,
    allowedOrigins: origins === undefined || origins.length === 0 || origins.includes('*') ? undefined : origins,
    heartbeatIntervalMs: v.MESH_HEARTBEAT_INTERVAL_MS,
    maxMessageBytes: v.MESH_MAX_MESSAGE_BYTES,
    maxBackpressureBytes: v.MESH_MAX_BACKPRESSURE_BYTES,
    idleTimeoutS: v.MESH_IDLE_TIMEOUT_S,
    requestTimeoutMs: v.MESH_REQUEST_TIMEOUT_MS,
    blacklistBucket: v.MESH_BLACKLIST_BUCKET,
    inboundRatePerS: v.MESH_INBOUND_RATE_PER_S,
    inboundBurst: v.MESH_INBOUND_BURST,
    drainDelayMs: v.MESH_DRAIN_DELAY_MS,
    drainSpreadMs: v.MESH_DRAIN_SPREAD_MS,
    drainReconnectJitterMs: v.MESH_DRAIN_RECONNECT_JITTER_MS,
    maxConnections: v.MESH_MAX_CONNECTIONS,
    maxConnectsPerS: v.MESH_MAX_CONNECTS_PER_S,
    maxConnectionsPerUser: v.MESH_MAX_CONNECTIONS_PER_USER,
    userLimitPolicy: v.MESH_USER_LIMIT_POLICY,
    canaryIntervalMs: v.MESH_CANARY_INTERVAL_MS,
    canaryMisses: v.MESH_CANARY_MISSES,
    durable: !v.MESH_DURABLE
      ? undefined
      : {
          stream: v.MESH_DURABLE_STREAM,
          maxAgeS: v.MESH_DURABLE_MAX_AGE_S,
          maxMsgs: v.MESH_DURABLE_MAX_MSGS,
          maxBytes: v.MESH_DURABLE_MAX_BYTES,
          replicas: v.MESH_DURABLE_REPLICAS,
          replayMax: v.MESH_DURABLE_REPLAY_MAX,
          replayConcurrency: v.MESH_DURABLE_REPLAY_CONCURRENCY,
          pendingMax: v.MESH_DURABLE_PENDING_MAX,
          mergeMax: v.MESH_DURABLE_MERGE_MAX,
        },
  };
}
