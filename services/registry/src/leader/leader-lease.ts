import { KvConflictError, type KvStore } from '@session-mesh/bus';
import type { Logger } from '@session-mesh/runtime';

/**
 * Leader election over a KV key, for side effects that must happen once per cluster.
 *
 * The lease value carries its own expiry (`expiresAt`, the holder's clock) because per-key TTL
 * needs nats-server 2.11+. Writes are compare-and-set: create() when the key is absent, and
 * update(revision) to renew or take over, so two replicas never both win the same revision.
 *
 * Clock skew: a follower also treats a lease as expired when its revision has not changed for
 * longer than the lease's ttl by the follower's own clock (as Kubernetes leader election does
 * with its "observed time"), so a holder whose clock runs far ahead cannot block a takeover
 * after it dies. The holder itself stops acting as leader `renewMs` before the lease could
 * expire anywhere (validity counted locally from the start of its last successful write), so
 * two leaders overlap only if clocks are skewed by more than `renewMs`.
 */
export interface LeaseRecord {
  readonly holder: string;
  /** ms since the epoch, holder's clock */
  readonly expiresAt: number;
  readonly ttlMs: number;
  /** When this holder first took the lease (for logs and stats). */
  readonly since: number;
}

export interface ObservedLease {
  readonly revision: number;
  /** undefined when the value is not a lease (garbage) */
  readonly record: LeaseRecord | undefined;
  /** Local time at which this revision was first seen. */
  readonly observedAt: number;
}

export type LeaseDecision =
  | { readonly action: 'create' }
  | { readonly action: 'renew'; readonly revision: number }
  | { readonly action: 'takeover'; readonly revision: number; readonly previous: string | undefined }
  | { readonly action: 'wait'; readonly holder: string; readonly expiresAt: number };

/** What to do next, given the lease as last read (undefined: no key, or a deleted one). */
export function decideLease(observed: ObservedLease | undefined, self: string, now: number): LeaseDecision {
  if (observed === undefined) return { action: 'create' };
  const { record, revision } = observed;
  if (record === undefined) return { action: 'takeover', revision, previous: undefined };
  if (record.holder === self) return { action: 'renew', revision };
  if (isLeaseExpired(observed, now)) return { action: 'takeover', revision, previous: record.holder };
  return { action: 'wait', holder: record.holder, expiresAt: record.expiresAt };
}

export function isLeaseExpired(observed: ObservedLease, now: number): boolean {
  const record = observed.record;
  if (record === undefined) return true;
  return record.expiresAt <= now || now - observed.observedAt > record.ttlMs;
}

export function encodeLease(record: LeaseRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

export function parseLease(data: Uint8Array | undefined): LeaseRecord | undefined {
  if (data === undefined) return undefined;
  try {
    const o = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    const { holder, expiresAt, ttlMs, since } = o;
    if (typeof holder !== 'string' || holder.length === 0) return undefined;
    if (typeof expiresAt !== 'number' || typeof ttlMs !== 'number' || typeof since !== 'number') return undefined;
    if (!Number.isFinite(expiresAt) || !Number.isFinite(ttlMs) || ttlMs <= 0 || !Number.isFinite(since)) return undefined;
    return { holder, expiresAt, ttlMs, since };
  } catch {
    return undefined;
  }
}

export interface LeaderLeaseOptions {
  readonly kv: KvStore;
  readonly key: string;
  /** Unique per process: two processes with the same holder id would both think they lead. */
  readonly holder: string;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Drives {@link decideLease} against a KvStore: one `tick()` per `renewMs` reads the key and
 * creates, renews, takes over or waits. Ticks never overlap.
 */
export class LeaderLease {
  private readonly now: () => number;
  private observed: ObservedLease | undefined;
  /** Revision of our own last successful write while we hold the lease. */
  private heldRevision: number | undefined;
  private since = 0;
  private validUntil = 0;
  private reported = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private lastErrorLog = 0;
  private readonly listeners = new Set<(leader: boolean) => void>();

  constructor(private readonly options: LeaderLeaseOptions) {
    if (options.ttlMs < 2 * options.renewMs) {
      throw new Error(`lease ttl (${options.ttlMs} ms) must be at least twice the renew interval (${options.renewMs} ms)`);
    }
    this.now = options.now ?? Date.now;
  }

  /** Whether this process leads right now (re-checked against the clock on every call). */
  isLeader(): boolean {
    return this.heldRevision !== undefined && this.now() < this.validUntil;
  }

  /** Called after every step that gained or lost the lease (not when validity merely lapses between steps). */
  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.renewMs);
  }

  /** One election step. Concurrent callers share the step in flight. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.inFlight ??= this.step().finally(() => {
      this.inFlight = undefined;
      this.report();
    });
    return this.inFlight;
  }

  /** Stops renewing and releases the lease (expiresAt 0) so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    const revision = this.heldRevision;
    const wasLeader = this.isLeader();
    this.heldRevision = undefined;
    this.report();
    if (revision === undefined || !wasLeader) return;
    try {
      const release: LeaseRecord = { holder: this.options.holder, expiresAt: 0, ttlMs: this.options.ttlMs, since: this.since };
      await this.options.kv.update(this.options.key, encodeLease(release), revision);
      this.options.logger.info('released registry leadership');
    } catch (err) {
      this.options.logger.warn({ err }, 'could not release the leader lease; it expires by itself');
    }
  }

  private async step(): Promise<void> {
    const { kv, key, holder, ttlMs, logger } = this.options;
    try {
      await this.read();
      const startedAt = this.now();
      const decision = decideLease(this.observed, holder, startedAt);
      if (decision.action === 'wait') {
        this.heldRevision = undefined;
        return;
      }
      if (decision.action !== 'renew') this.since = startedAt;
      const record: LeaseRecord = { holder, expiresAt: startedAt + ttlMs, ttlMs, since: this.since };
      const value = encodeLease(record);
      const revision =
        decision.action === 'create' ? await kv.create(key, value) : await kv.update(key, value, decision.revision);
      if (decision.action === 'takeover') {
        logger.info({ previous: decision.previous ?? null }, 'took over an expired leader lease');
      }
      this.heldRevision = revision;
      this.validUntil = startedAt + ttlMs - this.options.renewMs;
      this.observed = { revision, record, observedAt: startedAt };
    } catch (err) {
      if (err instanceof KvConflictError) {
        // Another replica wrote first: we are (or stay) a follower; the next tick re-reads.
        this.heldRevision = undefined;
        this.observed = undefined;
        return;
      }
      const now = this.now();
      if (now - this.lastErrorLog > 10_000) {
        this.lastErrorLog = now;
        logger.warn({ err }, 'leader lease step failed (leadership ends when the lease runs out)');
      }
    }
  }

  private async read(): Promise<void> {
    const entry = await this.options.kv.get(this.options.key);
    if (entry === undefined || entry.operation === 'DEL' || entry.value === undefined) {
      this.observed = undefined;
      return;
    }
    if (this.observed?.revision === entry.revision) return;
    this.observed = { revision: entry.revision, record: parseLease(entry.value), observedAt: this.now() };
  }

  private report(): void {
    const leader = this.isLeader();
    if (leader === this.reported) return;
    this.reported = leader;
    this.options.logger.info({ holder: this.options.holder }, leader ? 'this replica is now the registry leader' : 'this replica is no longer the registry leader');
    for (const listener of this.listeners) listener(leader);
  }
}
