import type { ConnectEvent, DisconnectEvent, HeartbeatEvent, SnapshotEvent } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { EdgeLiveness } from '../state/edge-liveness.js';
import type { PresenceStore, StoreChange } from '../state/presence-store.js';
import type { SnapshotRequests } from '../snapshot/snapshot-requests.js';
import type { EdgeEvent, SnapshotSync } from '../snapshot/snapshot-sync.js';
import type { EventHandlers } from './event-intake.js';

/** Where the presence changes go (the announcer). */
export interface ChangeSink {
  changed(change: StoreChange): void;
  /** Returns whether the lost edge's disconnects were published (leader only). */
  edgeLost(edge: string, change: StoreChange): boolean;
  /** An edge's snapshot replaced its connections (the removed ones closed without an event reaching us). */
  snapshotApplied(edge: string, change: StoreChange): void;
}

export interface PresenceIntakeDeps {
  readonly store: PresenceStore;
  readonly liveness: EdgeLiveness;
  readonly sync: SnapshotSync;
  readonly requests: SnapshotRequests;
  readonly sink: ChangeSink;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * Applies validated edge events to the presence store: connects and disconnects (buffered while a
 * snapshot of their edge is gathered), heartbeats (liveness, activity, drift), snapshots (an
 * edge's connections replaced wholesale), and the purge of edges that fell silent. Every change
 * goes to the sink; this module never publishes anything itself.
 */
export class PresenceIntake implements EventHandlers {
  private readonly logger: Logger;

  constructor(private readonly deps: PresenceIntakeDeps) {
    this.logger = deps.logger.child({ component: 'presence-intake' });
  }

  connect(event: ConnectEvent): void {
    this.deps.liveness.seen(event.edge, this.deps.now());
    this.apply({ kind: 'connect', event });
  }

  disconnect(event: DisconnectEvent): void {
    // Code 0 is the registry's own purge notice, not a sign of life from the edge.
    if (event.code !== 0) this.deps.liveness.seen(event.edge, this.deps.now());
    this.apply({ kind: 'disconnect', event });
  }

  heartbeat(event: HeartbeatEvent): void {
    const { store, liveness, sync, requests } = this.deps;
    const unknown = liveness.heartbeat(event.edge, this.deps.now(), event.intervalMs);
    for (const [conn, at] of event.activity) store.activity(conn, at);
    if (unknown) {
      requests.edge(event.edge, 'unknown edge');
      return;
    }
    const ours = store.countOnEdge(event.edge);
    if (sync.heartbeatCount(event.edge, event.at, event.connections, ours)) {
      requests.edge(event.edge, 'drift', { reported: event.connections, ours });
    }
  }

  snapshot(event: SnapshotEvent): void {
    const { store, liveness, sync } = this.deps;
    const t = this.deps.now();
    liveness.seen(event.edge, t);
    const done = sync.addPart(event, t);
    if (done === undefined) return;
    let ignored = 0;
    const change = store.transaction(() => {
      ignored = store.replaceEdge(done.edge, done.connections).ignored;
      for (const e of done.buffered) this.applyToStore(e);
    });
    this.logger.info(
      {
        edge: done.edge,
        snapshotId: done.snapshotId,
        connections: store.countOnEdge(done.edge),
        added: change.added.length,
        removed: change.removed.length,
        replayed: done.buffered.length,
        ...(ignored > 0 ? { ignored } : {}),
      },
      'applied an edge snapshot',
    );
    this.deps.sink.snapshotApplied(done.edge, change);
  }

  /** Purges every edge silent for longer than its allowance at `t`. */
  purgeLostEdges(t: number): void {
    for (const edge of this.deps.liveness.lost(t)) this.purge(edge, t);
  }

  private purge(edge: string, t: number): void {
    const { store, liveness, sync } = this.deps;
    const info = liveness.get(edge);
    const change = store.purgeEdge(edge);
    liveness.forget(edge);
    sync.forget(edge);
    const published = this.deps.sink.edgeLost(edge, change);
    this.logger.warn(
      { edge, connections: change.removed.length, lastSeen: info?.lastSeen, silentMs: info ? t - info.lastSeen : undefined, leader: published },
      'edge lost: purged its connections',
    );
  }

  private apply(e: EdgeEvent): void {
    this.deps.sync.bufferIfGathering(e.event.edge, e);
    this.deps.sink.changed(this.applyToStore(e));
  }

  private applyToStore(e: EdgeEvent): StoreChange {
    const { store } = this.deps;
    return e.kind === 'connect' ? store.connect(e.event.connection) : store.disconnect(e.event.conn, e.event.edge);
  }
}
