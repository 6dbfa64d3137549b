import { accessSync, constants } from 'node:fs';
import { DEFAULT_SUBJECT_PREFIX, isValidSubjectPrefix } from '@session-mesh/protocol';
import { ConfigError, env } from './config.js';
import { z } from 'zod';

/** JetStream replicas of a bucket or stream: 1 to 5 (3 on a 3-node NATS cluster). */
export const replicasEnv = (fallback: number) => env.positiveInt(fallback).refine((v) => v <= 5, 'must be between 1 and 5');

/**
 * The variables every service reads the same way (bus, subjects, logging, key-value replicas,
 * shutdown). Services spread this shape into their own schema and map it with serviceConfigFrom,
 * so the rules and messages for these variables exist once.
 */
export const serviceEnvShape = {
  MESH_NATS_URL: env.natsUrl(),
  ...natsSecurityEnvShape(),
  MESH_SUBJECT_PREFIX: z
    .string()
    .refine(isValidSubjectPrefix, 'must be dot-separated tokens of [A-Za-z0-9_-], at most 64 characters')
    .default(DEFAULT_SUBJECT_PREFIX),
  MESH_LOG_LEVEL: env.logLevel(),
  MESH_KV_REPLICAS: replicasEnv(1),
  MESH_SHUTDOWN_TIMEOUT_MS: env.positiveInt(30_000),
  /** The internal ops port (/healthz, /readyz, /stats, metrics): never the public port. */
  MESH_OPS_HOST: z.string().min(1).default('0.0.0.0'),
  MESH_OPS_PORT: env.port(9090),
};

export interface ServiceConfig {
  /** Unset: the in-process bus (only meaningful inside the single-process services/mesh). */
  readonly natsUrl: string | undefined;
  /** Authentication and TLS of the NATS connection, for createBus's `nats` (absent: neither). */
  readonly nats?: NatsConnectionConfig | undefined;
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
    nats: natsConnectionFrom(v),
    subjectPrefix: v.MESH_SUBJECT_PREFIX,
    logLevel: v.MESH_LOG_LEVEL,
    kvReplicas: v.MESH_KV_REPLICAS,
    shutdownTimeoutMs: v.MESH_SHUTDOWN_TIMEOUT_MS,
    opsHost: v.MESH_OPS_HOST,
    opsPort: v.MESH_OPS_PORT,
  };
}

/** A JetStream key-value bucket or stream name (services sharing one must agree on it). */
export const jetStreamNameEnv = (fallback: string) =>
  z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1..64 characters of [A-Za-z0-9_-]').default(fallback);


// ---------------------------------------------------------------------------------------------
// NATS authentication and TLS

/**
 * The NATS connection's security variables. Secrets come from a file (a mounted Kubernetes
 * secret; preferred) or a variable, never from the URL. The values are plain strings with no rule
 * that could fail: loadConfig quotes a failing value in its message, and these are secrets.
 */
function natsSecurityEnvShape() {
  const optional = () => z.string().optional();
  return {
    MESH_NATS_USER: optional(),
    MESH_NATS_PASSWORD: optional(),
    MESH_NATS_PASSWORD_FILE: optional(),
    MESH_NATS_TOKEN: optional(),
    MESH_NATS_TOKEN_FILE: optional(),
    MESH_NATS_NKEY_SEED_FILE: optional(),
    /** The Helm chart mounts the creds file and sets this (charts/session-mesh). */
    MESH_NATS_CREDS_FILE: optional(),
    MESH_NATS_TLS_CA_FILE: optional(),
    MESH_NATS_TLS_CERT_FILE: optional(),
    MESH_NATS_TLS_KEY_FILE: optional(),
  };
}

type SecretSource = { readonly value: string } | { readonly file: string };

/**
 * The same shape as @session-mesh/bus's NatsConnectionSettings (this library does not depend on
 * the bus; the createBus calls in the services type-check that the two agree).
 */
export interface NatsConnectionConfig {
  readonly auth?:
    | { readonly method: 'user-password'; readonly user: string; readonly password: SecretSource }
    | { readonly method: 'token'; readonly token: SecretSource }
    | { readonly method: 'nkey'; readonly seedFile: string }
    | { readonly method: 'creds'; readonly credsFile: string }
    | undefined;
  readonly tls?: { readonly caFile?: string | undefined; readonly certFile?: string | undefined; readonly keyFile?: string | undefined } | undefined;
}

type NatsSecurityEnv = { [K in keyof ReturnType<typeof natsSecurityEnvShape>]?: string | undefined } & { MESH_NATS_URL?: string | undefined };

/** Validates the combination (one auth method, pairs complete, files readable); errors name the variable. */
function natsConnectionFrom(v: NatsSecurityEnv): NatsConnectionConfig {
  const problems: string[] = [];
  const fileVar = (name: keyof NatsSecurityEnv): string | undefined => {
    const path = v[name];
    if (path === undefined) return undefined;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return path;
  };
  const secret = (inline: keyof NatsSecurityEnv, file: keyof NatsSecurityEnv): SecretSource | undefined => {
    const value = v[inline];
    const path = fileVar(file);
    if (value !== undefined && path !== undefined) problems.push(`${file}: set together with ${inline}; set one of them`);
    return path !== undefined ? { file: path } : value !== undefined ? { value } : undefined;
  };

  const password = secret('MESH_NATS_PASSWORD', 'MESH_NATS_PASSWORD_FILE');
  const token = secret('MESH_NATS_TOKEN', 'MESH_NATS_TOKEN_FILE');
  const seedFile = fileVar('MESH_NATS_NKEY_SEED_FILE');
  const credsFile = fileVar('MESH_NATS_CREDS_FILE');
  const user = v.MESH_NATS_USER;
  if (user !== undefined && password === undefined) problems.push('MESH_NATS_USER: needs MESH_NATS_PASSWORD_FILE or MESH_NATS_PASSWORD');
  if (user === undefined && password !== undefined) {
    problems.push(`${'file' in password ? 'MESH_NATS_PASSWORD_FILE' : 'MESH_NATS_PASSWORD'}: needs MESH_NATS_USER`);
  }

  const methods: { variable: string; auth: NonNullable<NatsConnectionConfig['auth']> }[] = [];
  if (user !== undefined && password !== undefined) methods.push({ variable: 'MESH_NATS_USER', auth: { method: 'user-password', user, password } });
  if (token !== undefined) methods.push({ variable: 'file' in token ? 'MESH_NATS_TOKEN_FILE' : 'MESH_NATS_TOKEN', auth: { method: 'token', token } });
  if (seedFile !== undefined) methods.push({ variable: 'MESH_NATS_NKEY_SEED_FILE', auth: { method: 'nkey', seedFile } });
  if (credsFile !== undefined) methods.push({ variable: 'MESH_NATS_CREDS_FILE', auth: { method: 'creds', credsFile } });
  if (methods.length > 1) {
    const names = methods.map((m) => m.variable);
    problems.push(`${names[1]}: one NATS authentication method at a time, but ${names.join(' and ')} are set`);
  }

  const caFile = fileVar('MESH_NATS_TLS_CA_FILE');
  const certFile = fileVar('MESH_NATS_TLS_CERT_FILE');
  const keyFile = fileVar('MESH_NATS_TLS_KEY_FILE');
  if (certFile !== undefined && keyFile === undefined) problems.push('MESH_NATS_TLS_CERT_FILE: needs MESH_NATS_TLS_KEY_FILE (the client key)');
  if (keyFile !== undefined && certFile === undefined) problems.push('MESH_NATS_TLS_KEY_FILE: needs MESH_NATS_TLS_CERT_FILE (the client certificate)');

  const urls = (v.MESH_NATS_URL ?? '').split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  const tlsUrls = urls.filter((u) => /^tls:\/\//i.test(u)).length;
  if (tlsUrls > 0 && tlsUrls < urls.length) problems.push('MESH_NATS_URL: mixes tls:// with other schemes; TLS applies to the whole connection, write tls:// for every server');
  if (urls.some((u) => /^[a-z]+:\/\/[^/@]*@/i.test(u))) problems.push('MESH_NATS_URL: carries credentials (user:password@); use MESH_NATS_USER and MESH_NATS_PASSWORD_FILE');

  const tlsSet = caFile !== undefined || certFile !== undefined;
  if (urls.length === 0 && (methods.length > 0 || tlsSet)) {
    problems.push(`${methods[0]?.variable ?? (caFile !== undefined ? 'MESH_NATS_TLS_CA_FILE' : 'MESH_NATS_TLS_CERT_FILE')}: set, but MESH_NATS_URL is not (the in-process bus has no authentication)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    auth: methods[0]?.auth,
    tls: tlsSet ? { caFile, certFile, keyFile } : undefined,
  };
}

