import { randomUUID } from 'node:crypto';
import type { Bus } from '@session-mesh/bus';
import {
  EVENT_VERSION,
  type ConnectionsReply,
  type DisconnectEvent,
  type PresenceEvent,
  type StatsReply,
  type Subjects,
} from '@session-mesh/protocol';
import type { Health, Logger } from '@session-mesh/runtime';
import { REGISTRY_KV_BUCKET, type RegistryConfig } from './config.js';
import { EdgeLiveness } from './edge-liveness.js';
import { startEventIntake, type EventHandlers } from './event-intake.js';
import { LeaderLease } from './leader-lease.js';
import { PresenceStore, type PresenceView, type StoreChange } from './presence-store.js';
import { createRateLimitedLog } from './rate-limited-log.js';
import { startQueryResponder } from './query-responder.js';
import { SnapshotSync, type EdgeEvent } from './snapshot-sync.js';

export const LEADER_LEASE_KEY = 'leader';
/** The reason carried by disconnect events the registry emits for connections of a lost edge. */
export const EDGE_LOST_REASON = 'edge-lost';

export interface RegistryDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly health: Health;
  readonly config: RegistryConfig;
  readonly subjects: Subjects;
  /** Wall clock (ms since the epoch); tests may replace it. */
  readonly now?: () => number;
}

export interface RegistryHandle {
  /** This replica's holder id in the leader lease: `<registryId>/<random>`. */
  readonly id: string;
  /** The live presence state (read-only), for in-process users. */
  readonly store: PresenceView;
  /** Whether the first snapshot round has settled (see the readiness rule in startRegistry). */
  isReady(): boolean;
  whenReady(): Promise<void>;
  /** Whether this replica emits the once-per-cluster side effects right now. */
  isLeader(): boolean;
  stats(): StatsReply;
  /** Stops intake, queries and timers, and releases the leader lease. */
  stop(): Promise<void>;
}

/**
 * Starts one registry replica.
 *
 * Lifecycle: subscribe to edge events (every replica, no queue group), then ask every edge for a
 * snapshot. READY once the settle window (config.settleMs; by default 5 s on NATS, 250 ms on the
 * memory bus) has passed since start AND no snapshot is outstanding: a request to one edge
 * counts for max(1 s, 2 of its heartbeat intervals), a partly gathered snapshot for 5 s, so an
 * edge that never answers delays readiness only that long. Readiness latches. Only then does the replica join the `mesh-registry` query queue group and campaign
 * for the leader lease: a replica still rebuilding never answers queries nor announces presence.
 */
export async function startRegistry(deps: RegistryDeps): Promise<RegistryHandle> {
  const { bus, health, config, subjects } = deps;
  const now = deps.now ?? Date.now;
  const id = `${config.registryId}/${randomUUID().slice(0, 8)}`;
  // Sub-modules add their own `component` to `base`; this module's lines use `logger`.
  const base = deps.logger.child({ registry: id });
  const logger = base.child({ component: 'registry' });
  const encoder = new TextEncoder();
  const warn = createRateLimitedLog(logger);

  /** Publishing fails only on a closed bus (shutdown); it must never throw out of a timer. */
  function publish(subject: string, data: Uint8Array): void {
    try {
      bus.publish(subject, data);
    } catch (err) {
      warn(`publish:${subject.split('.').slice(0, 3).join('.')}`, { err, subject }, 'could not publish');
    }
  }

  let kv;
  try {
    kv = await bus.kv(REGISTRY_KV_BUCKET, { replicas: config.kvReplicas, history: 1 });
  } catch (err) {
    throw new Error(`registry: cannot open the KV bucket ${REGISTRY_KV_BUCKET} for the leader lease (is JetStream enabled?): ${(err as Error).message}`, {
      cause: err,
    });
  }

  const settleMs = config.settleMs ?? (bus.kind === 'memory' ? 250 : 5_000);
  const store = new PresenceStore();
  const liveness = new EdgeLiveness(config.edgeLostAfterMs);
  const requestTimeoutFor = (edge: string): number => Math.max(1_000, 2 * (liveness.get(edge)?.intervalMs ?? 0));
  const sync = new SnapshotSync({ assemblyTimeoutMs: 5_000, requestTimeoutMs: 1_000 });
  const lease = new LeaderLease({
    kv,
    key: LEADER_LEASE_KEY,
    holder: id,
    ttlMs: config.leaseTtlMs,
    renewMs: config.leaseRenewMs,
    logger: base.child({ component: 'leader-lease' }),
    now,
  });
  const startedAt = now();
  let ready = false;
  let stopped = false;
  let resolveReady!: () => void;
  const readyPromise = new Promise<void>((resolve) => (resolveReady = resolve));
  let queries: { stop(): void } | undefined;

  // --- side effects (leader only) -------------------------------------------------------------

  function announce(change: StoreChange): void {
    if (change.transitions.length === 0 || !lease.isLeader()) return;
    const at = now();
    for (const t of change.transitions) {
      const event: PresenceEvent = { v: EVENT_VERSION, user: t.user, status: t.status, at, connections: t.connections };
      publish(subjects.presence(t.user), encoder.encode(JSON.stringify(event)));
    }
  }

  function purge(edge: string): void {
    const info = liveness.get(edge);
    const change = store.purgeEdge(edge);
    liveness.forget(edge);
    sync.forget(edge);
    const leader = lease.isLeader();
    logger.warn(
      { edge, connections: change.removed.length, lastSeen: info?.lastSeen, silentMs: info ? now() - info.lastSeen : undefined, leader },
      'edge lost: purged its connections',
    );
    if (!leader) return;
    const at = now();
    for (const r of change.removed) {
      const event: DisconnectEvent = {
        v: EVENT_VERSION,
        edge,
        at,
        conn: r.conn,
        user: r.user,
        session: r.session,
        client: r.client,
        code: 0,
        reason: EDGE_LOST_REASON,
      };
      publish(subjects.eventDisconnect(), encoder.encode(JSON.stringify(event)));
    }
    announce(change);
  }

  // --- snapshot requests ----------------------------------------------------------------------

  function requestAll(why: string): void {
    publish(subjects.snapshotRequestAll(), new Uint8Array(0));
    sync.requestedAll(now());
    logger.info({ why }, 'asked every edge for a snapshot');
  }

  /**
   * An unknown edge is probably answering the request to every edge sent at start (or after a
   * reconnect) already, so it is not asked again meanwhile; drift is always worth a request.
   */
  function requestEdge(edge: string, why: 'unknown edge' | 'drift', details: Record<string, unknown> = {}): void {
    const t = now();
    if (!sync.shouldRequest(edge, t, { timeoutMs: requestTimeoutFor(edge), coveredByAll: why === 'unknown edge' })) return;
    publish(subjects.snapshotRequestEdge(edge), new Uint8Array(0));
    sync.requestedEdge(edge, t, requestTimeoutFor(edge));
    logger.info({ edge, why, ...details }, 'asked an edge for a snapshot');
  }

  // --- event handlers -------------------------------------------------------------------------

  function applyEdgeEvent(e: EdgeEvent): StoreChange {
    return e.kind === 'connect' ? store.connect(e.event.connection) : store.disconnect(e.event.conn, e.event.edge);
  }

  const handlers: EventHandlers = {
    connect(event) {
      liveness.seen(event.edge, now());
      const e: EdgeEvent = { kind: 'connect', event };
      sync.bufferIfGathering(event.edge, e);
      announce(applyEdgeEvent(e));
    },
    disconnect(event) {
      // Code 0 is the registry's own purge notice, not a sign of life from the edge.
      if (event.code !== 0) liveness.seen(event.edge, now());
      const e: EdgeEvent = { kind: 'disconnect', event };
      sync.bufferIfGathering(event.edge, e);
      announce(applyEdgeEvent(e));
    },
    heartbeat(event) {
      const unknown = liveness.heartbeat(event.edge, now(), event.intervalMs);
      for (const [conn, at] of event.activity) store.activity(conn, at);
      if (unknown) {
        requestEdge(event.edge, 'unknown edge');
        return;
      }
      const ours = store.countOnEdge(event.edge);
      if (sync.heartbeatCount(event.edge, event.at, event.connections, ours)) {
        requestEdge(event.edge, 'drift', { reported: event.connections, ours });
      }
    },
    snapshot(event) {
      const t = now();
      liveness.seen(event.edge, t);
      const done = sync.addPart(event, t);
      if (done === undefined) return;
      let ignored = 0;
      const change = store.transaction(() => {
        ignored = store.replaceEdge(done.edge, done.connections).ignored;
        for (const e of done.buffered) applyEdgeEvent(e);
      });
      logger.info(
        {
          edge: done.edge,
          snapshotId: done.snapshotId,
          connections: store.countOnEdge(done.edge),
          added: change.added.length,
          removed: change.removed.length,
          replayed: done.buffered.length,
          ...(ignored > 0 ? { ignored } : {}),
        },
        'applied an edge snapshot',
      );
      announce(change);
    },
  };

  // --- readiness, liveness sweep ----------------------------------------------------------------

  function notReadyReason(t: number): string | undefined {
    if (t - startedAt < settleMs) return `waiting for edge snapshots (settle window ${settleMs} ms)`;
    const outstanding = sync.outstanding(t);
    if (outstanding.length > 0) return `waiting for snapshots from ${outstanding.length} edge(s): ${outstanding.slice(0, 5).join(', ')}`;
    return undefined;
  }

  function becomeReady(): void {
    ready = true;
    const s = store.stats();
    logger.info({ edges: liveness.list().length, users: s.users, connections: s.connections, ms: now() - startedAt }, 'registry ready');
    queries = startQueryResponder({
      bus,
      subjects,
      logger: base,
      source: {
        connectionsOfUser: (user): ConnectionsReply => ({ connections: store.connectionsOfUser(user) }),
        connectionsOfSession: (session): ConnectionsReply => ({ connections: store.connectionsOfSession(session) }),
        stats,
      },
    });
    lease.start();
    resolveReady();
  }

  function sweep(): void {
    if (stopped) return;
    try {
      const t = now();
      for (const edge of liveness.lost(t)) purge(edge);
      for (const edge of sync.expire(t)) logger.warn({ edge }, 'gave up gathering an incomplete snapshot');
      if (!ready && notReadyReason(t) === undefined) becomeReady();
    } catch (err) {
      logger.error({ err }, 'registry sweep failed');
    }
  }

  function stats(): StatsReply {
    const s = store.stats();
    const edges = new Map<string, { edge: string; connections: number; lastHeartbeat: number }>();
    for (const info of liveness.list()) edges.set(info.edge, { edge: info.edge, connections: store.countOnEdge(info.edge), lastHeartbeat: info.lastHeartbeat });
    for (const e of s.edges) if (!edges.has(e.edge)) edges.set(e.edge, { edge: e.edge, connections: e.connections, lastHeartbeat: 0 });
    return { edges: [...edges.values()].sort((a, b) => a.edge.localeCompare(b.edge)), users: s.users, sessions: s.sessions, connections: s.connections };
  }

  health.addCheck('registry', () => (stopped ? 'registry stopped' : ready ? true : (notReadyReason(now()) ?? 'settling')));
  health.addCheck('bus', () => (bus.isConnected() ? true : 'bus disconnected'));

  // --- start ----------------------------------------------------------------------------------

  const intake = startEventIntake({ bus, subjects, logger: base, handlers });
  const offBusEvents = bus.onEvent((event) => {
    if (event.type === 'reconnected' && !stopped) requestAll('bus reconnected: events may have been missed');
    if (event.type === 'disconnected') logger.warn('bus disconnected');
  });
  // Subscriptions must be in place on the server before any edge answers.
  await bus.flush();
  requestAll('registry start');

  const sweepMs = Math.max(20, Math.min(1_000, Math.floor(config.edgeLostAfterMs / 4)));
  const sweepTimer = setInterval(sweep, sweepMs);
  const settleTimer = setTimeout(sweep, settleMs + 1);
  logger.info({ settleMs, edgeLostAfterMs: config.edgeLostAfterMs, sweepMs, bus: bus.kind }, 'registry started');

  return {
    id,
    store,
    isReady: () => ready && !stopped,
    whenReady: () => readyPromise,
    isLeader: () => !stopped && lease.isLeader(),
    stats,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweepTimer);
      clearTimeout(settleTimer);
      offBusEvents();
      intake.stop();
      queries?.stop();
      await lease.stop();
      logger.info('registry stopped');
    },
  };
}
