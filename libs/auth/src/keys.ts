import { createPublicKey, createSecretKey, webcrypto, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importSPKI, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import { keyFitsAlgorithm, type SyncKeyLookup } from './fast-path.js';
import { JwksKeys } from './jwks.js';

/** Algorithms this library verifies. `none` never; ML-DSA not until runtimes ship it. */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
export const RSA_PSS_ALGORITHMS = ['PS256', 'PS384', 'PS512'] as const;
export const EC_ALGORITHMS = ['ES256', 'ES384', 'ES512'] as const;
export const EDDSA_ALGORITHMS = ['EdDSA', 'Ed25519'] as const;
export const ASYMMETRIC_ALGORITHMS = [...RSA_ALGORITHMS, ...EC_ALGORITHMS, ...EDDSA_ALGORITHMS] as const;
export const SUPPORTED_ALGORITHMS: readonly string[] = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS];

const HMAC_HASH: Readonly<Record<string, string>> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };
const CURVE_ALGORITHM: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** Where verification keys come from. Exactly one source per verifier. */
export type TokenKeySource =
  /** Shared HMAC secret (UTF-8 text or raw bytes). */
  | { readonly kind: 'secret'; readonly secret: string | Uint8Array }
  /** PEM-encoded SPKI public key (`-----BEGIN PUBLIC KEY-----`). */
  | { readonly kind: 'public-key'; readonly pem: string }
  /** Path of a file holding a PEM SPKI public key (read once at start-up). */
  | { readonly kind: 'public-key-file'; readonly path: string }
  /** JWKS endpoint; the set is cached and fetched again when a token names an unknown `kid` (see JwksKeys). */
  | {
      readonly kind: 'jwks';
      readonly url: string;
      /** After any fetch, success or failure, how long before the next one (default 30 s). */
      readonly cooldownMs?: number;
      /** How long a fetched set is fresh before a background refresh (default 10 min). */
      readonly cacheMaxAgeMs?: number;
      /** How long past cacheMaxAgeMs the last set is still served while the endpoint fails (default 1 h). */
      readonly maxStaleMs?: number;
      /** HTTP timeout of one fetch (default 5 s). */
      readonly timeoutMs?: number;
    };

export const JWKS_DEFAULTS = { cooldownMs: 30_000, cacheMaxAgeMs: 600_000, maxStaleMs: 3_600_000, timeoutMs: 5_000 } as const;

export class TokenConfigError extends Error {
  override readonly name = 'TokenConfigError';
}

/** A verification key ready for jose: one pre-imported CryptoKey, or a resolver over several. */
export interface ResolvedKeys {
  readonly key: CryptoKey | JWTVerifyGetKey;
  readonly algorithms: readonly string[];
  readonly description: string;
  /** The same keys as node:crypto KeyObjects, for the synchronous fast path. */
  readonly lookup: SyncKeyLookup;
}

function staticLookup(key: KeyObject, algorithms: readonly string[]): SyncKeyLookup {
  const fits = new Set(algorithms.filter((alg) => keyFitsAlgorithm(key, alg)));
  return (alg) => (fits.has(alg) ? key : undefined);
}

/**
 * Imports keys ONCE at start-up: a pre-imported CryptoKey is jose's fastest path (no per-token
 * import). WebCrypto binds a key to one algorithm, so a key allowed for several algorithms is
 * imported once per algorithm and picked by the token header's `alg` (jose has checked `alg`
 * against the allowed list before asking for the key).
 */
export async function resolveKeys(source: TokenKeySource, requested: readonly string[] | undefined): Promise<ResolvedKeys> {
  for (const alg of requested ?? []) {
    if (!SUPPORTED_ALGORITHMS.includes(alg)) {
      throw new TokenConfigError(`unsupported JWT algorithm ${JSON.stringify(alg)} (supported: ${SUPPORTED_ALGORITHMS.join(', ')})`);
    }
  }
  if (requested !== undefined && requested.length === 0) throw new TokenConfigError('the list of allowed JWT algorithms is empty');

  switch (source.kind) {
    case 'secret': {
      const bytes = typeof source.secret === 'string' ? new TextEncoder().encode(source.secret) : source.secret;
      if (bytes.length === 0) throw new TokenConfigError('the JWT secret is empty');
      const algorithms = pick(requested, HMAC_ALGORITHMS, 'an HMAC secret');
      const keys = new Map<string, CryptoKey>();
      for (const alg of algorithms) {
        const key = await webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: HMAC_HASH[alg]! }, false, ['verify']);
        keys.set(alg, key as CryptoKey);
      }
      return {
        key: fromMap(keys),
        algorithms,
        description: `HMAC secret (${algorithms.join(', ')})`,
        lookup: staticLookup(createSecretKey(bytes), algorithms),
      };
    }
    case 'public-key':
    case 'public-key-file': {
      let pem: string;
      if (source.kind === 'public-key-file') {
        try {
          pem = await readFile(source.path, 'utf8');
        } catch (err) {
          throw new TokenConfigError(`cannot read the JWT public key file ${source.path}: ${(err as Error).message}`);
        }
      } else {
        pem = source.pem;
      }
      const origin = source.kind === 'public-key-file' ? `public key file ${source.path}` : 'public key';
      const compatible = compatibleAlgorithms(pem, origin);
      const algorithms = pick(requested, compatible, `this ${origin}`);
      const keys = new Map<string, CryptoKey>();
      for (const alg of algorithms) {
        try {
          keys.set(alg, await importSPKI(pem.trim(), alg));
        } catch (err) {
          throw new TokenConfigError(`cannot import the JWT ${origin} for ${alg}: ${(err as Error).message}`);
        }
      }
      return {
        key: fromMap(keys),
        algorithms,
        description: `${origin} (${algorithms.join(', ')})`,
        lookup: staticLookup(createPublicKey({ key: pem, format: 'pem' }), algorithms),
      };
    }
    case 'jwks': {
      let url: URL;
      try {
        url = new URL(source.url);
      } catch {
        throw new TokenConfigError(`the JWKS URL ${JSON.stringify(source.url)} is not a URL`);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TokenConfigError('the JWKS URL must be http(s)');
      const algorithms = pick(requested, ASYMMETRIC_ALGORITHMS, 'a JWKS');
      const jwks = new JwksKeys({
        url,
        cooldownMs: source.cooldownMs ?? JWKS_DEFAULTS.cooldownMs,
        cacheMaxAgeMs: source.cacheMaxAgeMs ?? JWKS_DEFAULTS.cacheMaxAgeMs,
        maxStaleMs: source.maxStaleMs ?? JWKS_DEFAULTS.maxStaleMs,
        timeoutMs: source.timeoutMs ?? JWKS_DEFAULTS.timeoutMs,
      });
      return {
        key: jwks.resolver,
        algorithms,
        description: `JWKS ${url.origin}${url.pathname} (${algorithms.join(', ')})`,
        lookup: jwks.lookup,
      };
    }
  }
}

function pick(requested: readonly string[] | undefined, compatible: readonly string[], what: string): readonly string[] {
  if (requested === undefined) return [...compatible];
  const wrong = requested.filter((alg) => !compatible.includes(alg));
  if (wrong.length > 0) {
    throw new TokenConfigError(`JWT algorithm(s) ${wrong.join(', ')} cannot be verified with ${what} (it allows ${compatible.join(', ')})`);
  }
  return [...new Set(requested)];
}

function fromMap(keys: Map<string, CryptoKey>): CryptoKey | JWTVerifyGetKey {
  if (keys.size === 1) return keys.values().next().value!;
  return (header) => {
    const key = keys.get(header.alg);
    // Unreachable: jose checks `alg` against the same list first.
    if (key === undefined) throw new TokenConfigError(`no key for algorithm ${header.alg}`);
    return key;
  };
}

function compatibleAlgorithms(pem: string, origin: string): readonly string[] {
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new TokenConfigError(`the JWT ${origin} must be a PEM SPKI public key (-----BEGIN PUBLIC KEY-----)`);
  }
  let key;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new TokenConfigError(`the JWT ${origin} is not a valid PEM public key: ${(err as Error).message}`);
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA_ALGORITHMS;
    case 'rsa-pss':
      return RSA_PSS_ALGORITHMS;
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const alg = CURVE_ALGORITHM[curve];
      if (alg === undefined) throw new TokenConfigError(`the JWT ${origin} uses the unsupported curve ${curve}`);
      return [alg];
    }
    case 'ed25519':
      return EDDSA_ALGORITHMS;
    default:
      throw new TokenConfigError(`the JWT ${origin} has the unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}
