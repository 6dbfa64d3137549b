import { DURABLE_PUSH_HEADER_BYTES, Opcode, writeDurablePushHeader } from '@session-mesh/protocol';
import { State, type Connection } from '../connection/connection.js';

export type GroupKind = 'user' | 'session';

/**
 * The connections of one user or one session on this edge, and the ONE bus subscription they
 * share (the broker sets `sub` and `ready`; the hub only keeps them with the group).
 */
export class Group {
  /** Created with its first member: `[conn]` allocates one slot, `[]` then push() seventeen. */
  readonly conns: Connection[];
  /** The bus subscription (opaque to the hub). */
  sub: { unsubscribe(): void } | undefined = undefined;
  /** Pending proof that the subscription reached NATS; a second tab awaits the same promise. */
  ready: Promise<void> | undefined = undefined;
  /** The bus refused the subscription: members are being closed, newcomers start a new group. */
  failed = false;
  /** Encoded id, computed on first use (only connections that send messages need it). */
  encoded: string | undefined = undefined;
  /** Durable pushes: the last position received live on this group's subject (0: none yet). */
  lastSeq = 0;

  constructor(
    readonly kind: GroupKind,
    readonly id: string,
    first: Connection,
  ) {
    this.conns = [first];
  }
}

export interface HubStats {
  /** Push frames handed to sockets (targeted and broadcast; drops excluded). */
  deliveries: number;
  broadcasts: number;
}

/**
 * The index of this edge's connections (by counter, user and session) and fan-out to them.
 * Synchronous and free of I/O (no uWS, no NATS): what to subscribe is returned to the caller,
 * frames leave through each connection's own send.
 *
 * Fan-out encodes the PUSH frame once per message into a reusable scratch buffer (uWS copies
 * synchronously on send) and hands the same bytes to every matching connection.
 */
export class Hub {
  readonly bySeq = new Map<number, Connection>();
  readonly users = new Map<string, Group>();
  readonly sessions = new Map<string, Group>();
  readonly stats: HubStats = { deliveries: 0, broadcasts: 0 };
  private scratch = new Uint8Array(64 * 1024);

  get size(): number {
    return this.bySeq.size;
  }

  /** Adds a connection; returns the groups it created (their subscriptions are the caller's job). */
  add(conn: Connection): Group[] {
    this.bySeq.set(conn.seq, conn);
    const created: Group[] = [];
    const user = this.join(this.users, 'user', conn.user, conn, created);
    const session = this.join(this.sessions, 'session', conn.session, conn, created);
    conn.userGroup = user;
    conn.sessionGroup = session;
    // Share the group's id strings: one copy per user/session, not per tab.
    conn.user = user.id;
    conn.session = session.id;
    return created;
  }

  /** Removes a connection (idempotent); returns the groups it left empty (to unsubscribe). */
  remove(conn: Connection): Group[] {
    if (this.bySeq.get(conn.seq) !== conn) return [];
    this.bySeq.delete(conn.seq);
    const emptied: Group[] = [];
    if (conn.userGroup) this.leave(this.users, conn.userGroup, conn, emptied);
    if (conn.sessionGroup) this.leave(this.sessions, conn.sessionGroup, conn, emptied);
    conn.userGroup = undefined;
    conn.sessionGroup = undefined;
    return emptied;
  }

  /** What a connection must await before welcome: undefined when its subscriptions are confirmed. */
  readiness(conn: Connection): Promise<unknown> | undefined {
    const user = conn.userGroup?.ready;
    const session = conn.sessionGroup?.ready;
    if (user === undefined) return session;
    if (session === undefined || session === user) return user;
    return Promise.all([user, session]);
  }

  group(kind: GroupKind, id: string): Group | undefined {
    return (kind === 'user' ? this.users : this.sessions).get(id);
  }

  connection(seq: number): Connection | undefined {
    return this.bySeq.get(seq);
  }

  /**
   * A push to a group's welcomed connections, narrowed to a session and/or a client when given.
   * Returns how many sockets took it.
   */
  deliver(group: Group, payload: Uint8Array, session: string | undefined, client: string | undefined): number {
    const conns = group.conns;
    let frame: Uint8Array | undefined;
    let delivered = 0;
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      // Not welcomed yet: the client has not been told it exists; closed: gone.
      if (conn.state !== State.WELCOMED) continue;
      if (session !== undefined && conn.session !== session) continue;
      if (client !== undefined && conn.client !== client) continue;
      frame ??= this.pushFrame(payload);
      if (conn.send(frame, true)) delivered++;
    }
    this.stats.deliveries += delivered;
    return delivered;
  }

  /**
   * A durable push (position `seq`) to a group's connections, narrowed like `deliver`. Connections
   * not live yet hold it (pending) for after their welcome and replay; live ones skip what they
   * already have (at or below their floor). Returns how many sockets took it.
   */
  deliverDurable(group: Group, payload: Uint8Array, seq: number, session: string | undefined, client: string | undefined): number {
    const conns = group.conns;
    let frame: Uint8Array | undefined;
    let delivered = 0;
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      if (conn.state === State.CLOSED) continue;
      if (session !== undefined && conn.session !== session) continue;
      if (client !== undefined && conn.client !== client) continue;
      if (conn.held !== undefined) {
        conn.held.add(seq, payload);
        continue;
      }
      if (conn.state !== State.WELCOMED || seq <= conn.floor) continue;
      frame ??= this.durableFrame(payload, seq);
      if (conn.send(frame, true)) delivered++;
      conn.floor = seq;
    }
    this.stats.deliveries += delivered;
    return delivered;
  }

  /** The DURABLE_PUSH frame for a payload: a view into the scratch buffer, valid until the next call. */
  durableFrame(payload: Uint8Array, seq: number): Uint8Array {
    const length = payload.length + DURABLE_PUSH_HEADER_BYTES;
    this.reserve(length);
    writeDurablePushHeader(this.scratch, seq);
    this.scratch.set(payload, DURABLE_PUSH_HEADER_BYTES);
    return this.scratch.subarray(0, length);
  }

  /** A push to every welcomed connection on this edge. Returns how many sockets took it. */
  broadcast(payload: Uint8Array): number {
    this.stats.broadcasts++;
    const frame = this.pushFrame(payload);
    let delivered = 0;
    for (const conn of this.bySeq.values()) {
      if (conn.state === State.WELCOMED && conn.send(frame, true)) delivered++;
    }
    this.stats.deliveries += delivered;
    return delivered;
  }

  /** The connections a kill or blacklist entry addresses (a copy: closing edits the index). */
  targets(kind: GroupKind, id: string, session?: string, client?: string): Connection[] {
    const group = this.group(kind, id);
    if (group === undefined) return [];
    return group.conns.filter((c) => (session === undefined || c.session === session) && (client === undefined || c.client === client));
  }

  /** The PUSH frame for a payload: a view into the scratch buffer, valid until the next call. */
  pushFrame(payload: Uint8Array): Uint8Array {
    const length = payload.length + 1;
    this.reserve(length);
    this.scratch[0] = Opcode.PUSH;
    this.scratch.set(payload, 1);
    return this.scratch.subarray(0, length);
  }

  private reserve(length: number): void {
    if (this.scratch.length < length) {
      let size = this.scratch.length;
      while (size < length) size *= 2;
      this.scratch = new Uint8Array(size);
    }
  }

  private join(map: Map<string, Group>, kind: GroupKind, id: string, conn: Connection, created: Group[]): Group {
    let group = map.get(id);
    if (group === undefined || group.failed) {
      // A failed group is on its way out; a newcomer starts a fresh subscription attempt.
      group = new Group(kind, id, conn);
      map.set(id, group);
      created.push(group);
      return group;
    }
    group.conns.push(conn);
    return group;
  }

  private leave(map: Map<string, Group>, group: Group, conn: Connection, emptied: Group[]): void {
    const at = group.conns.indexOf(conn);
    if (at >= 0) {
      // Order within a group does not matter: swap-remove.
      const last = group.conns.pop()!;
      if (at < group.conns.length) group.conns[at] = last;
    }
    if (group.conns.length === 0) {
      if (map.get(group.id) === group) map.delete(group.id);
      emptied.push(group);
    }
  }
}
