import { DEFAULT_SUBJECT_PREFIX, isValidSubjectPrefix } from '@session-mesh/protocol';
import { env } from './config.js';
import { z } from 'zod';

/**
 * The variables every service reads the same way (bus, subjects, logging, key-value replicas,
 * shutdown). Services spread this shape into their own schema and map it with serviceConfigFrom,
 * so the rules and messages for these variables exist once.
 */
export const serviceEnvShape = {
  MESH_NATS_URL: env.natsUrl(),
  MESH_SUBJECT_PREFIX: z
    .string()
    .refine(isValidSubjectPrefix, 'must be dot-separated tokens of [A-Za-z0-9_-], at most 64 characters')
    .default(DEFAULT_SUBJECT_PREFIX),
  MESH_LOG_LEVEL: env.logLevel(),
  MESH_KV_REPLICAS: env.positiveInt(1).refine((v) => v <= 5, 'must be between 1 and 5'),
  MESH_SHUTDOWN_TIMEOUT_MS: env.positiveInt(30_000),
  /** The internal ops port (/healthz, /readyz, /stats, metrics): never the public port. */
  MESH_OPS_HOST: z.string().min(1).default('0.0.0.0'),
  MESH_OPS_PORT: env.port(9090),
};

export interface ServiceConfig {
  /** Unset: the in-process bus (only meaningful inside the single-process services/mesh). */
  readonly natsUrl: string | undefined;
  readonly subjectPrefix: string;
  readonly logLevel: string;
  /** JetStream replicas of the key-value buckets this service creates. */
  readonly kvReplicas: number;
  readonly shutdownTimeoutMs: number;
  /** Internal HTTP port for probes and operational data (0 picks a free port). */
  readonly opsHost: string;
  readonly opsPort: number;
}

type ServiceEnv = z.output<z.ZodObject<typeof serviceEnvShape>>;

export function serviceConfigFrom(v: ServiceEnv): ServiceConfig {
  return {
    natsUrl: v.MESH_NATS_URL,
    subjectPrefix: v.MESH_SUBJECT_PREFIX,
    logLevel: v.MESH_LOG_LEVEL,
    kvReplicas: v.MESH_KV_REPLICAS,
    shutdownTimeoutMs: v.MESH_SHUTDOWN_TIMEOUT_MS,
    opsHost: v.MESH_OPS_HOST,
    opsPort: v.MESH_OPS_PORT,
  };
}

/** A key-value bucket name (edge and admin must agree on the blacklist's). */
export const bucketNameEnv = (fallback: string) =>
  z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1..64 characters of [A-Za-z0-9_-]').default(fallback);
