import { KvNotReadyError, openKvWhenReady, type Bus, type KvEntry } from '@session-mesh/bus';
import {
  blacklistKey,
  blacklistRefuses,
  CloseCode,
  isBlacklistActive,
  parseBlacklistEntry,
  type BlacklistEntry,
} from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import { sanitiseReason, type Connection } from '../connection/connection.js';
import { iatMs } from '../connection/identity.js';
import type { Hub } from '../hub/hub.js';

/**
 * A local copy of the blacklist KV bucket, kept current by a watch. Upgrades consult it without a
 * round trip; a new or updated active entry closes matching live connections at once. Expiry is
 * inside each value and enforced on every read (it works on NATS servers without per-key TTL).
 */
export class BlacklistView {
  private readonly entries = new Map<string, BlacklistEntry>();
  private ready = false;
  private stopWatch: (() => void) | undefined;
  private abort: AbortController | undefined;
  /** Why the bucket is not open yet (readiness says it). */
  private waiting: string | undefined;
  closed = 0;

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
  async start(bus: Bus, bucket: string, expectedReplicas: number): Promise<void> {
    const abort = (this.abort = new AbortController());
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
    this.abort?.abort(new Error('edge stopping'));
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  readiness(): true | string {
    return this.ready ? true : (this.waiting ?? 'blacklist not loaded yet');
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
    for (const [key, entry] of this.entries) if (!isBlacklistActive(entry, now)) this.entries.delete(key);
  }

  private apply(entry: KvEntry): void {
    if (entry.operation === 'DEL' || entry.value === undefined) {
      this.entries.delete(entry.key);
      return;
    }
    const parsed = parseBlacklistEntry(entry.value);
    if (parsed === undefined || blacklistKey(parsed.kind, parsed.id) !== entry.key) {
      this.logger.warn({ key: entry.key }, 'ignoring a malformed blacklist entry (bad JSON or key does not match kind/id)');
      this.entries.delete(entry.key);
      return;
    }
    this.entries.set(entry.key, parsed);
    const now = Date.now();
    if (isBlacklistActive(parsed, now)) this.closeMatching(parsed, now);
  }

  private closeMatching(entry: BlacklistEntry, now: number): void {
    const victims: Connection[] = this.hub.targets(entry.kind, entry.id).filter((c) => blacklistRefuses(entry, now, iatMs(c.iatS)));
    if (victims.length === 0) return;
    const reason = sanitiseReason(entry.reason, 'blacklisted');
    for (const conn of victims) if (conn.close(CloseCode.SESSION_BLACKLISTED, reason)) this.closed++;
    this.logger.info({ kind: entry.kind, closed: victims.length }, 'blacklist entry closed live connections');
  }
}
