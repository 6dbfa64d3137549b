/**
 * Which edges are alive. Any event from an edge proves it alive; heartbeats also tell how often
 * to expect the next one. An edge silent for max(lostAfterMs, 3 x its heartbeat interval) is
 * lost. Pure bookkeeping: the caller supplies the clock and does the purging.
 */
export interface EdgeInfo {
  readonly edge: string;
  /** Local time of the last event of any kind from this edge. */
  readonly lastSeen: number;
  /** Local time of the last heartbeat; 0 when none arrived yet. */
  readonly lastHeartbeat: number;
  /** From the last heartbeat; undefined before the first one. */
  readonly intervalMs: number | undefined;
}

export class EdgeLiveness {
  private readonly edges = new Map<string, EdgeInfo>();

  constructor(private readonly lostAfterMs: number) {}

  /** Records an event from `edge`; returns true when the edge was unknown until now. */
  seen(edge: string, now: number): boolean {
    const info = this.edges.get(edge);
    this.edges.set(edge, info === undefined ? { edge, lastSeen: now, lastHeartbeat: 0, intervalMs: undefined } : { ...info, lastSeen: Math.max(info.lastSeen, now) });
    return info === undefined;
  }

  /** Records a heartbeat; returns true when the edge was unknown until now. */
  heartbeat(edge: string, now: number, intervalMs: number): boolean {
    const known = this.edges.has(edge);
    const info = this.edges.get(edge);
    this.edges.set(edge, { edge, lastSeen: Math.max(info?.lastSeen ?? 0, now), lastHeartbeat: now, intervalMs });
    return !known;
  }

  has(edge: string): boolean {
    return this.edges.has(edge);
  }

  get(edge: string): EdgeInfo | undefined {
    return this.edges.get(edge);
  }

  /** How long this edge may stay silent before it counts as lost. */
  lostAfter(edge: string): number {
    const interval = this.edges.get(edge)?.intervalMs;
    return interval === undefined ? this.lostAfterMs : Math.max(this.lostAfterMs, 3 * interval);
  }

  /** Edges silent for longer than their allowance at `now`. */
  lost(now: number): string[] {
    const out: string[] = [];
    for (const info of this.edges.values()) {
      if (now - info.lastSeen > this.lostAfter(info.edge)) out.push(info.edge);
    }
    return out;
  }

  /**
   * Counts every edge as seen at `now`: called when this replica's own bus comes back, since
   * silence heard while the replica itself was cut off proves nothing about the edges.
   */
  graceAll(now: number): void {
    for (const [edge, info] of this.edges) this.edges.set(edge, { ...info, lastSeen: Math.max(info.lastSeen, now) });
  }

  forget(edge: string): void {
    this.edges.delete(edge);
  }

  list(): EdgeInfo[] {
    return [...this.edges.values()];
  }
}
