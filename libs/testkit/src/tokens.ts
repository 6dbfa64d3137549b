// Test tokens, shared by the tests (test/support/tokens.ts), the benchmarks and the dev scripts.
import { randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';

/** A secret long enough for HS256 (32+ bytes), shared by tests that do not care which secret. */
export const TEST_JWT_SECRET = 'session-mesh-test-secret-0123456789abcdef';

export interface MintOptions {
  /** HMAC secret (default TEST_JWT_SECRET); ignored when `key` is given. */
  readonly secret?: string | Uint8Array;
  /** Private key for asymmetric algorithms (give `alg` too). */
  readonly key?: CryptoKey | KeyObject;
  /** Default HS256 for secrets. */
  readonly alg?: string;
  readonly kid?: string;
  readonly sub?: string;
  /** Session id; default a random UUID; null leaves the claim out. */
  readonly jti?: string | null;
  /** Array, or a space/comma-separated string; omitted when undefined. */
  readonly roles?: readonly string[] | string;
  /** Lifetime in seconds from `iat` (default 3600); null mints a token without `exp`; negative mints an expired one. */
  readonly expiresInS?: number | null;
  /** Issued-at in seconds since the epoch (default now); null leaves the claim out. */
  readonly iat?: number | null;
  readonly notBeforeS?: number;
  readonly issuer?: string;
  readonly audience?: string | string[];
  /** Extra or overriding claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Signs a JWT the way an identity provider would; every field can be bent to test refusals. */
export async function mintToken(options: MintOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = options.iat === undefined ? now : options.iat;
  const payload: Record<string, unknown> = {};
  if (options.roles !== undefined) payload['roles'] = typeof options.roles === 'string' ? options.roles : [...options.roles];
  if (options.sub !== undefined) payload['sub'] = options.sub;
  const jti = options.jti === undefined ? randomUUID() : options.jti;
  if (jti !== null) payload['jti'] = jti;
  if (iat !== null) payload['iat'] = iat;
  const expiresIn = options.expiresInS === undefined ? 3600 : options.expiresInS;
  if (expiresIn !== null) payload['exp'] = (iat ?? now) + expiresIn;
  if (options.notBeforeS !== undefined) payload['nbf'] = options.notBeforeS;
  if (options.issuer !== undefined) payload['iss'] = options.issuer;
  if (options.audience !== undefined) payload['aud'] = options.audience;
  Object.assign(payload, options.claims);

  const alg = options.alg ?? 'HS256';
  const jwt = new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...(options.kid !== undefined ? { kid: options.kid } : {}) });
  if (options.key !== undefined) return jwt.sign(options.key);
  const secret = options.secret ?? TEST_JWT_SECRET;
  return jwt.sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
}
