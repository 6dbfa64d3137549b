import { randomBytes } from 'node:crypto';
import {
  EVENT_VERSION,
  eventMsgId,
  JsHeader,
  type ConnectEvent,
  type ConnectionRecord,
  type DisconnectEvent,
  type HeartbeatEvent,
  type SnapshotEvent,
  type Subjects,
} from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { EdgeBroker } from '../broker/edge-broker.js';
import { Mark, State, type Connection } from '../connection/connection.js';
import type { ConnectionListener } from '../connection/connections.js';
import type { ConnectionIds } from '../connection/identity.js';
import type { Hub } from '../hub/hub.js';

/** Connections per snapshot part: keeps a part far below NATS's 1 MiB max payload. */
export const SNAPSHOT_PART_SIZE = 1000;
/** Activity pairs per heartbeat message, for the same reason. */
export const HEARTBEAT_ACTIVITY_CHUNK = 5000;

const encoder = new TextEncoder();

/**
 * What the registry learns from this edge: connect, disconnect, heartbeat, snapshot. Everything is
 * published on the same bus connection, so the registry sees it in order (a snapshot's parts are
 * published in one synchronous run: no event can fall between them).
 *
 * Only welcomed connections exist for the registry: a connection that closes before its connect
 * event was published produces no disconnect either.
 */
export class LifecycleEvents implements ConnectionListener {
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Welcomed connections, the count heartbeats report. */
  announced = 0;

  constructor(
    private readonly broker: EdgeBroker,
    private readonly subjects: Subjects,
    private readonly hub: Hub,
    private readonly ids: ConnectionIds,
    private readonly heartbeatIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  get edgeId(): string {
    return this.ids.edgeId;
  }

  record(conn: Connection): ConnectionRecord {
    return {
      conn: this.ids.format(conn.seq),
      user: conn.user,
      session: conn.session,
      client: conn.client,
      edge: this.edgeId,
      connectedAt: conn.connectedAtMs,
      // Activity is kept at one-second resolution (a coarse clock); never report it before the connect.
      lastActivity: Math.max(conn.lastActivityS * 1000, conn.connectedAtMs),
    };
  }

  welcomed(conn: Connection): void {
    this.announced++;
    const connection = this.record(conn);
    const event: ConnectEvent = { v: EVENT_VERSION, edge: this.edgeId, at: Date.now(), connection, ...(conn.resume !== undefined ? { resumed: true } : {}) };
    this.publish(this.subjects.eventConnect(), event, eventMsgId.connect(connection.conn));
  }

  closed(conn: Connection, code: number, reason: string): void {
    this.announced--;
    const event: DisconnectEvent = {
      v: EVENT_VERSION,
      edge: this.edgeId,
      at: Date.now(),
      conn: this.ids.format(conn.seq),
      user: conn.user,
      session: conn.session,
      client: conn.client,
      code,
      reason,
    };
    this.publish(this.subjects.eventDisconnect(), event, eventMsgId.disconnect(event.conn));
  }

  /** A registry asked (all edges, or this edge alone). */
  snapshotRequested(): void {
    this.publishSnapshot();
  }

  start(): void {
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  stop(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Connection count plus [conn, lastActivity] for connections active since the previous heartbeat. */
  heartbeat(): void {
    const at = Date.now();
    const activity: Array<readonly [string, number]> = [];
    for (const conn of this.hub.bySeq.values()) {
      if ((conn.marks & Mark.ACTIVE) === 0) continue;
      conn.marks &= ~Mark.ACTIVE;
      if (conn.state !== State.WELCOMED) continue;
      activity.push([this.ids.format(conn.seq), Math.max(conn.lastActivityS * 1000, conn.connectedAtMs)]);
    }
    let offset = 0;
    do {
      const event: HeartbeatEvent = {
        v: EVENT_VERSION,
        edge: this.edgeId,
        at,
        intervalMs: this.heartbeatIntervalMs,
        connections: this.announced,
        activity: activity.slice(offset, offset + HEARTBEAT_ACTIVITY_CHUNK),
      };
      this.publish(this.subjects.eventHeartbeat(), event);
      offset += HEARTBEAT_ACTIVITY_CHUNK;
    } while (offset < activity.length);
  }

  /** Publishes every welcomed connection, in parts, synchronously. */
  publishSnapshot(): void {
    const records: ConnectionRecord[] = [];
    for (const conn of this.hub.bySeq.values()) {
      if (conn.state === State.WELCOMED) records.push(this.record(conn));
    }
    const parts = Math.max(1, Math.ceil(records.length / SNAPSHOT_PART_SIZE));
    const snapshotId = randomBytes(8).toString('hex');
    const at = Date.now();
    for (let part = 0; part < parts; part++) {
      const event: SnapshotEvent = {
        v: EVENT_VERSION,
        edge: this.edgeId,
        at,
        snapshotId,
        part,
        parts,
        connections: records.slice(part * SNAPSHOT_PART_SIZE, (part + 1) * SNAPSHOT_PART_SIZE),
      };
      this.publish(this.subjects.eventSnapshot(), event);
    }
    this.logger.debug({ connections: records.length, parts }, 'snapshot published');
  }

  /** `msgId`: connect and disconnect events are also stored by the events stream, once each. */
  private publish(subject: string, event: object, msgId?: string): void {
    this.broker.publishEvent(subject, encoder.encode(JSON.stringify(event)), msgId === undefined ? undefined : { [JsHeader.MsgId]: msgId });
  }
}
