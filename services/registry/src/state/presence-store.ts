import type { ConnectionRecord } from '@session-mesh/protocol';

/**
 * The registry's view of the cluster: every open connection, indexed by user (then session),
 * by session and by edge. A pure data structure: no I/O, no clocks. Every mutation reports the
 * users whose online/offline status it changed, so the caller decides what to announce.
 *
 * Session ids are global (subjects address a session by its id alone), so the session index is
 * keyed by session id; the user index nests sessions under their user.
 */
export interface PresenceTransition {
  readonly user: string;
  readonly status: 'online' | 'offline';
  /** Connections the user has after the change. */
  readonly connections: number;
}

export interface StoreChange {
  /** Connections that left the store (disconnected, purged, or replaced by a snapshot). */
  readonly removed: readonly ConnectionRecord[];
  /** Connections that entered the store. */
  readonly added: readonly ConnectionRecord[];
  readonly transitions: readonly PresenceTransition[];
}

export interface PresenceStats {
  readonly users: number;
  readonly sessions: number;
  readonly connections: number;
  readonly edges: ReadonlyArray<{ readonly edge: string; readonly connections: number }>;
}

/** Read-only queries, what the query responder and the in-process composition need. */
export interface PresenceView {
  connectionsOfUser(user: string): ConnectionRecord[];
  connectionsOfSession(session: string): ConnectionRecord[];
  connectionsOnEdge(edge: string): ConnectionRecord[];
  countOnEdge(edge: string): number;
  countOfUser(user: string): number;
  isOnline(user: string): boolean;
  /** Every user with at least one connection. */
  onlineUsers(): IterableIterator<string>;
  edges(): string[];
  stats(): PresenceStats;
  get(conn: string): ConnectionRecord | undefined;
}

const EMPTY: StoreChange = { removed: [], added: [], transitions: [] };

export class PresenceStore implements PresenceView {
  private readonly byConn = new Map<string, ConnectionRecord>();
  /** user -> session -> connection ids */
  private readonly byUser = new Map<string, Map<string, Set<string>>>();
  /** user -> connection count (kept alongside byUser so counting is O(1)) */
  private readonly userCounts = new Map<string, number>();
  private readonly bySession = new Map<string, Set<string>>();
  private readonly byEdge = new Map<string, Set<string>>();
  /** The tracker of the transaction in progress, if any. */
  private active: Tracker | undefined;

  /**
   * Adds a connection. The same connection seen again (a duplicate event) only refreshes its
   * lastActivity; the same id with another user/session/client/edge replaces the earlier record.
   */
  connect(record: ConnectionRecord): StoreChange {
    const existing = this.byConn.get(record.conn);
    if (existing !== undefined && sameIdentity(existing, record)) {
      if (record.lastActivity > existing.lastActivity) this.byConn.set(record.conn, { ...existing, lastActivity: record.lastActivity });
      return EMPTY;
    }
    return this.batch((tracker) => {
      if (existing !== undefined) this.remove(existing, tracker);
      this.insert(record, tracker);
    });
  }

  /**
   * Removes a connection; unknown ids (already purged, never seen) are a no-op, and so is a
   * disconnect reported by another edge than the one holding the connection (a stale event).
   */
  disconnect(conn: string, edge?: string): StoreChange {
    const existing = this.byConn.get(conn);
    if (existing === undefined || (edge !== undefined && existing.edge !== edge)) return EMPTY;
    return this.batch((tracker) => this.remove(existing, tracker));
  }

  /** Records activity; never moves lastActivity backwards. Returns false for unknown connections. */
  activity(conn: string, at: number): boolean {
    const existing = this.byConn.get(conn);
    if (existing === undefined) return false;
    if (at > existing.lastActivity) this.byConn.set(conn, { ...existing, lastActivity: at });
    return true;
  }

  /**
   * Makes the store's connections on `edge` exactly `records` (a complete snapshot of that edge).
   * Records naming another edge are ignored and counted in `ignored`. Users whose connections
   * merely moved around (removed and re-added) report no transition.
   */
  replaceEdge(edge: string, records: readonly ConnectionRecord[]): StoreChange & { readonly ignored: number } {
    let ignored = 0;
    const change = this.batch((tracker) => {
      const incoming = new Map<string, ConnectionRecord>();
      for (const r of records) {
        if (r.edge !== edge) ignored++;
        else incoming.set(r.conn, r);
      }
      for (const conn of [...(this.byEdge.get(edge) ?? [])]) {
        const existing = this.byConn.get(conn);
        const next = incoming.get(conn);
        if (existing === undefined) continue;
        if (next !== undefined && sameIdentity(existing, next)) {
          // Unchanged connection: keep it, with the later activity.
          if (next.lastActivity > existing.lastActivity) this.byConn.set(conn, { ...existing, lastActivity: next.lastActivity });
          incoming.delete(conn);
        } else {
          this.remove(existing, tracker);
        }
      }
      for (const r of incoming.values()) {
        const elsewhere = this.byConn.get(r.conn);
        if (elsewhere !== undefined) this.remove(elsewhere, tracker);
        this.insert(r, tracker);
      }
    });
    return { ...change, ignored };
  }

  /** Removes every connection of an edge (the edge was lost). */
  purgeEdge(edge: string): StoreChange {
    const conns = this.byEdge.get(edge);
    if (conns === undefined || conns.size === 0) {
      this.byEdge.delete(edge);
      return EMPTY;
    }
    return this.batch((tracker) => {
      for (const conn of [...conns]) {
        const existing = this.byConn.get(conn);
        if (existing !== undefined) this.remove(existing, tracker);
      }
    });
  }

  get(conn: string): ConnectionRecord | undefined {
    return this.byConn.get(conn);
  }

  connectionsOfUser(user: string): ConnectionRecord[] {
    const sessions = this.byUser.get(user);
    if (sessions === undefined) return [];
    const out: ConnectionRecord[] = [];
    for (const conns of sessions.values()) this.collect(conns, out);
    return out;
  }

  connectionsOfSession(session: string): ConnectionRecord[] {
    return this.collect(this.bySession.get(session), []);
  }

  connectionsOnEdge(edge: string): ConnectionRecord[] {
    return this.collect(this.byEdge.get(edge), []);
  }

  countOnEdge(edge: string): number {
    return this.byEdge.get(edge)?.size ?? 0;
  }

  countOfUser(user: string): number {
    return this.userCounts.get(user) ?? 0;
  }

  isOnline(user: string): boolean {
    return this.countOfUser(user) > 0;
  }

  onlineUsers(): IterableIterator<string> {
    return this.byUser.keys();
  }

  edges(): string[] {
    return [...this.byEdge.keys()];
  }

  stats(): PresenceStats {
    return {
      users: this.byUser.size,
      sessions: this.bySession.size,
      connections: this.byConn.size,
      edges: [...this.byEdge].map(([edge, conns]) => ({ edge, connections: conns.size })),
    };
  }

  private collect(conns: Set<string> | undefined, out: ConnectionRecord[]): ConnectionRecord[] {
    if (conns === undefined) return out;
    for (const conn of conns) {
      const record = this.byConn.get(conn);
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  /**
   * Runs several mutations as one: the change reports every connection added and removed, and
   * transitions from the state before to the state after (a user who goes offline and back
   * online inside the transaction reports nothing). Mutations inside return empty changes.
   */
  transaction(mutate: () => void): StoreChange {
    return this.batch(() => mutate());
  }

  /** Runs a mutation, then turns the per-user before/after counts into transitions. */
  private batch(mutate: (tracker: Tracker) => void): StoreChange {
    if (this.active !== undefined) {
      mutate(this.active);
      return EMPTY;
    }
    const tracker: Tracker = { before: new Map(), removed: [], added: [] };
    this.active = tracker;
    try {
      mutate(tracker);
    } finally {
      this.active = undefined;
    }
    const transitions: PresenceTransition[] = [];
    for (const [user, before] of tracker.before) {
      const after = this.countOfUser(user);
      if (before === 0 && after > 0) transitions.push({ user, status: 'online', connections: after });
      else if (before > 0 && after === 0) transitions.push({ user, status: 'offline', connections: 0 });
    }
    return { removed: tracker.removed, added: tracker.added, transitions };
  }

  private track(tracker: Tracker, user: string): void {
    if (!tracker.before.has(user)) tracker.before.set(user, this.countOfUser(user));
  }

  private insert(record: ConnectionRecord, tracker: Tracker): void {
    this.track(tracker, record.user);
    this.byConn.set(record.conn, record);
    let sessions = this.byUser.get(record.user);
    if (sessions === undefined) this.byUser.set(record.user, (sessions = new Map()));
    addTo(sessions, record.session, record.conn);
    this.userCounts.set(record.user, this.countOfUser(record.user) + 1);
    addTo(this.bySession, record.session, record.conn);
    addTo(this.byEdge, record.edge, record.conn);
    tracker.added.push(record);
  }

  private remove(record: ConnectionRecord, tracker: Tracker): void {
    this.track(tracker, record.user);
    this.byConn.delete(record.conn);
    const sessions = this.byUser.get(record.user);
    if (sessions !== undefined) {
      removeFrom(sessions, record.session, record.conn);
      if (sessions.size === 0) this.byUser.delete(record.user);
    }
    const count = this.countOfUser(record.user) - 1;
    if (count > 0) this.userCounts.set(record.user, count);
    else this.userCounts.delete(record.user);
    removeFrom(this.bySession, record.session, record.conn);
    removeFrom(this.byEdge, record.edge, record.conn);
    tracker.removed.push(record);
  }
}

interface Tracker {
  /** user -> connection count before the batch */
  readonly before: Map<string, number>;
  readonly removed: ConnectionRecord[];
  readonly added: ConnectionRecord[];
}

function sameIdentity(a: ConnectionRecord, b: ConnectionRecord | undefined): boolean {
  return (
    b !== undefined && a.conn === b.conn && a.user === b.user && a.session === b.session && a.client === b.client && a.edge === b.edge
  );
}

function addTo(index: Map<string, Set<string>>, key: string, conn: string): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(conn);
}

function removeFrom(index: Map<string, Set<string>>, key: string, conn: string): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(conn);
  if (set.size === 0) index.delete(key);
}
