import { constants, createHmac, createPublicKey, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { JSONWebKeySet, RemoteJWKSet } from 'jose';

/**
 * Synchronous JWS verification with node:crypto, for keys known in advance (a secret, a PEM key,
 * or JWKS keys jose has already fetched).
 *
 * Why: jose verifies through WebCrypto, which is asynchronous and costs ~80-100 us per HS256 token
 * (one edge core tops out near 10k connects/s); node:crypto does the same check synchronously in
 * ~4 us. Being synchronous also lets the edge answer the WebSocket upgrade inside uWS's own
 * handler, which avoids an upgrade-after-await defect of the uWS build we ship (see
 * services/edge/src/server.ts).
 *
 * jose stays the reference: anything this path does not handle with certainty (a `crit` header,
 * an unknown `kid`, a stale JWKS cache) returns undefined and the caller uses jose. The test
 * suite runs every case through both paths.
 */

/** What the fast path concluded. */
export type FastVerdict =
  | { readonly ok: true; readonly payload: Record<string, unknown> }
  | { readonly ok: false; readonly error: 'UNAUTHORIZED' | 'TOKEN_EXPIRED'; readonly message: string };

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
const B64URL = /^[A-Za-z0-9_-]*$/;

const fail = (message: string): FastVerdict => ({ ok: false, error: 'UNAUTHORIZED', message });

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

function signatureValid(alg: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const hash = HASH[alg];
  if (hash === undefined) return false;
  try {
    if (alg.startsWith('HS')) {
      const mac = createHmac(hash!, key).update(data).digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    if (alg.startsWith('RS')) return cryptoVerify(hash, data, key, signature);
    if (alg.startsWith('PS')) {
      return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    }
    if (alg.startsWith('ES')) {
      if (signature.length !== EC_SIGNATURE_BYTES[alg]) return false;
      return cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return cryptoVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies a compact JWS and the registered time/issuer/audience claims the way jose's jwtVerify
 * does. Returns undefined when jose must decide.
 */
export function verifyFast(token: string, allowed: ReadonlySet<string>, lookup: SyncKeyLookup, rules: ClaimRules, nowMs = Date.now()): FastVerdict | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return fail('invalid token: Invalid Compact JWS');
  const head = token.slice(0, first);
  const body = token.slice(first + 1, second);
  const sig = token.slice(second + 1);
  if (!B64URL.test(head) || !B64URL.test(body) || !B64URL.test(sig)) return fail('invalid token: Invalid Compact JWS');

  const header = decodeJson(head);
  if (!isPlainObject(header)) return fail('invalid token: JWS Protected Header is invalid');
  // Extensions (crit, b64) and anything unusual: jose's rules apply.
  if (header['crit'] !== undefined || header['b64'] !== undefined) return undefined;
  const alg = header['alg'];
  if (typeof alg !== 'string') return fail('invalid token: JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (!allowed.has(alg)) return fail('token algorithm not allowed: "alg" (Algorithm) Header Parameter value not allowed');
  const kid = header['kid'];
  const key = lookup(alg, typeof kid === 'string' ? kid : undefined);
  if (key === undefined) return undefined;

  if (!signatureValid(alg, key, Buffer.from(token.slice(0, second), 'ascii'), Buffer.from(sig, 'base64url'))) {
    return fail('token signature verification failed');
  }

  const payload = decodeJson(body);
  if (!isPlainObject(payload)) return fail('invalid token: JWT Claims Set must be a top-level JSON object');
  return checkClaims(payload, rules, Math.floor(nowMs / 1000));
}

function checkClaims(payload: Record<string, unknown>, rules: ClaimRules, now: number): FastVerdict {
  const tolerance = rules.clockToleranceS;
  const { iat, nbf, exp, iss, aud } = payload;
  if (iat !== undefined && typeof iat !== 'number') return fail('invalid token: "iat" claim must be a number');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') return fail('invalid token: "nbf" claim must be a number');
    if (nbf > now + tolerance) return fail('invalid token: "nbf" claim timestamp check failed');
  }
  if (exp !== undefined) {
    if (typeof exp !== 'number') return fail('invalid token: "exp" claim must be a number');
    if (exp <= now - tolerance) return { ok: false, error: 'TOKEN_EXPIRED', message: 'token expired' };
  }
  if (rules.issuer !== undefined) {
    if (iss === undefined) return fail('invalid token: missing required "iss" claim');
    if (typeof iss !== 'string' || !rules.issuer.includes(iss)) return fail('invalid token: unexpected "iss" claim value');
  }
  if (rules.audience !== undefined) {
    if (aud === undefined) return fail('invalid token: missing required "aud" claim');
    const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!values.some((a) => typeof a === 'string' && rules.audience!.includes(a))) return fail('invalid token: unexpected "aud" claim value');
  }
  return { ok: true, payload };
}

/**
 * A synchronous view of the keys jose has fetched from a JWKS endpoint: rebuilt whenever jose's
 * cache changes, trusted only while jose considers it fresh. Keys without `kid`, duplicated
 * `kid`s and anything ambiguous are left to jose.
 */
export class JwksMirror {
  private byKid = new Map<string, { key: KeyObject; alg: string | undefined }>();
  private seen: string | undefined;

  constructor(private readonly remote: RemoteJWKSet) {}

  /** Re-reads jose's cache (cheap when unchanged). Call after jose verified or fetched. */
  refresh(): void {
    const set: JSONWebKeySet | undefined = this.remote.jwks();
    if (set === undefined) return;
    const fingerprint = JSON.stringify(set.keys.map((k) => [k.kid, k.alg, k.n ?? k.x, k.y]));
    if (fingerprint === this.seen) return;
    this.seen = fingerprint;
    const counts = new Map<string, number>();
    for (const jwk of set.keys) if (typeof jwk.kid === 'string') counts.set(jwk.kid, (counts.get(jwk.kid) ?? 0) + 1);
    const next = new Map<string, { key: KeyObject; alg: string | undefined }>();
    for (const jwk of set.keys) {
      if (typeof jwk.kid !== 'string' || counts.get(jwk.kid) !== 1) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) continue;
      try {
        next.set(jwk.kid, { key: createPublicKey({ key: jwk as never, format: 'jwk' }), alg: typeof jwk.alg === 'string' ? jwk.alg : undefined });
      } catch {
        // jose will report this key when a token needs it.
      }
    }
    this.byKid = next;
  }

  readonly lookup: SyncKeyLookup = (alg, kid) => {
    if (kid === undefined || !this.remote.fresh) return undefined;
    const entry = this.byKid.get(kid);
    if (entry === undefined || (entry.alg !== undefined && entry.alg !== alg) || !keyFitsAlgorithm(entry.key, alg)) return undefined;
    return entry.key;
  };
}
