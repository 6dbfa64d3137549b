import { jwtConfigFromEnv, jwtEnvShape, refineJwtEnv, type JwtEnv, type TokenVerifierConfig } from '@session-mesh/auth';
import { BLACKLIST_BUCKET } from '@session-mesh/protocol';
import { jetStreamNameEnv, env, loadConfig, serviceConfigFrom, serviceEnvShape, z, type ServiceConfig } from '@session-mesh/runtime';

/** Static admin tokens shorter than this are refused: they would be guessable. */
export const MIN_ADMIN_TOKEN_CHARS = 16;
/** NATS's default max_payload is 1 MiB; a push must fit in one message. */
export const MAX_PUSH_BYTES_LIMIT = 1024 * 1024;

const schema = z
  .object({
    ...serviceEnvShape,
    MESH_ADMIN_HOST: z.string().min(1).default('0.0.0.0'),
    MESH_ADMIN_PORT: env.port(8081),
    MESH_ADMIN_TOKENS: env
      .list()
      .refine(
        (list) => list === undefined || list.every((t) => t.length >= MIN_ADMIN_TOKEN_CHARS && /^[\x21-\x7e]+$/.test(t)),
        `each token must be at least ${MIN_ADMIN_TOKEN_CHARS} printable ASCII characters without spaces`,
      ),
    MESH_ADMIN_ROLE: z.string().min(1, 'must not be empty').default('mesh-admin'),
    MESH_BLACKLIST_BUCKET: jetStreamNameEnv(BLACKLIST_BUCKET),
    MESH_ADMIN_MAX_PUSH_BYTES: env.positiveInt(65_536).refine((v) => v <= MAX_PUSH_BYTES_LIMIT, `must be at most ${MAX_PUSH_BYTES_LIMIT} (NATS max_payload)`),
    MESH_REGISTRY_TIMEOUT_MS: env.positiveInt(2_000),
    MESH_ADMIN_DURABLE_TIMEOUT_MS: env.positiveInt(5_000),
    MESH_BLACKLIST_JANITOR_MS: env.positiveInt(60_000),
    ...jwtEnvShape,
  })
  .superRefine((value, ctx) => {
    const hasTokens = (value.MESH_ADMIN_TOKENS?.length ?? 0) > 0;
    const hasJwtKey = jwtConfigFromEnv(value as JwtEnv) !== undefined;
    if (!hasTokens && !hasJwtKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['MESH_ADMIN_TOKENS'],
        message:
          'the admin API needs credentials: set MESH_ADMIN_TOKENS, or a JWT key source (MESH_JWT_SECRET, MESH_JWT_PUBLIC_KEY, MESH_JWT_PUBLIC_KEY_FILE or MESH_JWT_JWKS_URL) for admin-role tokens',
      });
      return;
    }
    // JWTs are optional when static tokens are set, but a given key source must still be unambiguous.
    if (hasJwtKey) refineJwtEnv()(value as JwtEnv, ctx as unknown as z.RefinementCtx<JwtEnv>);
  });

export interface AdminConfig extends ServiceConfig {
  readonly host: string;
  /** 0 = a random free port */
  readonly port: number;
  /** Static bearer tokens (compared in constant time). */
  readonly tokens: readonly string[];
  /** The role an admin JWT must carry. */
  readonly adminRole: string;
  /** undefined when no JWT key source is configured (static tokens only). */
  readonly jwt: TokenVerifierConfig | undefined;
  /** The claim naming a JWT's session (MESH_JWT_SESSION_CLAIM): optional in admin tokens, checked against session blacklist entries. */
  readonly jwtSessionClaim: string;
  readonly blacklistBucket: string;
  readonly maxPushBytes: number;
  readonly registryTimeoutMs: number;
  /** How long a durable push waits for the push stream's acknowledgement before answering 503. */
  readonly durableTimeoutMs: number;
  readonly janitorIntervalMs: number;
}

export function loadAdminConfig(environment: NodeJS.ProcessEnv = process.env): AdminConfig {
  const c = loadConfig(schema, environment);
  const jwt = jwtConfigFromEnv(c);
  return {
    ...serviceConfigFrom(c),
    host: c.MESH_ADMIN_HOST,
    port: c.MESH_ADMIN_PORT,
    tokens: c.MESH_ADMIN_TOKENS ?? [],
    adminRole: c.MESH_ADMIN_ROLE,
    // Admin tokens name an operator, not a session: read the session claim from the user claim so
    // tokens without `jti` (common for operator tokens) are accepted.
    jwt: jwt === undefined ? undefined : { ...jwt, sessionClaim: jwt.userClaim ?? 'sub' },
    jwtSessionClaim: jwt?.sessionClaim ?? 'jti',
    blacklistBucket: c.MESH_BLACKLIST_BUCKET,
    maxPushBytes: c.MESH_ADMIN_MAX_PUSH_BYTES,
    registryTimeoutMs: c.MESH_REGISTRY_TIMEOUT_MS,
    durableTimeoutMs: c.MESH_ADMIN_DURABLE_TIMEOUT_MS,
    janitorIntervalMs: c.MESH_BLACKLIST_JANITOR_MS,
  };
}
