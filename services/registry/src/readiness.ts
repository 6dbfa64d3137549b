import type { SnapshotSync } from './snapshot/snapshot-sync.js';

/**
 * When a replica's presence is complete enough to answer queries and to lead: once the settle
 * window has passed since start AND no snapshot is outstanding (a request to one edge counts for
 * max(1 s, 2 of its heartbeat intervals), a partly gathered snapshot for 5 s, so an edge that
 * never answers delays readiness only that long). Readiness latches.
 */
export class Readiness {
  private ready = false;
  private resolveReady!: () => void;
  private readonly readyPromise = new Promise<void>((resolve) => (this.resolveReady = resolve));

  private startedAt: number | undefined;

  constructor(private readonly deps: { readonly settleMs: number; readonly sync: SnapshotSync }) {}

  /** The settle window starts with the first request for snapshots. */
  start(t: number): void {
    this.startedAt ??= t;
  }

  get settleMs(): number {
    return this.deps.settleMs;
  }

  isReady(): boolean {
    return this.ready;
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  /** Why the replica is not ready at `t`, or undefined once it may be. */
  reason(t: number): string | undefined {
    if (this.ready) return undefined;
    const { settleMs, sync } = this.deps;
    if (this.startedAt === undefined) return 'starting';
    if (t - this.startedAt < settleMs) return `waiting for edge snapshots (settle window ${settleMs} ms)`;
    const outstanding = sync.outstanding(t);
    if (outstanding.length > 0) return `waiting for snapshots from ${outstanding.length} edge(s): ${outstanding.slice(0, 5).join(', ')}`;
    return undefined;
  }

  /** Latches readiness when its conditions hold; returns true only on the call that latched it. */
  settle(t: number): boolean {
    if (this.ready || this.reason(t) !== undefined) return false;
    this.ready = true;
    this.resolveReady();
    return true;
  }
}
