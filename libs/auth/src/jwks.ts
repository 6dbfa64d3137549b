import { createPublicKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { keyFitsAlgorithm, type SyncKeyLookup } from './fast-path.js';

export interface JwksOptions {
  readonly url: URL;
  /** After any fetch (success or failure), how long before the next one (unknown kids wait). */
  readonly cooldownMs: number;
  /** How long a fetched set is fresh; past it, the next token triggers a refresh in the background. */
  readonly cacheMaxAgeMs: number;
  /** How long past cacheMaxAgeMs the last set is still served while refreshes fail; then tokens are refused. */
  readonly maxStaleMs: number;
  /** HTTP timeout of one fetch. */
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/** The set could not be fetched and no usable one is cached: jose passes this error through. */
export class JwksUnavailableError extends errors.JOSEError {
  static override code = 'ERR_JWKS_UNAVAILABLE';
  override code = 'ERR_JWKS_UNAVAILABLE';
  override name = 'JwksUnavailableError';
}

interface FetchedSet {
  readonly forJose: ReturnType<typeof createLocalJWKSet>;
  readonly byKid: ReadonlyMap<string, { key: KeyObject; alg: string | undefined }>;
  readonly fetchedAt: number;
}

/**
 * A JWKS endpoint's keys, for both verification paths (jose's resolver and the synchronous lookup),
 * so both always see the same set.
 *
 * Replaces jose's createRemoteJWKSet, which has no pause after a FAILED fetch (while the endpoint
 * is down, every unknown-kid token fetches again) and refuses every token, known kids included,
 * once the set is older than its max age and the endpoint cannot be reached. Here:
 * - one fetch at a time; concurrent tokens wait for the fetch in flight;
 * - after every fetch attempt, `cooldownMs` before the next one, whatever the outcome;
 * - a set past `cacheMaxAgeMs` is refreshed in the background while still served, and is served
 *   for at most `maxStaleMs` more if refreshes fail (a bounded outage does not refuse known kids;
 *   a retired key cannot live forever).
 */
export class JwksKeys {
  private current: FetchedSet | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastError: string | undefined;
  private pending: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: JwksOptions) {
    this.now = options.now ?? Date.now;
  }

  private usable(set: FetchedSet | undefined): set is FetchedSet {
    return set !== undefined && this.now() < set.fetchedAt + this.options.cacheMaxAgeMs + this.options.maxStaleMs;
  }

  private stale(set: FetchedSet): boolean {
    return this.now() >= set.fetchedAt + this.options.cacheMaxAgeMs;
  }

  private coolingDown(): boolean {
    return this.now() < this.lastAttemptAt + this.options.cooldownMs;
  }

  /** Fetches the set unless a fetch is in flight (then joins it) or the cooldown runs. Never rejects. */
  refresh(): Promise<void> {
    if (this.pending !== undefined) return this.pending;
    if (this.coolingDown()) return Promise.resolve();
    this.lastAttemptAt = this.now();
    const pending = this.fetchSet().then(
      (set) => {
        this.current = set;
        this.lastError = undefined;
      },
      (err: unknown) => {
        this.lastError = err instanceof Error ? err.message : String(err);
      },
    );
    this.pending = pending.finally(() => {
      this.lastAttemptAt = this.now(); // the cooldown counts from the end of a slow fetch
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchSet(): Promise<FetchedSet> {
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: { accept: 'application/json, application/jwk-set+json' },
      });
    } catch (err) {
      const e = err as Error;
      throw new Error(e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} (expected 200)`);
    }
    let json: JSONWebKeySet;
    try {
      json = (await response.json()) as JSONWebKeySet;
    } catch {
      throw new Error('the answer is not JSON');
    }
    // createLocalJWKSet validates the shape (throws JWKSInvalid with a message that says why).
    const forJose = createLocalJWKSet(json);
    return { forJose, byKid: indexByKid(json), fetchedAt: this.now() };
  }

  private unavailable(): JwksUnavailableError {
    const why = this.lastError ?? 'nothing fetched yet';
    const wait = Math.max(0, Math.ceil((this.lastAttemptAt + this.options.cooldownMs - this.now()) / 1000));
    return new JwksUnavailableError(`${why}${wait > 0 ? `; next fetch in ${wait} s` : ''}`);
  }

  /** The synchronous view: keys of a usable set only; a stale set starts a background refresh. */
  readonly lookup: SyncKeyLookup = (alg, kid) => {
    const set = this.current;
    if (kid === undefined || !this.usable(set)) return undefined;
    if (this.stale(set)) void this.refresh();
    const entry = set.byKid.get(kid);
    if (entry === undefined || (entry.alg !== undefined && entry.alg !== alg) || !keyFitsAlgorithm(entry.key, alg)) return undefined;
    return entry.key;
  };

  /** jose's key resolver over the same set; unknown kids fetch again only outside the cooldown. */
  readonly resolver: JWTVerifyGetKey = async (header, token) => {
    if (!this.usable(this.current)) await this.refresh();
    const set = this.current;
    if (!this.usable(set)) throw this.unavailable();
    if (this.stale(set)) void this.refresh();
    try {
      return await set.forJose(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || (this.pending === undefined && this.coolingDown())) throw err;
      await this.refresh();
      const next = this.current;
      if (next === set || !this.usable(next)) throw err;
      return next.forJose(header, token);
    }
  };
}

/**
 * node:crypto keys by `kid`, for the synchronous path. Keys without `kid`, duplicated `kid`s,
 * keys not meant for signatures and keys node cannot import are left out: jose decides for those.
 */
function indexByKid(set: JSONWebKeySet): Map<string, { key: KeyObject; alg: string | undefined }> {
  const counts = new Map<string, number>();
  for (const jwk of set.keys) if (typeof jwk.kid === 'string') counts.set(jwk.kid, (counts.get(jwk.kid) ?? 0) + 1);
  const byKid = new Map<string, { key: KeyObject; alg: string | undefined }>();
  for (const jwk of set.keys) {
    if (typeof jwk.kid !== 'string' || counts.get(jwk.kid) !== 1) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) continue;
    try {
      byKid.set(jwk.kid, { key: createPublicKey({ key: jwk as never, format: 'jwk' }), alg: typeof jwk.alg === 'string' ? jwk.alg : undefined });
    } catch {
      // jose reports this key when a token needs it.
    }
  }
  return byKid;
}
