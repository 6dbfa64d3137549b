import { KvSettingsMismatchError, openKvWhenReady, type Bus, type KvStore } from '@session-mesh/bus';
import { BLACKLIST_HISTORY, type BlacklistEntry } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import { BlacklistIndex } from './blacklist-index.js';
import { BlacklistStore } from './blacklist-store.js';
import { unavailable } from './errors.js';

export interface BlacklistBucketOptions {
  readonly bus: Bus;
  readonly bucket: string;
  readonly replicas: number;
  readonly logger: Logger;
  readonly now: () => number;
  /** First wait while JetStream cannot serve the bucket; doubles up to maxRetryMs (openKvWhenReady's defaults otherwise). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

/**
 * The admin API's side of the blacklist bucket. The admin API OWNS the bucket: it creates it with
 * MESH_KV_REPLICAS and the history above (edges only open it). Opening happens in the background
 * and is retried for as long as JetStream cannot serve it (a fresh cluster has no meta leader for
 * a while): meanwhile readiness fails and the routes that need the bucket answer 503, but the
 * process stays up. Once open, a watch keeps a local index current, which is what admin JWTs are
 * checked against (the same revocation as connections), without a KV round trip per request.
 */
export class BlacklistBucket {
  readonly index = new BlacklistIndex();
  private store: BlacklistStore | undefined;
  private loaded = false;
  private readonly abort = new AbortController();
  private stopWatch: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastProblem = 'blacklist bucket not opened yet';
  private opening: Promise<void> | undefined;
  private lastLogAt = 0;

  constructor(private readonly options: BlacklistBucketOptions) {}

  /** Starts opening the bucket; never rejects (failures are retried, logged and shown in readiness). */
  start(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('blacklist bucket stopped'));
    clearTimeout(this.retryTimer);
    this.stopWatch?.();
    this.stopWatch = undefined;
    await this.opening;
  }

  /** Readiness: the bucket is open and its entries are loaded. */
  readiness(): true | string {
    return this.loaded ? true : this.lastProblem;
  }

  /** The store, or 503 while the bucket is not open. */
  requireStore(): BlacklistStore {
    if (this.store === undefined) throw unavailable('kv_unavailable', `the blacklist store is unavailable: ${this.lastProblem}`);
    return this.store;
  }

  /**
   * The entry refusing a token with these claims now; `unknown` until the entries are loaded (a
   * token cannot be cleared against a blacklist not read yet).
   */
  refusing(user: string, session: string | undefined, issuedAtMs: number | undefined): BlacklistEntry | undefined | 'unknown' {
    if (!this.loaded) return 'unknown';
    return this.index.refusing(user, session, issuedAtMs, this.options.now());
  }

  /** One janitor round: deletes expired keys, and forgets expired entries locally. */
  async sweep(): Promise<number> {
    if (this.store === undefined) return 0;
    const deleted = await this.store.sweep();
    this.index.purgeExpired(this.options.now());
    return deleted;
  }

  /** Attaches, retrying until it worked or stop() was called. */
  private async open(): Promise<void> {
    const { bucket, logger } = this.options;
    for (;;) {
      try {
        await this.attach();
        return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        // A settings mismatch needs an operator (the bucket was created by someone else with other
        // replicas or history): it stays unready, says why, and checks again now and then.
        const mismatch = err instanceof KvSettingsMismatchError;
        this.lastProblem = `cannot open the blacklist bucket ${bucket}: ${(err as Error).message}`;
        if (mismatch) logger.error({ err, bucket }, 'blacklist bucket exists with other settings than this admin API creates it with');
        else this.logWait(err as Error);
        await this.pause(mismatch ? 30_000 : (this.options.retryMs ?? 1_000));
        if (this.abort.signal.aborted) return;
      }
    }
  }

  /** Opens (creating, as the owner) the bucket once JetStream can serve it, then loads and watches its entries. */
  private async attach(): Promise<void> {
    const { bus, bucket, replicas, logger } = this.options;
    const kv: KvStore = await openKvWhenReady(
      bus,
      bucket,
      { replicas, history: BLACKLIST_HISTORY, create: true },
      {
        signal: this.abort.signal,
        onWait: ({ error }) => {
          this.lastProblem = `cannot open the blacklist bucket ${bucket}: ${error.message}`;
          this.logWait(error);
        },
        ...(this.options.retryMs !== undefined ? { initialDelayMs: this.options.retryMs } : {}),
        ...(this.options.maxRetryMs !== undefined ? { maxDelayMs: this.options.maxRetryMs } : {}),
      },
    );
    this.lastProblem = 'blacklist entries not loaded yet';
    const stopWatch = await kv.watch(
      (entry) => {
        const applied = this.index.apply(entry.key, entry.operation === 'DEL' ? undefined : entry.value);
        if (applied === 'malformed') logger.warn({ key: entry.key }, 'ignoring a malformed blacklist entry (bad JSON or key does not match kind/id)');
      },
      () => {
        this.loaded = true;
        logger.info({ bucket, entries: this.index.size }, 'blacklist loaded');
      },
    );
    if (this.abort.signal.aborted) {
      stopWatch();
      return;
    }
    this.stopWatch = stopWatch;
    this.store = new BlacklistStore(kv, this.options.now);
  }

  /** "Not available yet" is expected on a fresh cluster: logged on the first wait, then at most every 30 s. */
  private logWait(error: Error): void {
    const now = Date.now();
    if (now - this.lastLogAt < 30_000) return;
    this.lastLogAt = now;
    this.options.logger.warn({ err: error, bucket: this.options.bucket }, 'blacklist bucket not available yet; retrying (admin stays unready)');
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.retryTimer = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}
