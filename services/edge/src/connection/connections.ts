import { CloseCode, PROTOCOL_VERSION, type WelcomeFrame } from '@session-mesh/protocol';
import { PlainHistogram, type Logger } from '@session-mesh/runtime';
import type { BrokerEventHandler, EdgeBroker, KillOrder } from '../broker/edge-broker.js';
import type { CoarseClock } from '../clock.js';
import type { Group, Hub } from '../hub/hub.js';
import { Connection, ConnectionShared, Mark, sanitiseReason, State } from './connection.js';
import { expMs, type ConnectionIds, type Identity } from './identity.js';
import type { SocketEvents } from '../transport/uws-transport.js';
import type { SocketLike } from './socket.js';
import type { DurablePushes } from '../durable/durable-pushes.js';

/** The disconnect reason when the client closed its socket. */
export const CLIENT_CLOSED_REASON = 'closed';

/** Who hears about connections that exist for the cluster (the registry events). */
export interface ConnectionListener {
  welcomed(conn: Connection): void;
  closed(conn: Connection, code: number, reason: string): void;
  snapshotRequested(): void;
}

/** The blacklist as the connect flow sees it: re-checked when the socket opens. */
export interface RevocationCheck {
  revokedReason(identity: Identity): string | undefined;
}

/** Frames from clients (inbound/). */
export interface MessageSink {
  onMessage(conn: Connection, message: ArrayBuffer, isBinary: boolean): void;
}

export interface ConnectionsStats {
  kills: number;
  overloaded: number;
  sessionConflicts: number;
  /** Oldest connections closed by the per-user cap (close-oldest policy). */
  limitClosed: number;
  /**
   * Closed sockets by WebSocket close code (whoever closed: the client, the edge, uWS). Codes a
   * client may pick freely (3000-3999, 4100+) count under 0 ("other"): bounded label values.
   */
  readonly closedByCode: Record<number, number>;
}

/** Upgrade accepted to welcome sent, in seconds: mostly the NATS round trip confirming subscriptions. */
export const CONNECT_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/**
 * The connect, push and close flows of this edge, in one place (Centrifuge's node/client flow):
 *
 *   admit (upgrade accepted)  ->  opened: in the hub, subscriptions asked of the broker
 *   -> subscribed (NATS confirmed)  ->  welcome sent, connect event published
 *   -> closed: out of the hub, emptied groups unsubscribed, disconnect event published
 *
 * It also receives what the broker hears (pushes, broadcasts, kills, refusals) and applies it to
 * the hub's connections.
 */
export class Connections implements BrokerEventHandler, SocketEvents {
  readonly stats: ConnectionsStats = { kills: 0, overloaded: 0, sessionConflicts: 0, limitClosed: 0, closedByCode: {} };
  readonly connectLatency = new PlainHistogram(CONNECT_LATENCY_BUCKETS);
  readonly shared: ConnectionShared;
  private draining = false;

  constructor(
    private readonly deps: {
      readonly hub: Hub;
      readonly broker: EdgeBroker;
      readonly ids: ConnectionIds;
      readonly clock: CoarseClock;
      readonly listener: ConnectionListener;
      readonly revocation: RevocationCheck;
      readonly inbound: MessageSink;
      readonly backpressureLimit: number;
      /** close-oldest policy: past this many connections of one user on this edge, the oldest goes (0: off). */
      readonly closeOldestAbove: number;
      readonly logger: Logger;
      /** Durable pushes and resume (undefined: off). */
      readonly durable?: DurablePushes | undefined;
    },
  ) {
    this.shared = new ConnectionShared(deps.backpressureLimit);
  }

  get openCount(): number {
    return this.deps.hub.size;
  }

  userConnectionCount(user: string): number {
    return this.deps.hub.users.get(user)?.conns.length ?? 0;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Upgrade accepted: the connection object uWS will keep as user data. */
  admit(identity: Identity): Connection {
    return new Connection(this.shared, this.deps.ids.allocate(), identity, Date.now(), this.deps.clock.nowS);
  }

  /** The socket is open: join the hub, subscribe what is new, welcome once NATS has it all. */
  opened(conn: Connection, ws: SocketLike): void {
    conn.ws = ws;
    conn.state = State.SUBSCRIBING;
    if (this.draining) {
      conn.close(CloseCode.SERVER_DRAINING, 'server draining');
      return;
    }
    // An entry may have landed while the token was being verified.
    const revoked = this.deps.revocation.revokedReason(conn);
    if (revoked !== undefined) {
      conn.close(CloseCode.SESSION_BLACKLISTED, sanitiseReason(revoked, 'blacklisted'));
      return;
    }
    const { hub, broker } = this.deps;
    // A session belongs to one user: a push or kill by session id must never reach another user.
    const holder = hub.sessions.get(conn.session)?.conns[0];
    if (holder !== undefined && holder.user !== conn.user) {
      this.stats.sessionConflicts++;
      this.deps.logger.warn({ session: conn.session.slice(0, 64) }, 'refused a connection: its session id is held by another user (the token issuer reuses jti values)');
      conn.close(CloseCode.SESSION_CONFLICT, 'session id held by another user');
      return;
    }
    // From the moment it is in the hub, durable pushes for it are held until its welcome and replay.
    if (this.deps.durable !== undefined) conn.held = this.deps.durable.hold();
    for (const group of hub.add(conn)) broker.subscribe(group);
    if (this.deps.closeOldestAbove > 0) this.closeOldestOf(conn);
    const wait = hub.readiness(conn);
    if (wait === undefined) {
      this.welcome(conn);
      return;
    }
    wait.then(
      () => this.welcome(conn),
      (err: unknown) => {
        if (conn.close(CloseCode.SERVER_OVERLOADED, 'server overloaded, retry later')) {
          this.stats.overloaded++;
          this.deps.logger.debug({ err }, 'connection closed: subscription not confirmed');
        }
      },
    );
  }

  /** The per-user cap with the close-oldest policy: the newest stays, the oldest goes. */
  private closeOldestOf(conn: Connection): void {
    const conns = conn.userGroup?.conns;
    if (conns === undefined || conns.length <= this.deps.closeOldestAbove) return;
    const oldest = [...conns].sort((a, b) => a.seq - b.seq).slice(0, conns.length - this.deps.closeOldestAbove);
    for (const victim of oldest) {
      if (victim.close(CloseCode.TOO_MANY_CONNECTIONS, 'too many connections for this user: the oldest was closed')) this.stats.limitClosed++;
    }
  }

  /** Subscriptions confirmed: the client learns who it is, then the cluster learns of it. */
  private welcome(conn: Connection): void {
    if (conn.state !== State.SUBSCRIBING) return;
    const frame: WelcomeFrame = {
      type: 'welcome',
      v: PROTOCOL_VERSION,
      user: conn.user,
      session: conn.session,
      client: conn.client,
      conn: this.deps.ids.format(conn.seq),
      edge: this.deps.ids.edgeId,
      roles: conn.roles.roles,
      expiresAt: expMs(conn.expS),
    };
    const durable = this.deps.durable;
    if (durable === undefined) {
      this.welcomed(conn, frame);
      return;
    }
    // Where the client stands in the push stream (and what it missed) decides the rest of welcome.
    durable.prepare(conn).then(
      (outcome) => {
        if (conn.state !== State.SUBSCRIBING) return;
        this.welcomed(conn, { ...frame, epoch: outcome.epoch, position: outcome.position, recovered: outcome.recovered });
        durable.afterWelcome(conn, outcome, this.deps.hub);
        conn.resume = undefined;
      },
      (err: unknown) => {
        if (conn.close(CloseCode.SERVER_OVERLOADED, 'durable pushes unavailable, retry later')) {
          this.stats.overloaded++;
          this.deps.logger.warn({ err }, 'connection closed: the push stream could not be read');
        }
      },
    );
  }

  private welcomed(conn: Connection, frame: WelcomeFrame): void {
    conn.state = State.WELCOMED;
    conn.send(JSON.stringify(frame), false);
    this.connectLatency.observe((Date.now() - conn.connectedAtMs) / 1000);
    this.deps.listener.welcomed(conn);
  }

  /** uWS ran the close handler: the socket is gone. */
  closed(conn: Connection, code: number, reason: string): void {
    const counted = (code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4099) ? code : 0;
    this.stats.closedByCode[counted] = (this.stats.closedByCode[counted] ?? 0) + 1;
    const announced = conn.state === State.WELCOMED;
    conn.state = State.CLOSED;
    conn.ws = undefined;
    for (const group of this.deps.hub.remove(conn)) this.deps.broker.unsubscribe(group);
    // The cause: the edge's own reason (killed, expired, blacklisted...), or `closed` by the client (its text is not ours to relay).
    if (announced) this.deps.listener.closed(conn, code, (conn.marks & Mark.ENDED_BY_EDGE) !== 0 ? reason : CLIENT_CLOSED_REASON);
  }

  message(conn: Connection, message: ArrayBuffer, isBinary: boolean): void {
    this.deps.inbound.onMessage(conn, message, isBinary);
  }

  /** A pong: the client is alive. */
  seen(conn: Connection): void {
    conn.lastSeenS = this.deps.clock.nowS;
    conn.marks &= ~Mark.PINGED;
  }

  /** Drain: no new sockets from now on. */
  startDraining(): void {
    this.draining = true;
  }

  /** Closes up to `max` connections (drain closes in batches); returns how many remain. */
  closeSome(max: number, code: number, reason: string | (() => string)): number {
    const batch: Connection[] = [];
    for (const conn of this.deps.hub.bySeq.values()) {
      if (batch.length >= max) break;
      batch.push(conn);
    }
    // Closing edits the index: close after collecting.
    for (const conn of batch) conn.close(code, typeof reason === 'string' ? reason : reason());
    return this.deps.hub.size;
  }

  // What the broker hears.

  onPush(group: Group, data: Uint8Array, session: string | undefined, client: string | undefined): void {
    this.deps.hub.deliver(group, data, session, client);
  }

  onDurablePush(group: Group, data: Uint8Array, seq: number, session: string | undefined, client: string | undefined): void {
    this.deps.durable?.seen(seq);
    this.deps.hub.deliverDurable(group, data, seq, session, client);
  }

  onDurableGap(group: Group): void {
    if (this.deps.durable !== undefined) this.deps.durable.stats.gaps++;
    // Copy: closing edits the group's array. The clients come back with their positions and get the gap replayed.
    for (const conn of [...group.conns]) conn.close(CloseCode.RESUME_REQUIRED, 'durable pushes may have been missed: resume');
  }

  /** Durable pushes stored while the bus was away did not reach this edge: the groups they were for must resume. */
  onBusReconnected(): void {
    const durable = this.deps.durable;
    if (durable === undefined) return;
    durable.missedWhileAway(this.deps.hub).then(
      (groups) => {
        for (const group of groups) this.onDurableGap(group);
        if (groups.length > 0) this.deps.logger.warn({ groups: groups.length }, 'durable pushes were stored while NATS was away: their tabs were told to resume');
      },
      (err: unknown) => this.deps.logger.warn({ err }, 'could not check the push stream after a NATS reconnect; gaps show with the next push'),
    );
  }

  onBroadcast(data: Uint8Array): void {
    this.deps.hub.broadcast(data);
  }

  onKill(order: KillOrder): void {
    const hub = this.deps.hub;
    let targets: Connection[];
    if (order.kind === 'conn') {
      const seq = this.deps.ids.parse(order.id);
      const conn = seq === undefined ? undefined : hub.connection(seq);
      targets = conn === undefined ? [] : [conn];
    } else {
      targets = hub.targets(order.kind, order.id, order.session, order.client);
    }
    if (targets.length === 0) return;
    const reason = sanitiseReason(order.reason, 'killed');
    for (const conn of targets) if (conn.close(order.closeCode, reason)) this.stats.kills++;
  }

  onSnapshotRequest(): void {
    this.deps.listener.snapshotRequested();
  }

  onSubscriptionRefused(group: Group): void {
    // Copy: closing edits the group's array.
    for (const conn of [...group.conns]) if (conn.close(CloseCode.SERVER_OVERLOADED, 'server overloaded, retry later')) this.stats.overloaded++;
  }
}
