import type { KvEntry, KvStore } from '@session-mesh/bus';
import { encodeId, tryDecodeId } from '@session-mesh/protocol';
import { createRateLimitedLog, type Logger } from '@session-mesh/runtime';

/** Ledger keys in the registry's bucket: `announced.<encoded user id>`, present while the user was last announced online. */
export const ANNOUNCED_KEY_PREFIX = 'announced.';

export interface AnnouncedLedgerOptions {
  readonly kv: KvStore;
  readonly logger: Logger;
  /** Ledger writes outstanding at once (a takeover after a long gap may queue many). */
  readonly maxInFlight?: number;
  /** Reading the ledger at takeover fails after this long (the announcer retries). */
  readonly loadTimeoutMs?: number;
}

/**
 * What the cluster's presence subscribers were last told: the set of users last announced
 * ONLINE, kept in the registry's KV bucket so that the next leader can read it after this one
 * dies. The leader keeps an in-memory mirror and writes every change behind it (a key per online
 * user, deleted when the user is announced offline). Writes for one user never overlap and are
 * coalesced: only the latest status of a user is written, in order.
 */
export class AnnouncedLedger {
  private readonly online = new Set<string>();
  /** user -> status still to be written (true = online) */
  private readonly pending = new Map<string, boolean>();
  /** user -> status being written */
  private readonly inFlight = new Map<string, boolean>();
  private readonly idle = new Set<() => void>();
  private readonly maxInFlight: number;
  private readonly warn;

  constructor(private readonly options: AnnouncedLedgerOptions) {
    this.maxInFlight = options.maxInFlight ?? 64;
    this.warn = createRateLimitedLog(options.logger);
  }

  /** Replaces the mirror with what the bucket holds now (called when this replica becomes leader). */
  async load(): Promise<number> {
    const { kv } = this.options;
    const found = new Set<string>();
    let ready = false;
    const onEntry = (e: KvEntry): void => {
      if (ready || !e.key.startsWith(ANNOUNCED_KEY_PREFIX)) return;
      const user = tryDecodeId(e.key.slice(ANNOUNCED_KEY_PREFIX.length));
      if (user === undefined) return;
      if (e.operation === 'PUT') found.add(user);
      else found.delete(user);
    };
    let signalReady!: () => void;
    const initialValues = new Promise<void>((resolve) => (signalReady = resolve));
    const watching = kv.watch(onEntry, () => {
      ready = true;
      signalReady();
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const ms = this.options.loadTimeoutMs ?? 10_000;
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms reading the announced-presence ledger`)), ms);
    });
    try {
      await Promise.race([Promise.all([initialValues, watching]), timeout]);
    } finally {
      clearTimeout(timer);
      void watching.then((stop) => stop(), () => undefined);
    }
    this.online.clear();
    for (const user of found) this.online.add(user);
    // Our own writes not yet in the bucket are newer than what it holds.
    for (const [user, isOnline] of [...this.inFlight, ...this.pending]) {
      if (isOnline) this.online.add(user);
      else this.online.delete(user);
    }
    return this.online.size;
  }

  isOnline(user: string): boolean {
    return this.online.has(user);
  }

  /** Users last announced online. */
  onlineUsers(): IterableIterator<string> {
    return this.online.values();
  }

  /** Records an announcement just published; the bucket follows asynchronously. */
  record(user: string, online: boolean): void {
    if (online) this.online.add(user);
    else this.online.delete(user);
    this.pending.set(user, online);
    this.pump();
  }

  /** Writes queued or retried (after a failed write) outstanding. */
  backlog(): number {
    return this.pending.size + this.inFlight.size;
  }

  /** Starts queued writes; the sweep calls it again to retry failed ones. */
  pump(): void {
    for (const [user, online] of this.pending) {
      if (this.inFlight.size >= this.maxInFlight) return;
      if (this.inFlight.has(user)) continue;
      this.pending.delete(user);
      this.inFlight.set(user, online);
      void this.write(user, online);
    }
  }

  /** Resolves once every recorded announcement is in the bucket (or failed to be written). */
  settled(): Promise<void> {
    this.pump();
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private async write(user: string, online: boolean): Promise<void> {
    const { kv } = this.options;
    const key = ANNOUNCED_KEY_PREFIX + encodeId(user);
    let failed = false;
    try {
      if (online) await kv.put(key, new TextEncoder().encode(JSON.stringify({ at: Date.now() })));
      else await kv.delete(key);
    } catch (err) {
      failed = true;
      // Written again by a later pump (the sweep's), unless a newer status superseded it meanwhile.
      if (!this.pending.has(user)) this.pending.set(user, online);
      this.warn('ledger-write', { err, backlog: this.backlog() }, 'could not record an announcement in the ledger (will retry)');
    } finally {
      this.inFlight.delete(user);
    }
    if (!failed && this.pending.size > 0) this.pump();
    if (this.inFlight.size === 0) {
      for (const resolve of this.idle) resolve();
      this.idle.clear();
    }
  }
}
