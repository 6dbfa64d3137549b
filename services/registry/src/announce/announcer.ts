import { EVENT_VERSION, type ConnectionRecord, type DisconnectEvent, type PresenceEvent, type Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { PresenceView, StoreChange } from '../state/presence-store.js';
import type { AnnouncedLedger } from './announced-ledger.js';

/** The reason carried by disconnect events the registry emits for connections of a lost edge. */
export const EDGE_LOST_REASON = 'edge-lost';

export interface AnnouncerDeps {
  readonly store: PresenceView;
  readonly ledger: AnnouncedLedger;
  /** Whether this replica holds the leader lease right now. */
  readonly holdsLease: () => boolean;
  readonly publish: (subject: string, data: Uint8Array) => void;
  readonly subjects: Subjects;
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
 * replica could speak), so a leader change loses nothing and repeats nothing.
 */
export class Announcer {
  private state: State = 'follower';
  /** Bumped on every leadership change: a ledger load that finishes too late is ignored. */
  private generation = 0;
  /** Users whose status may differ from the ledger's, not yet compared (the lease lapsed between steps). */
  private readonly dirty = new Set<string>();
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
    if (!this.isLeading()) return;
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
    for (const r of change.removed) this.publishDisconnect(edge, r, at);
    this.changed(change);
    return true;
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
    this.state = 'leading';
    // Everyone the store or the ledger knows of: both directions of difference.
    for (const user of this.deps.store.onlineUsers()) if (!this.deps.ledger.isOnline(user)) this.dirty.add(user);
    for (const user of this.deps.ledger.onlineUsers()) if (!this.deps.store.isOnline(user)) this.dirty.add(user);
    const catchUp = this.dirty.size;
    this.flush();
    this.logger.info({ remembered, catchUp, ms: this.deps.now() - started }, 'leading: announced the presence changes no leader announced');
  }

  private reconcile(user: string, at: number): void {
    const connections = this.deps.store.countOfUser(user);
    const online = connections > 0;
    if (this.deps.ledger.isOnline(user) === online) return;
    const event: PresenceEvent = { v: EVENT_VERSION, user, status: online ? 'online' : 'offline', at, connections };
    this.deps.publish(this.deps.subjects.presence(user), this.encoder.encode(JSON.stringify(event)));
    this.deps.ledger.record(user, online);
  }

  private publishDisconnect(edge: string, r: ConnectionRecord, at: number): void {
    const event: DisconnectEvent = {
      v: EVENT_VERSION,
      edge,
      at,
      conn: r.conn,
      user: r.user,
      session: r.session,
      client: r.client,
      code: 0,
      reason: EDGE_LOST_REASON,
    };
    this.deps.publish(this.deps.subjects.eventDisconnect(), this.encoder.encode(JSON.stringify(event)));
  }
}
