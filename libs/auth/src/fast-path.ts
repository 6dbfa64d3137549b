import { constants, createHmac, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/**
 * Synchronous JWS verification with node:crypto, for keys known in advance (a secret, a PEM key,
 * or JWKS keys already fetched).
 *
 * Why: jose verifies through WebCrypto, which is asynchronous and costs ~80-100 us per HS256 token
 * (one edge core tops out near 10k connects/s); node:crypto does the same check synchronously in
 * a few us. Being synchronous also lets the edge answer the WebSocket upgrade inside uWS's own
 * handler, which avoids an upgrade-after-await defect of the uWS build we ship (see
 * services/edge/src/server.ts). fast-jwt was measured as an alternative and not kept: see
 * docs/architecture.md ("JWT verification").
 *
 * jose stays the reference: this path follows jose 6's checks in jose's order (base64url, strict
 * UTF-8, `crit`, `alg`, signature, then iss, aud, iat, nbf, exp), so both give the same answer
 * for every token; only an unknown key (`kid` not fetched yet) returns undefined ("ask jose").
 * libs/auth/test/jwt-matrix.test.ts holds the two paths to that.
 */

/** What the fast path concluded. `expired` is set when every check but `exp` passed. */
export type FastVerdict =
  | { readonly ok: true; readonly payload: Record<string, unknown>; readonly expired: boolean }
  | { readonly ok: false; readonly message: string };

export interface ClaimRules {
  readonly clockToleranceS: number;
  readonly issuer: readonly string[] | undefined;
  readonly audience: readonly string[] | undefined;
}

/** Resolves the key for an allowed `alg` (and `kid`); undefined means "ask jose". */
export type SyncKeyLookup = (alg: string, kid: string | undefined) => KeyObject | undefined;

const HASH: Readonly<Record<string, string | null>> = {
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  EdDSA: null,
  Ed25519: null,
};
/** Raw (IEEE P1363) ECDSA signature lengths. */
const EC_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };
const EC_CURVE: Readonly<Record<string, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
/** jose decodes JSON with a fatal decoder: invalid UTF-8 is an invalid token, not U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const fail = (message: string): FastVerdict => ({ ok: false, message });

/**
 * base64url as jose 6 decodes it on Node 20, for input the verifier has already limited to the
 * base64url alphabet: a length of 4n+1 cannot be base64 (atob refuses it; Buffer would not).
 */
export function decodeBase64url(part: string): Buffer | undefined {
  return part.length % 4 === 1 ? undefined : Buffer.from(part, 'base64url');
}

function decodeJson(part: string): unknown {
  const bytes = decodeBase64url(part);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parsed protected headers by their encoded form: an identity provider sends the same few headers
 * over and over, and parsing is a fifth of an HS256 verification. Bounded, and cleared when full,
 * so varied headers from an attacker cost memory only up to the bound. Entries are never mutated.
 */
const HEADER_CACHE_MAX = 64;
const headerCache = new Map<string, Record<string, unknown> | null>();

function parseHeader(head: string): Record<string, unknown> | null {
  let header = headerCache.get(head);
  if (header !== undefined) return header;
  const parsed = decodeJson(head);
  header = isPlainObject(parsed) ? parsed : null;
  if (head.length <= 1024) {
    if (headerCache.size >= HEADER_CACHE_MAX) headerCache.clear();
    headerCache.set(head, header);
  }
  return header;
}

/**
 * jose's `crit` rule with no extension configured: only `b64` is understood, and a JWT must use
 * the default `b64: true`. Returns a refusal message, or undefined when the header passes.
 */
function critProblem(header: Record<string, unknown>): string | undefined {
  const crit = header['crit'];
  if (crit === undefined) return undefined;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string' || c.length === 0)) {
    return 'invalid token: "crit" (Critical) Header Parameter MUST be an array of non-empty strings when present';
  }
  for (const name of crit as string[]) {
    if (name !== 'b64') return `invalid token: Extension Header Parameter "${name}" is not recognized`;
    if (!Object.hasOwn(header, 'b64')) return 'invalid token: Extension Header Parameter "b64" is missing';
  }
  const b64 = header['b64'];
  if (typeof b64 !== 'boolean') return 'invalid token: The "b64" (base64url-encode payload) Header Parameter must be a boolean';
  if (!b64) return 'invalid token: JWTs MUST NOT use unencoded payload';
  return undefined;
}

/** Whether `key` can verify `alg` (so a wrong key kind is never even tried). */
export function keyFitsAlgorithm(key: KeyObject, alg: string): boolean {
  if (alg.startsWith('HS')) return key.type === 'secret';
  if (key.type !== 'public') return false;
  const kind = key.asymmetricKeyType;
  // jose refuses RSA keys under 2048 bits; so does this path.
  if (alg.startsWith('RS')) return kind === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  if (alg.startsWith('PS')) return (kind === 'rsa' || kind === 'rsa-pss') && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  if (alg.startsWith('ES')) return kind === 'ec' && key.asymmetricKeyDetails?.namedCurve === EC_CURVE[alg];
  if (alg === 'EdDSA' || alg === 'Ed25519') return kind === 'ed25519';
  return false;
}

function signatureValid(alg: string, key: KeyObject, data: string, signature: Buffer): boolean {
  const hash = HASH[alg];
  if (hash === undefined) return false;
  try {
    if (alg.startsWith('HS')) {
      const mac = createHmac(hash!, key).update(data, 'latin1').digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    const input = Buffer.from(data, 'latin1');
    if (alg.startsWith('RS')) return cryptoVerify(hash, input, key, signature);
    if (alg.startsWith('PS')) {
      return cryptoVerify(hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    }
    if (alg.startsWith('ES')) {
      if (signature.length !== EC_SIGNATURE_BYTES[alg]) return false;
      return cryptoVerify(hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return cryptoVerify(null, input, key, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies a compact JWS and the registered claims (iss, aud, iat, nbf, exp) the way jose's
 * jwtVerify does. The caller has checked the shape (three base64url parts). Returns undefined
 * when jose must decide (no key known for the token).
 */
export function verifyFast(token: string, allowed: ReadonlySet<string>, lookup: SyncKeyLookup, rules: ClaimRules, nowMs = Date.now()): FastVerdict | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return fail('invalid token: Invalid Compact JWS');

  const header = parseHeader(token.slice(0, first));
  if (header === null) return fail('invalid token: JWS Protected Header is invalid');
  const crit = critProblem(header);
  if (crit !== undefined) return fail(crit);
  const alg = header['alg'];
  if (typeof alg !== 'string' || alg.length === 0) return fail('invalid token: JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (!allowed.has(alg)) return fail('token algorithm not allowed: "alg" (Algorithm) Header Parameter value not allowed');
  const kid = header['kid'];
  const key = lookup(alg, typeof kid === 'string' ? kid : undefined);
  if (key === undefined) return undefined;

  const signingInput = token.slice(0, second);
  const signature = decodeBase64url(token.slice(second + 1));
  if (signature === undefined) return fail('invalid token: Failed to base64url decode the signature');
  if (!signatureValid(alg, key, signingInput, signature)) return fail('token signature verification failed');

  const bytes = decodeBase64url(token.slice(first + 1, second));
  if (bytes === undefined) return fail('invalid token: Failed to base64url decode the payload');
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    payload = undefined;
  }
  if (!isPlainObject(payload)) return fail('invalid token: JWT Claims Set must be a top-level JSON object');
  return checkClaims(payload, rules, Math.floor(nowMs / 1000));
}

/** jose's validateClaimsSet, in jose's order: presence, iss, aud, then iat, nbf, exp. */
function checkClaims(payload: Record<string, unknown>, rules: ClaimRules, now: number): FastVerdict {
  const tolerance = rules.clockToleranceS;
  if (rules.issuer !== undefined && !Object.hasOwn(payload, 'iss')) return fail('invalid token: missing required "iss" claim');
  if (rules.audience !== undefined && !Object.hasOwn(payload, 'aud')) return fail('invalid token: missing required "aud" claim');
  const { iat, nbf, exp, iss, aud } = payload;
  if (rules.issuer !== undefined && (typeof iss !== 'string' || !rules.issuer.includes(iss))) return fail('invalid token: unexpected "iss" claim value');
  if (rules.audience !== undefined) {
    const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!values.some((a) => typeof a === 'string' && rules.audience!.includes(a))) return fail('invalid token: unexpected "aud" claim value');
  }
  if (iat !== undefined && typeof iat !== 'number') return fail('invalid token: "iat" claim must be a number');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') return fail('invalid token: "nbf" claim must be a number');
    if (nbf > now + tolerance) return fail('invalid token: "nbf" claim timestamp check failed');
  }
  if (exp !== undefined && typeof exp !== 'number') return fail('invalid token: "exp" claim must be a number');
  return { ok: true, payload, expired: exp !== undefined && (exp as number) <= now - tolerance };
}
