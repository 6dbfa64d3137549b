import type { ConnectEvent, ConnectionRecord, DisconnectEvent, SnapshotEvent } from '@session-mesh/protocol';

/**
 * Bookkeeping for rebuilding the presence state from edge snapshots: gathering the parts of a
 * snapshot, remembering which edges were asked and when, and spotting drift (an edge whose
 * heartbeat count disagrees with ours twice in a row). Pure: the caller supplies the clock,
 * publishes the requests and applies the completed snapshots.
 */
export type EdgeEvent = { readonly kind: 'connect'; readonly event: ConnectEvent } | { readonly kind: 'disconnect'; readonly event: DisconnectEvent };

export interface CompletedSnapshot {
  readonly edge: string;
  readonly snapshotId: string;
  readonly connections: ConnectionRecord[];
  /**
   * Connect/disconnect events of this edge that arrived while the parts were gathered: they may
   * be newer than the snapshot, so the caller re-applies them after replacing the edge's state.
   */
  readonly buffered: readonly EdgeEvent[];
}

interface Assembly {
  readonly snapshotId: string;
  readonly parts: number;
  readonly received: Map<number, readonly ConnectionRecord[]>;
  readonly startedAt: number;
  readonly buffered: EdgeEvent[];
}

export interface SnapshotSyncOptions {
  /** Gathering a multi-part snapshot is abandoned after this long. */
  readonly assemblyTimeoutMs: number;
  /** A request counts as outstanding (and is not repeated) for this long, unless told otherwise per request. */
  readonly requestTimeoutMs: number;
  /** Consecutive heartbeats whose count differs from ours before asking for a snapshot. */
  readonly driftHeartbeats?: number;
}

/** At most this many different snapshots of one edge are gathered at once. */
const MAX_ASSEMBLIES_PER_EDGE = 4;

export class SnapshotSync {
  private readonly assemblies = new Map<string, Assembly[]>();
  /** edge -> when a snapshot was last requested from it, and how long that request counts */
  private readonly requested = new Map<string, { readonly at: number; readonly timeoutMs: number }>();
  private readonly drift = new Map<string, number>();
  /** edge -> `at` of the last heartbeat counted */
  private readonly lastBeat = new Map<string, number>();
  private allRequestedAt = Number.NEGATIVE_INFINITY;
  private readonly driftHeartbeats: number;

  constructor(private readonly options: SnapshotSyncOptions) {
    this.driftHeartbeats = options.driftHeartbeats ?? 2;
  }

  /** Records a snapshot request sent to every edge. */
  requestedAll(now: number): void {
    this.allRequestedAt = now;
  }

  /** Whether a request to every edge went out less than `ms` ago. */
  requestedAllWithin(now: number, ms: number): boolean {
    return now - this.allRequestedAt < ms;
  }

  /**
   * Whether asking `edge` for a snapshot now would be useful: nothing outstanding for it and, when
   * `coveredByAll`, no recent request to every edge (which it answers too).
   */
  shouldRequest(edge: string, now: number, options: { timeoutMs?: number; coveredByAll?: boolean } = {}): boolean {
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    if (this.assemblies.has(edge)) return false;
    if ((options.coveredByAll ?? true) && now - this.allRequestedAt < timeoutMs) return false;
    const last = this.requested.get(edge);
    return last === undefined || now - last.at >= last.timeoutMs;
  }

  requestedEdge(edge: string, now: number, timeoutMs = this.options.requestTimeoutMs): void {
    this.requested.set(edge, { at: now, timeoutMs });
    this.drift.delete(edge);
  }

  /**
   * Feeds one heartbeat's connection count; returns true when it is time to ask the edge for a
   * snapshot (its count differed from ours in `driftHeartbeats` consecutive heartbeats).
   */
  heartbeatCount(edge: string, at: number, reported: number, ours: number): boolean {
    // An edge splits a heartbeat with much activity into several messages sharing `at`: one beat.
    if (this.lastBeat.get(edge) === at) return false;
    this.lastBeat.set(edge, at);
    if (reported === ours || this.assemblies.has(edge)) {
      this.drift.delete(edge);
      return false;
    }
    const misses = (this.drift.get(edge) ?? 0) + 1;
    this.drift.set(edge, misses);
    return misses >= this.driftHeartbeats;
  }

  /** Adds one part; returns the snapshot when it is complete. */
  addPart(event: SnapshotEvent, now: number): CompletedSnapshot | undefined {
    const list = this.assemblies.get(event.edge) ?? [];
    let assembly = list.find((a) => a.snapshotId === event.snapshotId);
    if (assembly === undefined || assembly.parts !== event.parts) {
      if (assembly !== undefined) list.splice(list.indexOf(assembly), 1);
      assembly = { snapshotId: event.snapshotId, parts: event.parts, received: new Map(), startedAt: now, buffered: [] };
      list.push(assembly);
      while (list.length > MAX_ASSEMBLIES_PER_EDGE) list.shift();
    }
    assembly.received.set(event.part, event.connections);
    if (assembly.received.size < assembly.parts) {
      this.assemblies.set(event.edge, list);
      return undefined;
    }
    // Complete: older, unfinished snapshots of this edge are superseded by this one.
    const index = list.indexOf(assembly);
    const rest = list.slice(index + 1);
    if (rest.length > 0) this.assemblies.set(event.edge, rest);
    else this.assemblies.delete(event.edge);
    this.requested.delete(event.edge);
    this.drift.delete(event.edge);
    const connections: ConnectionRecord[] = [];
    for (let part = 0; part < assembly.parts; part++) connections.push(...(assembly.received.get(part) ?? []));
    return { edge: event.edge, snapshotId: assembly.snapshotId, connections, buffered: assembly.buffered };
  }

  /** Keeps a copy of a connect/disconnect event if a snapshot of its edge is being gathered. */
  bufferIfGathering(edge: string, event: EdgeEvent): void {
    const list = this.assemblies.get(edge);
    if (list === undefined) return;
    for (const a of list) a.buffered.push(event);
  }

  /** Drops abandoned assemblies; returns the edges they belonged to. */
  expire(now: number): string[] {
    const out: string[] = [];
    for (const [edge, list] of this.assemblies) {
      const alive = list.filter((a) => now - a.startedAt < this.options.assemblyTimeoutMs);
      if (alive.length === list.length) continue;
      out.push(edge);
      if (alive.length > 0) this.assemblies.set(edge, alive);
      else this.assemblies.delete(edge);
    }
    return out;
  }

  /** Snapshots asked for or being gathered and not yet timed out (for readiness). */
  outstanding(now: number): string[] {
    const out = new Set<string>(this.assemblies.keys());
    for (const [edge, r] of this.requested) if (now - r.at < r.timeoutMs) out.add(edge);
    return [...out];
  }

  /** Forgets everything about an edge (it was lost and purged). */
  forget(edge: string): void {
    this.assemblies.delete(edge);
    this.requested.delete(edge);
    this.drift.delete(edge);
    this.lastBeat.delete(edge);
  }
}
