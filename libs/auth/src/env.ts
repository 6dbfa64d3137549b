import { env, z } from '@session-mesh/runtime';
import { JWKS_DEFAULTS, SUPPORTED_ALGORITHMS, type TokenKeySource } from './keys.js';
import type { TokenVerifierConfig } from './verifier.js';

/** RFC 7518 asks for an HMAC key at least as long as the hash: 32 bytes for HS256. */
export const MIN_SECRET_BYTES = 32;

const KEY_SOURCE_VARS = ['MESH_JWT_SECRET', 'MESH_JWT_PUBLIC_KEY', 'MESH_JWT_PUBLIC_KEY_FILE', 'MESH_JWT_JWKS_URL'] as const;

/**
 * The JWT variables, shared by every service that verifies tokens (edge, admin) so both accept
 * the same values the same way. Spread into a service's schema, then apply {@link refineJwtEnv}.
 */
export const jwtEnvShape = {
  MESH_JWT_SECRET: z
    .string()
    .refine((v) => Buffer.byteLength(v, 'utf8') >= MIN_SECRET_BYTES, `must be at least ${MIN_SECRET_BYTES} bytes (256 bits)`)
    .optional(),
  // Deployment tools often flatten newlines into a literal "\n": accept both spellings.
  MESH_JWT_PUBLIC_KEY: z
    .string()
    .transform((v) => v.replace(/\\n/g, '\n'))
    .refine((v) => v.includes('-----BEGIN PUBLIC KEY-----'), 'must be a PEM SPKI public key (-----BEGIN PUBLIC KEY-----)')
    .optional(),
  MESH_JWT_PUBLIC_KEY_FILE: z.string().optional(),
  MESH_JWT_JWKS_URL: z
    .string()
    .refine((v) => /^https?:\/\/\S+$/.test(v) && URL.canParse(v), 'must be an http(s) URL')
    .optional(),
  /** After any JWKS fetch (success or failure), how long before the next one: unknown kids wait. */
  MESH_JWT_JWKS_COOLDOWN_MS: env.nonNegativeInt(JWKS_DEFAULTS.cooldownMs),
  /** How long past its 10-minute freshness the last JWKS is still used while the endpoint fails. */
  MESH_JWT_JWKS_MAX_STALE_MS: env.nonNegativeInt(JWKS_DEFAULTS.maxStaleMs),
  MESH_JWT_ALGORITHMS: env
    .list()
    .refine(
      (list) => list === undefined || (list.length > 0 && list.every((alg) => SUPPORTED_ALGORITHMS.includes(alg))),
      `must be a comma-separated list of ${SUPPORTED_ALGORITHMS.join(', ')}`,
    ),
  MESH_JWT_ISSUER: env.list(),
  MESH_JWT_AUDIENCE: env.list(),
  MESH_JWT_CLOCK_TOLERANCE_S: env.nonNegativeInt(5),
  MESH_JWT_USER_CLAIM: z.string().default('sub'),
  MESH_JWT_SESSION_CLAIM: z.string().default('jti'),
  MESH_JWT_ROLES_CLAIM: z.string().default('roles'),
};

export type JwtEnv = z.infer<z.ZodObject<typeof jwtEnvShape>>;

/**
 * Cross-variable rule: exactly one key source, unless the service runs anonymous (then none is
 * needed and any given one is ignored). Use with `.superRefine(refineJwtEnv(...))`; issues name
 * the variable to fix.
 */
export function refineJwtEnv<T extends JwtEnv>(anonymous: (value: T) => boolean = () => false) {
  return (value: T, ctx: z.RefinementCtx<T>): void => {
    if (anonymous(value)) return;
    const given = KEY_SOURCE_VARS.filter((name) => value[name] !== undefined);
    if (given.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['MESH_JWT_SECRET'],
        message: `one of ${KEY_SOURCE_VARS.join(', ')} is required to verify tokens`,
      });
    } else if (given.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [given[1]!],
        message: `set exactly one token key source, got ${given.join(' and ')}`,
      });
    }
  };
}

/** The verifier configuration the variables describe, or undefined when no key source is set. */
export function jwtConfigFromEnv(value: JwtEnv): TokenVerifierConfig | undefined {
  let key: TokenKeySource;
  if (value.MESH_JWT_SECRET !== undefined) key = { kind: 'secret', secret: value.MESH_JWT_SECRET };
  else if (value.MESH_JWT_PUBLIC_KEY !== undefined) key = { kind: 'public-key', pem: value.MESH_JWT_PUBLIC_KEY };
  else if (value.MESH_JWT_PUBLIC_KEY_FILE !== undefined) key = { kind: 'public-key-file', path: value.MESH_JWT_PUBLIC_KEY_FILE };
  else if (value.MESH_JWT_JWKS_URL !== undefined) {
    key = { kind: 'jwks', url: value.MESH_JWT_JWKS_URL, cooldownMs: value.MESH_JWT_JWKS_COOLDOWN_MS, maxStaleMs: value.MESH_JWT_JWKS_MAX_STALE_MS };
  }
  else return undefined;
  return {
    key,
    clockToleranceS: value.MESH_JWT_CLOCK_TOLERANCE_S,
    userClaim: value.MESH_JWT_USER_CLAIM,
    sessionClaim: value.MESH_JWT_SESSION_CLAIM,
    rolesClaim: value.MESH_JWT_ROLES_CLAIM,
    ...(value.MESH_JWT_ALGORITHMS !== undefined ? { algorithms: value.MESH_JWT_ALGORITHMS } : {}),
    ...(value.MESH_JWT_ISSUER !== undefined && value.MESH_JWT_ISSUER.length > 0 ? { issuer: value.MESH_JWT_ISSUER } : {}),
    ...(value.MESH_JWT_AUDIENCE !== undefined && value.MESH_JWT_AUDIENCE.length > 0 ? { audience: value.MESH_JWT_AUDIENCE } : {}),
  };
}
