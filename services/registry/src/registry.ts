import { randomUUID } from 'node:crypto';
import { openKvWhenReady, type Bus, type KvStore } from '@session-mesh/bus';
import { parsePresenceEvent, type StatsReply, type Subjects } from '@session-mesh/protocol';
import { createRateLimitedLog, safePublish, type Health, type Logger } from '@session-mesh/runtime';
import { AnnouncedLedger } from './announce/announced-ledger.js';
import { Announcer } from './announce/announcer.js';
import { HeardPresence } from './announce/heard-presence.js';
import { REGISTRY_KV_BUCKET, type RegistryConfig } from './config.js';
import { openEventsStream } from './events/events-stream.js';
import { startEventIntake } from './intake/event-intake.js';
import { PresenceIntake } from './intake/presence-intake.js';
import { LeaderLease } from './leader/leader-lease.js';
import { UserCap } from './limits/user-cap.js';
import { startQueryResponder } from './queries/query-responder.js';
import { registryStats } from './queries/registry-stats.js';
import { Readiness } from './readiness.js';
import { SnapshotRequests } from './snapshot/snapshot-requests.js';
import { SnapshotSync } from './snapshot/snapshot-sync.js';
import { EdgeLiveness } from './state/edge-liveness.js';
import { PresenceStore, type PresenceView } from './state/presence-store.js';

export { EDGE_LOST_REASON } from './announce/announcer.js';
export const LEADER_LEASE_KEY = 'leader';
/** How long an announcement heard from another leader can override the ledger (its write lands in milliseconds). */
const HEARD_KEEP_MS = 60_000;
/** A lost edge is purged only after a PONG proves this replica hears NATS; waited for at most this long. */
const PURGE_PROOF_TIMEOUT_MS = 2_000;

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
  /** Whether the first snapshot round has settled (see Readiness). */
  isReady(): boolean;
  whenReady(): Promise<void>;
  /** Whether this replica emits the once-per-cluster side effects right now. */
  isLeader(): boolean;
  /** How many times this replica gained or lost the leader lease (a counter for alerts on flapping). */
  leaderChanges(): number;
  stats(): StatsReply;
  /** Stops intake, queries and timers, records what was announced, and releases the leader lease. */
  stop(): Promise<void>;
}

/**
 * Starts one registry replica: wiring only. Flow: edge events -> intake (validate, apply to the
 * store) -> announcer (presence events, leader only). Lifecycle: subscribe to edge events (every
 * replica, no queue group), ask every edge for a snapshot, and once ready (readiness.ts) join the
 * `mesh-registry` query queue group and campaign for the leader lease: a replica still rebuilding
 * never answers queries nor announces presence.
 */
export async function startRegistry(deps: RegistryDeps): Promise<RegistryHandle> {
  const { bus, health, config, subjects } = deps;
  const now = deps.now ?? Date.now;
  const id = `${config.registryId}/${randomUUID().slice(0, 8)}`;
  // Each part adds its own `component` to `base`; this module's lines use `logger`.
  const base = deps.logger.child({ registry: id });
  const logger = base.child({ component: 'registry' });
  const publish = safePublish((subject, data, headers) => bus.publish(subject, data, headers), createRateLimitedLog(logger));
  const store = new PresenceStore();
  const liveness = new EdgeLiveness(config.edgeLostAfterMs);
  const sync = new SnapshotSync({ assemblyTimeoutMs: 5_000, requestTimeoutMs: 1_000 });
  const requests = new SnapshotRequests({ sync, liveness, publish, subjects, logger: base, now });
  const readiness = new Readiness({ settleMs: config.settleMs ?? (bus.kind === 'memory' ? 250 : 5_000), sync });
  let waitingFor: string | undefined = `the KV bucket ${REGISTRY_KV_BUCKET}`;
  let stopped = false;
  health.addCheck('registry', () => {
    if (stopped) return 'registry stopped';
    if (waitingFor !== undefined) return `waiting for ${waitingFor}`;
    return readiness.isReady() ? true : (readiness.reason(now()) ?? 'settling');
  });
  health.addCheck('bus', () => (bus.isConnected() ? true : 'bus disconnected'));
  const kv = await openBucket(bus, config.kvReplicas, logger);
  if (config.eventsStream !== undefined) {
    waitingFor = `the lifecycle events stream ${config.eventsStream.name}`;
    await openEventsStream(bus, subjects, config.eventsStream, logger);
  }
  waitingFor = undefined;

  const lease = new LeaderLease({ kv, key: LEADER_LEASE_KEY, holder: id, ttlMs: config.leaseTtlMs, renewMs: config.leaseRenewMs, logger: base.child({ component: 'leader-lease' }), now });
  const ledger = new AnnouncedLedger({ kv, logger: base.child({ component: 'announced-ledger' }) });
  const heard = new HeardPresence(HEARD_KEEP_MS);
  const canPublish = () => bus.isConnected();
  const announcer = new Announcer({ store, ledger, holdsLease: () => lease.isLeader(), canPublish, heard, publish, subjects, presenceGraceMs: config.presenceGraceMs, logger: base, now });
  const userCap = new UserCap({ inner: announcer, store, max: config.maxConnectionsPerUser, policy: config.userLimitPolicy, isLeader: () => announcer.isLeading(), publish, subjects, logger: base.child({ component: 'user-cap' }) });
  let leaderChanges = 0;
  lease.onChange((leader) => {
    leaderChanges++;
    announcer.leadershipChanged(leader);
    userCap.enforceAll();
  });
  const intake = new PresenceIntake({ store, liveness, sync, requests, sink: userCap, logger: base, now });
  const stats = (): StatsReply => registryStats(store, liveness);
  let queries: { stop(): void } | undefined;
  let proving = false;

  /**
   * Purges edges silent past their allowance, but only once a PONG from NATS, received after
   * their deadline, proves that this replica itself still hears the bus: a replica cut off (or on
   * a frozen NATS node) hears no edge at all and must not declare them all lost.
   */
  function purgeProvenLost(): void {
    if (proving || !canPublish() || liveness.lost(now()).length === 0) return;
    proving = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PONG within ${PURGE_PROOF_TIMEOUT_MS} ms`)), PURGE_PROOF_TIMEOUT_MS);
    });
    Promise.race([bus.flush(), timeout])
      .then(
        () => {
          if (!stopped && canPublish()) intake.purgeLostEdges(now());
        },
        (err: unknown) => logger.warn({ err }, 'edges look lost, but this replica cannot prove it hears NATS: not purging them'),
      )
      .finally(() => {
        clearTimeout(timer);
        proving = false;
      });
  }

  function sweep(): void {
    if (stopped) return;
    try {
      const t = now();
      purgeProvenLost();
      heard.prune(t);
      for (const edge of sync.expire(t)) logger.warn({ edge }, 'gave up gathering an incomplete snapshot');
      announcer.flush();
      if (readiness.settle(t)) {
        const s = store.stats();
        logger.info({ edges: liveness.list().length, users: s.users, connections: s.connections, ms: t - startedAt }, 'registry ready');
        const source = { connectionsOfUser: (u: string) => ({ connections: store.connectionsOfUser(u) }), connectionsOfSession: (s: string) => ({ connections: store.connectionsOfSession(s) }), stats };
        queries = startQueryResponder({ bus, subjects, logger: base, source });
        lease.start();
      }
    } catch (err) {
      logger.error({ err }, 'registry sweep failed');
    }
  }

  const events = startEventIntake({ bus, subjects, logger: base, handlers: intake });
  const presenceHeard = bus.subscribe(subjects.presenceAll(), (msg) => {
    const parsed = parsePresenceEvent(msg.data);
    if (parsed.ok) announcer.heard(parsed.value);
  });
  const offBusEvents = bus.onEvent((event) => {
    if (event.type === 'reconnected' && !stopped) {
      // Our own outage silenced every edge: restart their clocks, then rebuild from snapshots.
      liveness.graceAll(now());
      requests.all('bus reconnected: events may have been missed');
      announcer.flush();
    }
    if (event.type === 'disconnected') logger.warn('bus disconnected');
  });
  // Subscriptions must be in place on the server before any edge answers.
  await bus.flush();
  const startedAt = now();
  readiness.start(startedAt);
  requests.all('registry start');

  const sweepMs = Math.max(20, Math.min(1_000, Math.floor(config.edgeLostAfterMs / 4)));
  const sweepTimer = setInterval(sweep, sweepMs);
  const settleTimer = setTimeout(sweep, readiness.settleMs + 1);
  logger.info({ settleMs: readiness.settleMs, edgeLostAfterMs: config.edgeLostAfterMs, sweepMs, bus: bus.kind }, 'registry started');

  return {
    id,
    store,
    isReady: () => readiness.isReady() && !stopped,
    whenReady: () => readiness.whenReady(),
    isLeader: () => !stopped && announcer.isLeading(),
    leaderChanges: () => leaderChanges,
    stats,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweepTimer);
      clearTimeout(settleTimer);
      offBusEvents();
      events.stop();
      presenceHeard.unsubscribe();
      queries?.stop();
      // The next leader reads the ledger: finish recording before letting it take over.
      await ledger.settled();
      await lease.stop();
      logger.info('registry stopped');
    },
  };
}

/**
 * The registry owns its bucket (leader lease, announced presence): it creates it, or checks the
 * settings of the one it finds. While JetStream cannot serve it yet (a cluster still forming),
 * the replica waits, unready, instead of exiting.
 */
async function openBucket(bus: Bus, replicas: number, logger: Logger): Promise<KvStore> {
  try {
    return await openKvWhenReady(bus, REGISTRY_KV_BUCKET, { replicas, history: 1, create: true }, {
      onWait: ({ attempt, delayMs, error }) => {
        if (attempt === 1 || attempt % 10 === 0) logger.warn({ attempt, delayMs, err: error }, `waiting for the KV bucket ${REGISTRY_KV_BUCKET}`);
      },
    });
  } catch (err) {
    throw new Error(`registry: cannot open the KV bucket ${REGISTRY_KV_BUCKET} (leader lease, announced presence; is JetStream enabled?): ${(err as Error).message}`, {
      cause: err,
    });
  }
}
