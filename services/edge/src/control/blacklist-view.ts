import { KvNotReadyError, openKvWhenReady, type Bus, type BusSubscription, type KvBucket, type KvEntry } from '@session-mesh/bus';
import {
  blacklistKey,
  blacklistRefuses,
  CloseCode,
  isBlacklistActive,
  parseBlacklistEntry,
  parseBlacklistSync,
  type BlacklistAck,
  type BlacklistEntry,
  type Subjects,
} from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import { sanitiseReason, type Connection } from '../connection/connection.js';
import { iatMs } from '../connection/identity.js';
import type { Hub } from '../hub/hub.js';

/** How often the view pings NATS, and how long a missing PONG makes its copy count as stale (their sum stays below the admin API's 2 s bound). */
const PING_EVERY_MS = 250;
const STALE_AFTER_MS = 1_500;

/** Where the admin API's direct copies of new entries arrive (see BlacklistView). */
export interface BlacklistSyncOptions {
  readonly subjects: Subjects;
  readonly edgeId: string;
}

/**
 * A local copy of the blacklist KV bucket, kept current by a watch. Upgrades consult it without a
 * round trip; a new or updated active entry closes matching live connections at once. Expiry is
 * inside each value and enforced on every read (it works on NATS servers without per-key TTL).
 *
 * The watch alone can lag by seconds: its consumer lives on one NATS node, and nats.js notices a
 * dead one only after missed heartbeats. So the admin API also sends every new entry to all edges
 * over core NATS (`blacklist.sync`); the view applies it at once and acknowledges it, and the API
 * answers once every live edge has (docs/reliability.md). After a bus reconnect the watch is
 * re-created (a full reload), since the old consumer may sit on the node that went away.
 *
 * An edge silently cut off from NATS (a frozen node, a black-holed network) still believes it is
 * connected for the 10-15 s its bus pings need, and would admit a session blacklisted meanwhile.
 * So the view pings NATS every 250 ms: with a PONG missing for 1.5 s its copy counts as possibly
 * stale and readiness fails, which refuses new upgrades (503 NOT_READY). An edge that cannot
 * acknowledge an entry within the admin API's 2 s bound has thus stopped admitting anyone by the
 * time the 201 names it pending (1.75 s at most).
 */
export class BlacklistView {
  private readonly entries = new Map<string, BlacklistEntry>();
  /** key -> KV revision of the value held, so a late watch update never undoes a newer sync (or the reverse). */
  private readonly revisions = new Map<string, number>();
  private kv: KvBucket | undefined;
  /** Since when a PING to NATS waits for its PONG (undefined: none outstanding). */
  private pingSince: number | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private syncSub: BusSubscription | undefined;
  private offBusEvents: (() => void) | undefined;
  private readonly encoder = new TextEncoder();
  private ready = false;
  private stopWatch: (() => void) | undefined;
  private abort: AbortController | undefined;
  /** Why the bucket is not open yet (readiness says it). */
  private waiting: string | undefined;
  closed = 0;
  /** Entries received through blacklist.sync, and watch reloads after reconnects. */
  synced = 0;
  reloads = 0;

  constructor(
    private readonly hub: Hub,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the bucket and resolves once the initial values are loaded. The admin service owns the
   * bucket (it creates it with the operator's replicas and history); the edge only opens it,
   * waiting (unready, never crashing) while it does not exist yet or JetStream is still forming,
   * and checks its settings.
   */
  async start(bus: Bus, bucket: string, expectedReplicas: number, sync?: BlacklistSyncOptions): Promise<void> {
    const abort = (this.abort = new AbortController());
    if (sync !== undefined) this.listen(bus, sync);
    const onWait = ({ attempt, error }: { attempt: number; error: Error }) => {
      this.waiting = `waiting for KV bucket ${bucket} (created by the admin service): ${error.message}`;
      if (attempt === 1 || attempt % 10 === 0) this.logger.warn({ bucket, attempt, err: error }, 'blacklist bucket not available yet: staying unready');
    };
    for (;;) {
      const kv = await openKvWhenReady(bus, bucket, { create: false }, { signal: abort.signal, onWait });
      const settings = await kv.settings();
      if (settings.replicas !== expectedReplicas) {
        this.logger.warn({ bucket, replicas: settings.replicas, expected: expectedReplicas }, 'the blacklist bucket has other replicas than MESH_KV_REPLICAS (the admin service created it)');
      }
      let markReady!: () => void;
      const loaded = new Promise<void>((resolve) => (markReady = resolve));
      try {
        this.stopWatch = await kv.watch(
          (entry) => this.apply(entry),
          () => {
            this.ready = true;
            this.waiting = undefined;
            this.logger.info({ bucket, entries: this.entries.size }, 'blacklist loaded');
            markReady();
          },
        );
        this.kv = kv;
      } catch (err) {
        if (!(err instanceof KvNotReadyError)) throw err;
        onWait({ attempt: 1, error: err });
        continue;
      }
      await Promise.race([loaded, new Promise((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }))]);
      return;
    }
  }

  stop(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.abort?.abort(new Error('edge stopping'));
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.syncSub?.unsubscribe();
    this.syncSub = undefined;
    this.offBusEvents?.();
    this.offBusEvents = undefined;
  }

  /** Direct copies of new entries, acknowledged; and a watch reload on every bus reconnect. */
  private listen(bus: Bus, { subjects, edgeId }: BlacklistSyncOptions): void {
    // Acks go only where the admin API listens (never to a subject a message could choose freely).
    const ackHead = `${subjects.prefix}.blacklist.ack.`;
    this.syncSub = bus.subscribe(subjects.blacklistSync(), (msg) => {
      const sync = parseBlacklistSync(msg.data);
      if (sync === undefined || !sync.ack.startsWith(ackHead)) {
        this.logger.warn({ bytes: msg.data.length }, 'ignoring a malformed blacklist sync message');
        return;
      }
      this.synced++;
      const closed = this.put(blacklistKey(sync.entry.kind, sync.entry.id), sync.entry, sync.revision);
      const ack: BlacklistAck = { edge: edgeId, revision: sync.revision, closed };
      try {
        bus.publish(sync.ack, this.encoder.encode(JSON.stringify(ack)));
      } catch (err) {
        this.logger.warn({ err }, 'could not acknowledge a blacklist entry');
      }
    });
    this.offBusEvents = bus.onEvent((event) => {
      if (event.type === 'reconnected') void this.reload();
    });
    this.pingTimer = setInterval(() => this.ping(bus), PING_EVERY_MS);
    this.pingTimer.unref();
  }

  private ping(bus: Bus): void {
    if (this.pingSince !== undefined) return;
    const since = (this.pingSince = Date.now());
    const done = (): void => {
      if (this.pingSince === since) this.pingSince = undefined;
    };
    bus.flush().then(done, done);
  }

  /** A new watch over the same map: deletes and updates missed meanwhile arrive as its initial values. */
  private async reload(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined) return;
    this.stopWatch?.();
    this.stopWatch = undefined;
    try {
      this.stopWatch = await kv.watch((entry) => this.apply(entry));
      this.reloads++;
    } catch (err) {
      this.logger.warn({ err }, 'could not re-create the blacklist watch after a reconnect; retrying in 1 s');
      setTimeout(() => void this.reload(), 1_000).unref();
    }
  }

  readiness(now = Date.now()): true | string {
    if (!this.ready) return this.waiting ?? 'blacklist not loaded yet';
    if (this.pingSince !== undefined && now - this.pingSince > STALE_AFTER_MS) {
      return `NATS has not answered a ping for ${now - this.pingSince} ms: the blacklist copy may be stale`;
    }
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry refusing these credentials now, if any. */
  refusing(user: string, session: string, issuedAtMs: number | undefined, now = Date.now()): BlacklistEntry | undefined {
    const bySession = this.entries.get(blacklistKey('session', session));
    if (bySession !== undefined && blacklistRefuses(bySession, now, issuedAtMs)) return bySession;
    const byUser = this.entries.get(blacklistKey('user', user));
    if (byUser !== undefined && blacklistRefuses(byUser, now, issuedAtMs)) return byUser;
    return undefined;
  }

  /** Why these credentials are refused now, or undefined (checked at upgrade and again at open). */
  revokedReason(identity: { readonly user: string; readonly session: string; readonly iatS: number }): string | undefined {
    const entry = this.refusing(identity.user, identity.session, iatMs(identity.iatS));
    return entry === undefined ? undefined : `${entry.kind} blacklisted: ${entry.reason.slice(0, 200)}`;
  }

  /** Forgets expired entries (the admin API deletes them too; this keeps memory flat meanwhile). */
  purgeExpired(now = Date.now()): void {
    for (const [key, entry] of this.entries) {
      if (isBlacklistActive(entry, now)) continue;
      this.entries.delete(key);
      this.revisions.delete(key);
    }
    // Revisions of deleted keys guard against a late sync for a short while only.
    for (const key of this.revisions.keys()) if (!this.entries.has(key)) this.revisions.delete(key);
  }

  private apply(entry: KvEntry): void {
    if ((this.revisions.get(entry.key) ?? 0) > entry.revision) return;
    if (entry.operation === 'DEL' || entry.value === undefined) {
      this.entries.delete(entry.key);
      this.revisions.set(entry.key, entry.revision);
      return;
    }
    const parsed = parseBlacklistEntry(entry.value);
    if (parsed === undefined || blacklistKey(parsed.kind, parsed.id) !== entry.key) {
      this.logger.warn({ key: entry.key }, 'ignoring a malformed blacklist entry (bad JSON or key does not match kind/id)');
      this.entries.delete(entry.key);
      return;
    }
    this.put(entry.key, parsed, entry.revision);
  }

  /** Holds `entry` unless a newer revision is held already; returns the live connections it closed. */
  private put(key: string, entry: BlacklistEntry, revision: number): number {
    if ((this.revisions.get(key) ?? 0) > revision) return 0;
    this.revisions.set(key, revision);
    this.entries.set(key, entry);
    const now = Date.now();
    return isBlacklistActive(entry, now) ? this.closeMatching(entry, now) : 0;
  }

  private closeMatching(entry: BlacklistEntry, now: number): number {
    const victims: Connection[] = this.hub.targets(entry.kind, entry.id).filter((c) => blacklistRefuses(entry, now, iatMs(c.iatS)));
    if (victims.length === 0) return 0;
    const reason = sanitiseReason(entry.reason, 'blacklisted');
    let closed = 0;
    for (const conn of victims) if (conn.close(CloseCode.SESSION_BLACKLISTED, reason)) closed++;
    this.closed += closed;
    this.logger.info({ kind: entry.kind, closed: victims.length }, 'blacklist entry closed live connections');
    return closed;
  }
}
