/**
 * Presence announcements this replica HEARD on the bus while it did not lead. The leader writes
 * each announcement to the ledger just after publishing it: a leader killed in between leaves the
 * ledger one step behind what subscribers were told, and its successor would announce that
 * transition a second time. Every announcement that reached NATS also reached this replica (it
 * subscribes to presence like any subscriber), so at takeover what was heard overrides the ledger.
 * Entries older than `keepMs` are dropped: by then the ledger write behind them has landed.
 */
export class HeardPresence {
  /** user -> [online, local time heard] */
  private readonly heard = new Map<string, readonly [boolean, number]>();

  constructor(private readonly keepMs: number) {}

  record(user: string, online: boolean, now: number): void {
    this.heard.delete(user);
    this.heard.set(user, [online, now]);
  }

  /** Statuses heard within the last `keepMs`, oldest first. */
  recent(now: number): Array<readonly [string, boolean]> {
    this.prune(now);
    return [...this.heard].map(([user, [online]]) => [user, online] as const);
  }

  /** Map order is insertion order and record() re-inserts: the oldest entries come first. */
  prune(now: number): void {
    for (const [user, [, at]] of this.heard) {
      if (now - at <= this.keepMs) return;
      this.heard.delete(user);
    }
  }

  clear(): void {
    this.heard.clear();
  }

  get size(): number {
    return this.heard.size;
  }
}
