import { randomUUID } from 'node:crypto';
import type { Bus, BusMessage, BusSubscription } from '@session-mesh/bus';
import {
  EVENT_VERSION,
  type ConnectEvent,
  type ConnectionRecord,
  type DisconnectEvent,
  type HeartbeatEvent,
  type SnapshotEvent,
  type Subjects,
} from '@session-mesh/protocol';

const encoder = new TextEncoder();

/**
 * Publishes what a real edge publishes about its connections (connect/disconnect events,
 * heartbeats, snapshots on request), so the registry can be tested against the real bus without
 * uWebSockets.js.
 */
export class FakeEdge {
  readonly connections = new Map<string, ConnectionRecord>();
  /** Snapshot requests this edge received (all-edges and addressed to it). */
  snapshotRequests = 0;
  /** Connections per snapshot part. */
  partSize = 2;
  /** When false the edge ignores snapshot requests (an old or stuck edge). */
  answersSnapshots = true;
  /** Overrides the connection count reported in heartbeats (to simulate drift). */
  reportedCount: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastBeatAt = 0;
  private readonly subscriptions: BusSubscription[];

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    readonly id: string,
  ) {
    const onRequest = (_msg: BusMessage): void => {
      this.snapshotRequests++;
      if (this.answersSnapshots) this.publishSnapshot();
    };
    this.subscriptions = [bus.subscribe(subjects.snapshotRequestAll(), onRequest), bus.subscribe(subjects.snapshotRequestEdge(id), onRequest)];
  }

  /** Adds a connection without telling anyone (as if the event was lost). */
  addSilently(conn: string, user: string, session: string, client = 'tab-1'): ConnectionRecord {
    const t = Date.now();
    const record: ConnectionRecord = { conn, user, session, client, edge: this.id, connectedAt: t, lastActivity: t };
    this.connections.set(conn, record);
    return record;
  }

  connect(conn: string, user: string, session: string, client = 'tab-1'): ConnectionRecord {
    const record = this.addSilently(conn, user, session, client);
    const event: ConnectEvent = { v: EVENT_VERSION, edge: this.id, at: Date.now(), connection: record };
    this.bus.publish(this.subjects.eventConnect(), encoder.encode(JSON.stringify(event)));
    return record;
  }

  disconnect(conn: string, code = 1000, reason = 'bye'): void {
    const r = this.connections.get(conn);
    if (r === undefined) throw new Error(`no connection ${conn}`);
    this.connections.delete(conn);
    const event: DisconnectEvent = { v: EVENT_VERSION, edge: this.id, at: Date.now(), conn, user: r.user, session: r.session, client: r.client, code, reason };
    this.bus.publish(this.subjects.eventDisconnect(), encoder.encode(JSON.stringify(event)));
  }

  heartbeat(intervalMs: number, activity: ReadonlyArray<readonly [string, number]> = []): void {
    // Distinct heartbeats have distinct `at` (the registry treats equal ones as parts of one).
    this.lastBeatAt = Math.max(Date.now(), this.lastBeatAt + 1);
    const event: HeartbeatEvent = {
      v: EVENT_VERSION,
      edge: this.id,
      at: this.lastBeatAt,
      intervalMs,
      connections: this.reportedCount ?? this.connections.size,
      activity,
    };
    this.bus.publish(this.subjects.eventHeartbeat(), encoder.encode(JSON.stringify(event)));
  }

  startHeartbeats(intervalMs: number): void {
    this.stopHeartbeats();
    this.heartbeat(intervalMs);
    this.timer = setInterval(() => this.heartbeat(intervalMs), intervalMs);
  }

  stopHeartbeats(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  publishSnapshot(): void {
    const all = [...this.connections.values()];
    const parts = Math.max(1, Math.ceil(all.length / this.partSize));
    const snapshotId = randomUUID();
    for (let part = 0; part < parts; part++) {
      const event: SnapshotEvent = {
        v: EVENT_VERSION,
        edge: this.id,
        at: Date.now(),
        snapshotId,
        part,
        parts,
        connections: all.slice(part * this.partSize, (part + 1) * this.partSize),
      };
      this.bus.publish(this.subjects.eventSnapshot(), encoder.encode(JSON.stringify(event)));
    }
  }

  /** Stops everything, as a crashed edge would. */
  crash(): void {
    this.stopHeartbeats();
    for (const s of this.subscriptions) s.unsubscribe();
  }
}
