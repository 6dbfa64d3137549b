import { EVENT_VERSION, eventMsgId, JsHeader, type ConnectionRecord, type DisconnectEvent, type PresenceEvent, type Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { PresenceView, StoreChange } from '../state/presence-store.js';
import type { AnnouncedLedger } from './announced-ledger.js';
import type { HeardPresence } from './heard-presence.js';

/** The reason carried by disconnect events the registry emits for connections of a lost edge. */
export const EDGE_LOST_REASON = 'edge-lost';
/** The reason carried by disconnect events for connections an edge's snapshot no longer holds (their own event was lost). */
export const SNAPSHOT_REMOVED_REASON = 'gone-in-snapshot';

export interface AnnouncerDeps {
  readonly store: PresenceView;
  readonly ledger: AnnouncedLedger;
  /** Whether this replica holds the leader lease right now. */
  readonly holdsLease: () => boolean;
  /** Whether a publish can reach NATS now (the bus is connected): nats.js drops what is published while it reconnects. */
  readonly canPublish: () => boolean;
  /** Announcements heard while not leading (they override a ledger the predecessor had not finished writing). */
  readonly heard: HeardPresence;
  readonly publish: (subject: string, data: Uint8Array, headers?: Record<string, string>) => void;
  readonly subjects: Subjects;
  /**
   * A user whose last connection closed is announced offline only if still offline this long
   * after (0: at once): a tab that reconnects meanwhile (a network change, an edge restart) makes
   * no offline/online pair.
   */
  readonly presenceGraceMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

type State = 'follower' | 'loading' | 'leading';

/**
 * The registry's voice: presence events (`<prefix>.presence.<user>`) and the disconnects of a
 * lost edge's connections, published once per cluster, by the leader only.
 *
 * Presence is announced against the ledger of what was last announced, not against the store's
 * own transitions: a user is announced when the store's status differs from the ledger's. When
 * this replica becomes leader it first reads the ledger its predecessor left in KV, then
 * announces every difference with the presence it holds (users who came or went while no
 * replica could speak), so a leader change loses nothing and repeats nothing. Announcements the
 * predecessor published but had not yet written to the ledger are known from what this replica
 * heard on the bus (heard-presence.ts). While the bus is disconnected nothing is announced: the
 * users stay dirty and are compared again once it is back (a publish made while nats.js reconnects
 * is silently dropped, and the ledger would record an announcement nobody received).
 */
export class Announcer {
  private state: State = 'follower';
  /** Bumped on every leadership change: a ledger load that finishes too late is ignored. */
  private generation = 0;
  /** Users whose status may differ from the ledger's, not yet compared (the lease lapsed between steps). */
  private readonly dirty = new Set<string>();
  /** Users whose last connection closed, and when they may be announced offline (the grace). */
  private readonly goingOffline = new Map<string, number>();
  private readonly encoder = new TextEncoder();
  private readonly logger: Logger;

  constructor(private readonly deps: AnnouncerDeps) {
    this.logger = deps.logger.child({ component: 'announcer' });
  }

  /** Leading: the lease is held AND the predecessor's ledger has been read. */
  isLeading(): boolean {
    return this.state === 'leading' && this.deps.holdsLease();
  }

  /** Follows the leader lease. */
  leadershipChanged(leader: boolean): void {
    this.generation++;
    this.dirty.clear();
    this.goingOffline.clear();
    if (!leader) {
      this.state = 'follower';
      return;
    }
    this.state = 'loading';
    void this.takeOver(this.generation);
  }

  /** A store mutation happened: announce what it changed (leader only). */
  changed(change: StoreChange): void {
    if (this.state !== 'leading') return;
    for (const t of change.transitions) this.dirty.add(t.user);
    this.flush();
  }

  /** Announces the users marked dirty, if this replica may speak now. The registry's sweep calls it too. */
  flush(): void {
    if (!this.isLeading() || !this.deps.canPublish()) return;
    if (this.goingOffline.size > 0) {
      const now = this.deps.now();
      for (const [user, deadline] of this.goingOffline) if (deadline <= now) this.dirty.add(user);
    }
    if (this.dirty.size > 0) {
      const at = this.deps.now();
      for (const user of this.dirty) this.reconcile(user, at);
      this.dirty.clear();
    }
    this.deps.ledger.pump();
  }

  /**
   * The store purged a lost edge: tell everyone its connections are gone (code 0, reason
   * `edge-lost`), then announce the presence changes. Followers only log.
   */
  edgeLost(edge: string, change: StoreChange): boolean {
    if (!this.isLeading()) return false;
    const at = this.deps.now();
    for (const r of change.removed) this.publishDisconnect(edge, r, at, EDGE_LOST_REASON);
    this.changed(change);
    return true;
  }

  /**
   * An edge's snapshot replaced its connections: the ones it no longer holds closed without their
   * disconnect event reaching us (published while the edge was cut off from NATS). Subscribers get
   * that event now (code 0, reason `gone-in-snapshot`), then the presence changes.
   */
  snapshotApplied(edge: string, change: StoreChange): void {
    if (this.isLeading() && change.removed.length > 0) {
      const readded = new Set(change.added.map((r) => r.conn));
      const at = this.deps.now();
      for (const r of change.removed) if (!readded.has(r.conn)) this.publishDisconnect(edge, r, at, SNAPSHOT_REMOVED_REASON);
    }
    this.changed(change);
  }

  /** A presence event seen on the bus: recorded while another replica may be the one speaking. */
  heard(event: PresenceEvent): void {
    if (this.state === 'leading') return;
    this.deps.heard.record(event.user, event.status === 'online', this.deps.now());
  }

  private async takeOver(generation: number): Promise<void> {
    const started = this.deps.now();
    let remembered: number;
    try {
      remembered = await this.deps.ledger.load();
    } catch (err) {
      if (generation !== this.generation) return;
      this.logger.warn({ err }, 'could not read the announced-presence ledger; retrying');
      // Still loading: retry while the lease is ours (the next lease step re-reports a loss).
      setTimeout(() => {
        if (generation === this.generation && this.deps.holdsLease()) void this.takeOver(generation);
      }, 1_000).unref();
      return;
    }
    if (generation !== this.generation) return;
    // What the predecessor told subscribers but may not have written down yet.
    let overridden = 0;
    for (const [user, online] of this.deps.heard.recent(this.deps.now())) {
      if (this.deps.ledger.isOnline(user) === online) continue;
      this.deps.ledger.record(user, online);
      overridden++;
    }
    this.deps.heard.clear();
    this.state = 'leading';
    // Everyone the store or the ledger knows of: both directions of difference.
    for (const user of this.deps.store.onlineUsers()) if (!this.deps.ledger.isOnline(user)) this.dirty.add(user);
    for (const user of this.deps.ledger.onlineUsers()) if (!this.deps.store.isOnline(user)) this.dirty.add(user);
    const catchUp = this.dirty.size;
    this.flush();
    this.logger.info({ remembered, overridden, catchUp, ms: this.deps.now() - started }, 'leading: announced the presence changes no leader announced');
  }

  private reconcile(user: string, at: number): void {
    const connections = this.deps.store.countOfUser(user);
    const online = connections > 0;
    if (online) this.goingOffline.delete(user);
    if (this.deps.ledger.isOnline(user) === online) return;
    if (!online && this.deps.presenceGraceMs > 0) {
      const deadline = this.goingOffline.get(user);
      if (deadline === undefined) this.goingOffline.set(user, at + this.deps.presenceGraceMs);
      if (deadline === undefined || at < deadline) return; // the sweep looks again after the grace
      this.goingOffline.delete(user);
    }
    const status = online ? 'online' : 'offline';
    const event: PresenceEvent = { v: EVENT_VERSION, user, status, at, connections };
    this.deps.publish(this.deps.subjects.presence(user), this.encoder.encode(JSON.stringify(event)), { [JsHeader.MsgId]: eventMsgId.presence(user, status, at) });
    this.deps.ledger.record(user, online);
  }

  private publishDisconnect(edge: string, r: ConnectionRecord, at: number, reason: string): void {
    const event: DisconnectEvent = {
      v: EVENT_VERSION,
      edge,
      at,
      conn: r.conn,
      user: r.user,
      session: r.session,
      client: r.client,
      code: 0,
      reason,
    };
    this.deps.publish(this.deps.subjects.eventDisconnect(), this.encoder.encode(JSON.stringify(event)), { [JsHeader.MsgId]: eventMsgId.disconnect(r.conn) });
  }
}
