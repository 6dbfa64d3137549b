import type { BusSubscription } from '@session-mesh/bus';
import type { Identity, RoleSet } from './identity.js';

/** Connection flags (one small integer per connection instead of several booleans). */
export const Flag = {
  /** uWS `open` ran: `ws` is set. */
  OPEN: 1,
  /** Subscriptions are known to NATS, `welcome` was sent and the connect event published. */
  WELCOMED: 2,
  /** uWS `close` ran: the socket must not be touched again. */
  CLOSED: 4,
  /** A frame arrived since the last heartbeat. */
  ACTIVE: 8,
} as const;

/**
 * What the edge sends through. Structural, so the index and fan-out can be unit-tested with fakes;
 * the real one is a uWS WebSocket.
 */
export interface SocketLike {
  send(message: Uint8Array | string, isBinary?: boolean): number;
  cork(cb: () => void): unknown;
  end(code?: number, shortMessage?: string): void;
  getBufferedAmount(): number;
  subscribe(topic: string): boolean;
}

/**
 * Per-socket state: uWS's getUserData() object, created at upgrade. Kept lean on purpose (it is
 * multiplied by every connection): ids shared with the user/session groups, interned roles,
 * times in whole seconds, one flags integer, the connection id as a counter.
 */
export class ConnState {
  ws: SocketLike | undefined = undefined;
  flags = 0;
  /** Malformed frames received; enough of them closes the connection. */
  strikes = 0;
  /** REQUESTs waiting for a backend reply. */
  pending = 0;
  userGroup: Group | undefined = undefined;
  sessionGroup: Group | undefined = undefined;
  user: string;
  session: string;
  readonly client: string;
  roles: RoleSet;
  iatS: number;
  expS: number;

  constructor(
    readonly seq: number,
    identity: Identity,
    readonly connectedAtMs: number,
    /** Coarse clock, whole seconds. */
    public lastActivityS: number,
  ) {
    this.user = identity.user;
    this.session = identity.session;
    this.client = identity.client;
    this.roles = identity.roles;
    this.iatS = identity.iatS;
    this.expS = identity.expS;
  }
}

/**
 * The connections of one user or one session on this edge, and the ONE bus subscription they
 * share. `ready` is the pending flush proving the subscription reached NATS; a second tab of the
 * same user awaits the same promise.
 */
export class Group {
  /** Created with its first member: `[conn]` allocates one slot, `[]` then push() seventeen. */
  readonly conns: ConnState[];
  sub: BusSubscription | undefined = undefined;
  ready: Promise<void> | undefined = undefined;
  /** The bus refused the subscription: members are being closed, newcomers must not join. */
  failed = false;
  /** Encoded id, computed on first use (only connections that send messages need it). */
  encoded: string | undefined = undefined;

  constructor(
    readonly kind: 'user' | 'session',
    readonly id: string,
    first: ConnState,
  ) {
    this.conns = [first];
  }
}

export interface IndexHooks {
  /** A group got its first connection: subscribe and return the readiness promise. */
  readonly onFirst: (group: Group) => void;
  /** A group lost its last connection: unsubscribe. */
  readonly onLast: (group: Group) => void;
}

/**
 * Every live connection on this edge, by counter, user and session. Reference counting of the
 * per-user and per-session subscriptions happens here, through the hooks.
 */
export class ConnectionIndex {
  readonly bySeq = new Map<number, ConnState>();
  readonly users = new Map<string, Group>();
  readonly sessions = new Map<string, Group>();

  constructor(private readonly hooks: IndexHooks) {}

  get size(): number {
    return this.bySeq.size;
  }

  /**
   * Adds a connection and returns what it must await before `welcome`: undefined when both
   * subscriptions are already confirmed (the common case for a second tab).
   */
  add(conn: ConnState): Promise<unknown> | undefined {
    this.bySeq.set(conn.seq, conn);
    const user = this.join(this.users, 'user', conn.user, conn);
    const session = this.join(this.sessions, 'session', conn.session, conn);
    conn.userGroup = user;
    conn.sessionGroup = session;
    // Share the group's id strings: one copy per user/session, not per tab.
    conn.user = user.id;
    conn.session = session.id;
    if (user.ready === undefined) return session.ready;
    if (session.ready === undefined || session.ready === user.ready) return user.ready;
    return Promise.all([user.ready, session.ready]);
  }

  /** Idempotent. */
  remove(conn: ConnState): void {
    if (this.bySeq.get(conn.seq) !== conn) return;
    this.bySeq.delete(conn.seq);
    if (conn.userGroup) this.leave(this.users, conn.userGroup, conn);
    if (conn.sessionGroup) this.leave(this.sessions, conn.sessionGroup, conn);
    conn.userGroup = undefined;
    conn.sessionGroup = undefined;
  }

  private join(map: Map<string, Group>, kind: 'user' | 'session', id: string, conn: ConnState): Group {
    let group = map.get(id);
    if (group === undefined || group.failed) {
      // A failed group is on its way out; a newcomer starts a fresh subscription attempt.
      group = new Group(kind, id, conn);
      map.set(id, group);
      this.hooks.onFirst(group);
      return group;
    }
    group.conns.push(conn);
    return group;
  }

  private leave(map: Map<string, Group>, group: Group, conn: ConnState): void {
    const at = group.conns.indexOf(conn);
    if (at >= 0) {
      // Order within a group does not matter: swap-remove.
      const last = group.conns.pop()!;
      if (at < group.conns.length) group.conns[at] = last;
    }
    if (group.conns.length === 0) {
      if (map.get(group.id) === group) map.delete(group.id);
      this.hooks.onLast(group);
    }
  }
}

/** WebSocket close reasons are limited to 123 bytes; ours are short ASCII. */
const MAX_REASON_BYTES = 120;

/**
 * Turns an untrusted reason (a kill header, a blacklist entry) into a safe close reason:
 * printable ASCII only, at most 120 bytes.
 */
export function sanitiseReason(reason: string | undefined, fallback: string): string {
  if (reason === undefined) return fallback;
  const clean = reason.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_REASON_BYTES);
  return clean === '' ? fallback : clean;
}

/**
 * Closes a connection with a protocol close code. Safe to call twice and on connections that are
 * not open yet or already closed. uWS runs the close handler synchronously inside `end`.
 */
export function closeConnection(conn: ConnState, code: number, reason: string): boolean {
  if ((conn.flags & Flag.CLOSED) !== 0 || conn.ws === undefined) return false;
  conn.ws.end(code, reason);
  return true;
}
