import { jwtVerify, type JWTVerifyOptions } from 'jose';
import { DEFAULT_CLAIMS, idClaim, rolesClaim } from './claims.js';
import { verifyFast, type ClaimRules } from './fast-path.js';
import { resolveKeys, type TokenKeySource } from './keys.js';

export interface TokenVerifierConfig {
  readonly key: TokenKeySource;
  /** Allowed `alg` values; default: every algorithm the key kind can verify. */
  readonly algorithms?: readonly string[];
  /** Required `iss` (any of the list). */
  readonly issuer?: string | readonly string[];
  /** Required `aud` (any of the list). */
  readonly audience?: string | readonly string[];
  /** Leeway for `exp`/`nbf`, in seconds (default 5). */
  readonly clockToleranceS?: number;
  /** Claim holding the user id (default `sub`). */
  readonly userClaim?: string;
  /** Claim holding the session id (default `jti`). Tokens without it are refused. */
  readonly sessionClaim?: string;
  /** Claim holding the roles (default `roles`). */
  readonly rolesClaim?: string;
  /**
   * Verify synchronously with node:crypto when the key is known (default true); jose decides
   * everything else. False sends every token through jose (tests compare both paths).
   */
  readonly fastPath?: boolean;
}

export interface VerifiedToken {
  readonly userId: string;
  readonly sessionId: string;
  /** Sorted, without duplicates. */
  readonly roles: readonly string[];
  /** `iat` in ms since the epoch, or null when the token has none. */
  readonly issuedAtMs: number | null;
  /** `exp` in ms since the epoch, or null for tokens that never expire. */
  readonly expiresAtMs: number | null;
}

export type TokenErrorCode = 'UNAUTHORIZED' | 'TOKEN_EXPIRED';

export interface TokenError {
  readonly error: TokenErrorCode;
  readonly message: string;
}

export type VerifyResult = VerifiedToken | TokenError;

export function isTokenError(result: VerifyResult): result is TokenError {
  return 'error' in result;
}

export interface TokenVerifier {
  /** The algorithms accepted, after defaults. */
  readonly algorithms: readonly string[];
  /** What verifies tokens, for a start-up log line (never the key itself). */
  readonly description: string;
  /** Never throws: every refusal is a TokenError with a message fit for a log line or a 401 body. */
  verify(token: string): Promise<VerifyResult>;
  /**
   * The same answer, synchronously, when the fast path can give it (known key, no extensions);
   * undefined when only the asynchronous `verify` can decide.
   */
  verifySync(token: string): VerifyResult | undefined;
}

/** Tokens longer than this are refused before any crypto: real JWTs are a few hundred bytes. */
export const MAX_TOKEN_CHARS = 16_384;

/** Builds a verifier; keys are imported (or the JWKS endpoint configured) once, here. */
export async function createTokenVerifier(config: TokenVerifierConfig): Promise<TokenVerifier> {
  const resolved = await resolveKeys(config.key, config.algorithms);
  const claims = {
    user: config.userClaim ?? DEFAULT_CLAIMS.user,
    session: config.sessionClaim ?? DEFAULT_CLAIMS.session,
    roles: config.rolesClaim ?? DEFAULT_CLAIMS.roles,
  };
  const options: JWTVerifyOptions = {
    algorithms: [...resolved.algorithms],
    clockTolerance: config.clockToleranceS ?? 5,
    ...(config.issuer !== undefined ? { issuer: typeof config.issuer === 'string' ? config.issuer : [...config.issuer] } : {}),
    ...(config.audience !== undefined ? { audience: typeof config.audience === 'string' ? config.audience : [...config.audience] } : {}),
  };
  const key = resolved.key;
  const allowed = new Set(resolved.algorithms);
  const listOf = (v: string | readonly string[] | undefined) => (v === undefined ? undefined : typeof v === 'string' ? [v] : [...v]);
  const rules: ClaimRules = {
    clockToleranceS: config.clockToleranceS ?? 5,
    issuer: listOf(config.issuer),
    audience: listOf(config.audience),
  };
  const fast = config.fastPath ?? true;

  const verifySync = (token: string): VerifyResult | undefined => {
    const early = precheck(token);
    if (early !== undefined) return early;
    if (!fast) return undefined;
    const verdict = verifyFast(token, allowed, resolved.lookup, rules);
    if (verdict === undefined) return undefined;
    if (!verdict.ok) return unauthorized(verdict.message);
    return fromPayload(verdict.payload, claims, verdict.expired);
  };

  return {
    algorithms: resolved.algorithms,
    description: resolved.description,
    verifySync,
    async verify(token: string): Promise<VerifyResult> {
      const quick = verifySync(token);
      if (quick !== undefined) return quick;
      let payload: Record<string, unknown>;
      try {
        // Both overloads (CryptoKey and resolver) take the same options.
        payload = (typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options)).payload;
      } catch (err) {
        // jose reports `exp` last, after every other check passed; ours run on its claims too.
        if (isJoseExpired(err)) return fromPayload(err.payload, claims, true);
        return joseFailure(err);
      }
      return fromPayload(payload, claims, false);
    },
  };
}

const COMPACT_JWS = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

function precheck(token: string): TokenError | undefined {
  if (typeof token !== 'string' || token.length === 0) return unauthorized('token is empty');
  if (token.length > MAX_TOKEN_CHARS) return unauthorized(`token is longer than ${MAX_TOKEN_CHARS} characters`);
  // RFC 7515 compact form, strictly: jose would also take padding and whitespace; neither path does.
  if (!COMPACT_JWS.test(token)) return unauthorized('invalid token: not three base64url parts separated by dots (no padding, no whitespace)');
  return undefined;
}

/**
 * Our claims (user, session, roles, times) from a payload whose signature and registered claims
 * passed. An expired token is TOKEN_EXPIRED only when it would have been accepted otherwise, so
 * the answer tells a client that a fresh token of the same kind will work (both paths, one rule).
 */
function fromPayload(payload: Record<string, unknown>, claims: { user: string; session: string; roles: string }, expired: boolean): VerifyResult {
  const user = idClaim(payload, claims.user, 'user id');
  if ('problem' in user) return unauthorized(user.problem);
  const session = idClaim(payload, claims.session, 'session id');
  if ('problem' in session) {
    return unauthorized(readsAsMissing(session.problem) ? `${session.problem}: every token must name its session` : session.problem);
  }
  const roles = rolesClaim(payload, claims.roles);
  if ('problem' in roles) return unauthorized(roles.problem);
  if (expired) return { error: 'TOKEN_EXPIRED', message: 'token expired' };
  const iat = payload['iat'];
  const exp = payload['exp'];
  return {
    userId: user.id,
    sessionId: session.id,
    roles: roles.roles,
    issuedAtMs: typeof iat === 'number' ? Math.round(iat * 1000) : null,
    expiresAtMs: typeof exp === 'number' ? Math.round(exp * 1000) : null,
  };
}

function readsAsMissing(problem: string): boolean {
  return problem.startsWith('token has no');
}

function unauthorized(message: string): TokenError {
  return { error: 'UNAUTHORIZED', message };
}

function isJoseExpired(err: unknown): err is { payload: Record<string, unknown> } {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { code?: unknown }).code === 'ERR_JWT_EXPIRED' &&
    typeof (err as { payload?: unknown }).payload === 'object' &&
    (err as { payload?: unknown }).payload !== null
  );
}

/** Maps jose's errors to the two answers a client can act on, keeping jose's precise message. */
function joseFailure(err: unknown): TokenError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return unauthorized('token signature verification failed');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return unauthorized(`token algorithm not allowed: ${message}`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return unauthorized('no key in the JWKS matches the token (unknown kid or algorithm)');
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWKS_UNAVAILABLE':
      return unauthorized(`the JWKS could not be loaded: ${message}`);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return unauthorized(`invalid token: ${message}`);
    default:
      return unauthorized(`token verification failed: ${message}`);
  }
}
