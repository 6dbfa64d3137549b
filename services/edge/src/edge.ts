import { createTokenVerifier } from '@session-mesh/auth';
import type { Bus, BusSubscription } from '@session-mesh/bus';
import { CloseCode, PROTOCOL_VERSION, type Subjects, type WelcomeFrame } from '@session-mesh/protocol';
import type { Health, Logger } from '@session-mesh/runtime';
import type { WebSocket } from 'uWebSockets.js';
import { Admission } from './admission.js';
import { BlacklistView } from './blacklist-view.js';
import { CoarseClock } from './clock.js';
import type { EdgeConfig } from './config.js';
import { closeConnection, ConnectionIndex, ConnState, Flag } from './connection-index.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import { Fanout } from './fanout.js';
import { ConnectionIds, expMs, RoleTable } from './identity.js';
import { Inbound } from './inbound.js';
import { Interest } from './interest.js';
import { startKillListener, type KillStats } from './kill-listener.js';
import { LifecycleEvents } from './lifecycle-events.js';
import { assertNativeUws, currentUwsProbe } from './native-uws.js';
import { BROADCAST_TOPIC, startServer, type EdgeServer, type SocketData } from './server.js';
import { StallMonitor } from './stall-monitor.js';

export interface EdgeDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly health: Health;
  readonly config: EdgeConfig;
  readonly subjects: Subjects;
}

export interface EdgeStats {
  readonly edgeId: string;
  /** Open sockets, welcomed or not. */
  readonly connections: number;
  /** Sockets announced to the registry (welcome sent). */
  readonly welcomed: number;
  readonly users: number;
  readonly sessions: number;
  readonly deliveries: number;
  readonly drops: number;
  readonly slowConsumers: number;
  readonly broadcasts: number;
  readonly badPushHeaders: number;
  readonly kills: number;
  readonly expired: number;
  readonly blacklistClosed: number;
  readonly blacklistEntries: number;
  readonly upgrades: { readonly accepted: number; readonly refused: number; readonly aborted: number };
  readonly inbound: { readonly messages: number; readonly requests: number; readonly badFrames: number; readonly refreshes: number; readonly premature: number };
  readonly internedRoleSets: number;
  readonly eventLoopMaxDelayMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Memory outside the JS heap that V8 knows of (ArrayBuffers...); uWS's own memory is only in rss. */
  readonly external: number;
  /** process.cpuUsage(), microseconds. */
  readonly cpu: { readonly user: number; readonly system: number };
  readonly uptimeS: number;
}

export interface EdgeHandle {
  readonly edgeId: string;
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Graceful stop: readiness false, new upgrades refused (503), every socket closed with
   * SERVER_DRAINING and its disconnect published, subscriptions dropped, bus flushed, listen
   * socket closed. Idempotent. Does not close the bus (the caller owns it).
   */
  drain(): Promise<void>;
  stats(): EdgeStats;
}

/** Builds and starts an edge from explicit dependencies. Resolves once it accepts connections. */
export async function startEdge(deps: EdgeDeps): Promise<EdgeHandle> {
  const { bus, health, config, subjects } = deps;
  const binary = assertNativeUws(currentUwsProbe());
  const logger = deps.logger.child({ component: 'edge', edge: config.edgeId });

  const verifier = config.auth === undefined ? undefined : await createTokenVerifier(config.auth);
  const startedAt = Date.now();
  const ids = new ConnectionIds(config.edgeId);
  const roles = new RoleTable();
  const clock = new CoarseClock();
  let server: EdgeServer | undefined;
  const fanout = new Fanout(config.maxBackpressureBytes, (frame) => server?.publishToAll(frame) ?? 0);
  const interest = new Interest(bus, subjects, fanout, logger);
  const index = new ConnectionIndex(interest);
  interest.attach(index);
  const blacklist = new BlacklistView(index, logger);
  const lifecycle = new LifecycleEvents(bus, subjects, index, ids, config.heartbeatIntervalMs, logger);
  const inbound = new Inbound({ bus, subjects, ids, clock, verifier, blacklist, roles, requestTimeoutMs: config.requestTimeoutMs });
  const admission = new Admission(config, verifier, blacklist, roles);
  const sweeper = new ExpirySweeper({ index, clock, fanout, blacklist, clockToleranceS: config.auth?.clockToleranceS ?? 0 });
  const stall = new StallMonitor(logger);
  const killStats: KillStats = { kills: 0 };
  let draining = false;

  health.addCheck('bus', () => (bus.isConnected() ? true : 'bus disconnected'));
  health.addCheck('blacklist', () => blacklist.readiness());
  health.addCheck('subscriptions', () => interest.readiness());

  // Server errors can come in bursts (one per refused subscription): one line per 10 s at most.
  let lastErrorLogAt = 0;
  let unloggedErrors = 0;
  const offBusEvents = bus.onEvent((event) => {
    if (event.type === 'subscription-error') {
      interest.onBusEvent(event);
    } else if (event.type === 'error') {
      const now = Date.now();
      if (now - lastErrorLogAt < 10_000) {
        unloggedErrors++;
        return;
      }
      logger.error({ err: event.error, suppressedSinceLastLine: unloggedErrors }, 'bus error');
      lastErrorLogAt = now;
      unloggedErrors = 0;
    } else {
      logger.warn({ event: event.type }, `bus ${event.type}`);
    }
  });

  const welcome = (conn: ConnState): void => {
    const ws = conn.ws;
    if (ws === undefined || (conn.flags & Flag.CLOSED) !== 0) return;
    conn.flags |= Flag.WELCOMED;
    const frame: WelcomeFrame = {
      type: 'welcome',
      v: PROTOCOL_VERSION,
      user: conn.user,
      session: conn.session,
      client: conn.client,
      conn: ids.format(conn.seq),
      edge: config.edgeId,
      roles: conn.roles.roles,
      expiresAt: expMs(conn.expS),
    };
    const text = JSON.stringify(frame);
    ws.cork(() => {
      ws.subscribe(BROADCAST_TOPIC);
      ws.send(text, false);
    });
    lifecycle.connected(conn);
  };

  const handlers = {
    newConnection: (identity: Parameters<typeof admission.blacklisted>[0]) => new ConnState(ids.allocate(), identity, Date.now(), clock.nowS),
    onOpen(conn: ConnState, ws: WebSocket<SocketData>): void {
      conn.ws = ws;
      conn.flags |= Flag.OPEN;
      if (draining) {
        ws.end(CloseCode.SERVER_DRAINING, 'server draining');
        return;
      }
      // An entry may have landed while the token was being verified.
      const blocked = admission.blacklisted(conn);
      if (blocked !== undefined) {
        ws.end(CloseCode.SESSION_BLACKLISTED, 'blacklisted');
        return;
      }
      const wait = index.add(conn);
      if (wait === undefined) {
        welcome(conn);
        return;
      }
      wait.then(
        () => welcome(conn),
        (err: unknown) => {
          if (closeConnection(conn, CloseCode.SERVER_OVERLOADED, 'server overloaded, retry later')) {
            logger.debug({ err }, 'connection closed: subscription not confirmed');
          }
        },
      );
    },
    onMessage: (conn: ConnState, message: ArrayBuffer, isBinary: boolean) => inbound.onMessage(conn, message, isBinary),
    onClose(conn: ConnState, code: number, reason: string): void {
      const announced = (conn.flags & Flag.WELCOMED) !== 0;
      conn.flags |= Flag.CLOSED;
      conn.ws = undefined;
      index.remove(conn);
      if (announced) lifecycle.disconnected(conn, code, reason);
    },
    isDraining: () => draining,
    stats: () => stats(),
  };

  const stats = (): EdgeStats => {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      edgeId: config.edgeId,
      connections: index.size,
      welcomed: lifecycle.announced,
      users: index.users.size,
      sessions: index.sessions.size,
      deliveries: fanout.stats.deliveries,
      drops: fanout.stats.drops,
      slowConsumers: fanout.stats.slowConsumers,
      broadcasts: fanout.stats.broadcasts,
      badPushHeaders: fanout.stats.badHeaders,
      kills: killStats.kills,
      expired: sweeper.stats.expired,
      blacklistClosed: blacklist.closed,
      blacklistEntries: blacklist.size,
      upgrades: { ...(server?.upgrades ?? { accepted: 0, refused: 0, aborted: 0 }) },
      inbound: { ...inbound.stats },
      internedRoleSets: roles.size,
      eventLoopMaxDelayMs: Math.round(stall.lastMaxMs),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      cpu: { user: cpu.user, system: cpu.system },
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
    };
  };

  // Edge-wide subscriptions: kills, broadcast, snapshot requests.
  const edgeSubs: BusSubscription[] = [];
  const stopAll = () => {
    sweeper.stop();
    stall.stop();
    lifecycle.stop();
    blacklist.stop();
    for (const sub of edgeSubs.splice(0)) sub.unsubscribe();
    offBusEvents();
  };

  try {
    server = await startServer({ config, admission, handlers, health, logger });
    edgeSubs.push(startKillListener({ bus, subjects, index, ids, stats: killStats }));
    edgeSubs.push(bus.subscribe(subjects.pushBroadcast(), fanout.deliverBroadcast));
    for (const sub of edgeSubs) interest.watchEdgeSubject(sub.subject);
    for (const subject of lifecycle.subscribedSubjects()) interest.watchEdgeSubject(subject);
    lifecycle.start();
    // Upgrades get 503 until the initial blacklist is loaded.
    await blacklist.start(bus, config.blacklistBucket, config.kvReplicas);
    await interest.flush();
    // After a restart the registry learns that this edge holds nothing (yet).
    lifecycle.publishSnapshot();
    sweeper.start();
    stall.start();
  } catch (err) {
    stopAll();
    server?.close();
    throw err;
  }

  const port = server.port;
  logger.info(
    {
      host: config.host,
      port,
      bus: bus.kind,
      auth: verifier?.description ?? 'anonymous',
      tokenSources: config.anonymous ? [] : config.tokenSources,
      uws: binary.split(/[\\/]/).pop(),
    },
    'edge accepting connections',
  );

  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (drained ??= (async () => {
      draining = true;
      health.startDraining();
      const open = [...index.bySeq.values()];
      logger.info({ connections: open.length }, 'draining: closing every connection with SERVER_DRAINING');
      // Each close runs the close handler synchronously: disconnect published, groups unsubscribed.
      for (const conn of open) closeConnection(conn, CloseCode.SERVER_DRAINING, 'server draining, reconnect');
      stopAll();
      try {
        await bus.flush();
      } catch (err) {
        logger.warn({ err }, 'flush during drain failed');
      }
      server!.close();
      logger.info('drained');
    })());

  return { edgeId: config.edgeId, port, drain, stats };
}


