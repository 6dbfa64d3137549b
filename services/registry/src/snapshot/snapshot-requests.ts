import type { Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { EdgeLiveness } from '../state/edge-liveness.js';
import type { SnapshotSync } from './snapshot-sync.js';

export interface SnapshotRequestsDeps {
  readonly sync: SnapshotSync;
  readonly liveness: EdgeLiveness;
  readonly publish: (subject: string, data: Uint8Array) => void;
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly now: () => number;
}

export type SnapshotReason = 'unknown edge' | 'drift';

/** A request to every edge covers an unknown edge for this long (its answer is under way). */
const UNKNOWN_EDGE_COVER_MS = 1_000;

/**
 * Asks edges for snapshots (`<prefix>.edges.snapshot`, `<prefix>.edge.<id>.snapshot`) and records
 * the requests in SnapshotSync, which decides whether a request is worth sending.
 */
export class SnapshotRequests {
  private readonly logger: Logger;

  constructor(private readonly deps: SnapshotRequestsDeps) {
    this.logger = deps.logger.child({ component: 'snapshot-requests' });
  }

  /** Every edge answers: at start, and after a bus reconnect (events may have been missed). */
  all(why: string): void {
    this.deps.publish(this.deps.subjects.snapshotRequestAll(), new Uint8Array(0));
    this.deps.sync.requestedAll(this.deps.now());
    this.logger.info({ why }, 'asked every edge for a snapshot');
  }

  /**
   * An unknown edge is asked at once, unless a request to every edge went out within the last
   * second (it is answering that one); drift is always worth a request. An outstanding request to
   * this edge is never repeated before its timeout.
   */
  edge(edge: string, why: SnapshotReason, details: Record<string, unknown> = {}): void {
    const t = this.deps.now();
    const timeoutMs = this.timeoutFor(edge);
    if (why === 'unknown edge' && this.deps.sync.requestedAllWithin(t, UNKNOWN_EDGE_COVER_MS)) return;
    if (!this.deps.sync.shouldRequest(edge, t, { timeoutMs, coveredByAll: false })) return;
    this.deps.publish(this.deps.subjects.snapshotRequestEdge(edge), new Uint8Array(0));
    this.deps.sync.requestedEdge(edge, t, timeoutMs);
    this.logger.info({ edge, why, ...details }, 'asked an edge for a snapshot');
  }

  /** A request counts as outstanding for max(1 s, 2 of the edge's heartbeat intervals). */
  private timeoutFor(edge: string): number {
    return Math.max(1_000, 2 * (this.deps.liveness.get(edge)?.intervalMs ?? 0));
  }
}
