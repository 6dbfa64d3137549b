import { createTokenVerifier } from '@session-mesh/auth';
import type { Bus } from '@session-mesh/bus';
import type { Subjects } from '@session-mesh/protocol';
import type { Health, Logger, PlainHistogram, Tracing } from '@session-mesh/runtime';
import { Admission } from './admission/admission.js';
import { AnonymousIds } from './admission/anonymous-ids.js';
import { ConnectionLimits } from './admission/limits.js';
import { DeliveryCanary } from './broker/canary.js';
import { EdgeBroker } from './broker/edge-broker.js';
import { CoarseClock } from './clock.js';
import type { EdgeConfig } from './config.js';
import { Connections } from './connection/connections.js';
import { ConnectionIds, RoleTable } from './connection/identity.js';
import { BlacklistView } from './control/blacklist-view.js';
import { Sweeper } from './control/sweeper.js';
import { drainConnections } from './drain.js';
import { DurablePushes } from './durable/durable-pushes.js';
import { Hub } from './hub/hub.js';
import { Inbound } from './inbound/inbound.js';
import { InboundRateLimit } from './inbound/rate-limit.js';
import { LifecycleEvents } from './lifecycle/lifecycle-events.js';
import { StallMonitor } from './ops/stall-monitor.js';
import { collectStats, type EdgeStats } from './ops/stats.js';
import { assertNativeUws, currentUwsProbe } from './transport/native-uws.js';
import { startTransport, type Transport } from './transport/uws-transport.js';

export type { EdgeStats } from './ops/stats.js';

export interface EdgeDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly health: Health;
  readonly config: EdgeConfig;
  readonly subjects: Subjects;
  /** Delivery spans for pushes that carry a traceparent; default off. */
  readonly tracing?: Tracing;
}

export interface EdgeHandle {
  readonly edgeId: string;
  /** The bound public port (useful with port 0). */
  readonly port: number;
  /** Graceful stop (see drain.ts), then subscriptions dropped, bus flushed, listen socket closed. Idempotent; the bus stays open (the caller owns it). */
  drain(): Promise<void>;
  stats(): EdgeStats;
  /** Histograms observed on the hot path in plain numbers (metrics.ts exposes them). */
  readonly latency: { readonly push: PlainHistogram; readonly connect: PlainHistogram };
}

/** Wiring only: builds the edge's parts from explicit dependencies and starts them in order. */
export async function startEdge(deps: EdgeDeps): Promise<EdgeHandle> {
  const { bus, health, config, subjects } = deps;
  const binary = assertNativeUws(currentUwsProbe());
  const logger = deps.logger.child({ component: 'edge', edge: config.edgeId });
  const verifier = config.auth === undefined ? undefined : await createTokenVerifier(config.auth);
  const startedAtMs = Date.now();
  const ids = new ConnectionIds(config.edgeId);
  const [roles, clock, hub, stall] = [new RoleTable(), new CoarseClock(), new Hub(), new StallMonitor(logger)];
  const broker = new EdgeBroker(bus, subjects, hub, config.edgeId, logger, deps.tracing);
  const blacklist = new BlacklistView(hub, logger);
  const lifecycle = new LifecycleEvents(broker, subjects, hub, ids, config.heartbeatIntervalMs, logger);
  const rateLimit = new InboundRateLimit(config.inboundRatePerS, config.inboundBurst);
  const inbound = new Inbound({ broker, ids, clock, verifier, blacklist, roles, rateLimit, requestTimeoutMs: config.requestTimeoutMs, maxMessageBytes: config.maxMessageBytes });
  const closeOldestAbove = config.userLimitPolicy === 'close-oldest' ? config.maxConnectionsPerUser : 0;
  const durable = config.durable && new DurablePushes(bus, subjects, config.durable, logger);
  const connections = new Connections({ hub, broker, ids, clock, listener: lifecycle, revocation: blacklist, inbound, backpressureLimit: config.maxBackpressureBytes, closeOldestAbove, logger, durable });
  const limits = new ConnectionLimits(config, connections);
  const admission = new Admission(config, verifier, blacklist, roles, connections, config.anonymousSecret && new AnonymousIds(config.anonymousSecret), limits, broker);
  const sweeper = new Sweeper({ hub, clock, blacklist, clockToleranceS: config.auth?.clockToleranceS ?? 0, idleTimeoutS: config.idleTimeoutS });
  const canary = new DeliveryCanary(bus, subjects, config.edgeId, config.canaryIntervalMs, config.canaryMisses, logger);
  health.addCheck('bus', () => broker.readiness());
  health.addCheck('delivery', () => canary.readiness());
  health.addCheck('blacklist', () => blacklist.readiness());
  if (durable !== undefined) health.addCheck('durable', () => durable.readiness());

  let transport: Transport | undefined;
  const stopping = new AbortController();
  const stopParts = () => {
    stopping.abort();
    [canary, sweeper, stall, lifecycle, blacklist, broker].forEach((part) => part.stop());
  };
  try {
    // Nobody connects before the push stream is there (created or updated to the operator's retention).
    if (durable !== undefined) {
      broker.acceptDurable(durable.streamName);
      await durable.start(stopping.signal);
    }
    transport = await startTransport(config, admission, connections, logger);
    broker.start(connections);
    canary.start();
    lifecycle.start();
    // Upgrades get 503 until the initial blacklist is loaded.
    await blacklist.start(bus, config.blacklistBucket, config.kvReplicas, { subjects, edgeId: config.edgeId });
    await broker.flush();
    // After a restart the registry learns that this edge holds nothing (yet).
    lifecycle.publishSnapshot();
    sweeper.start();
    stall.start();
  } catch (err) {
    stopParts();
    transport?.close();
    throw err;
  }
  const server = transport;
  logger.info({ host: config.host, port: server.port, bus: bus.kind, auth: verifier?.description ?? 'anonymous', tokenSources: config.anonymous ? [] : config.tokenSources, uws: binary.split(/[\\/]/).pop() }, 'edge accepting connections');

  const stats = () => collectStats({ edgeId: config.edgeId, startedAtMs, hub, outbound: connections.shared.outbound, broker: broker.stats, canary: canary.stats, limits: limits.stats, connections: connections.stats, lifecycle, sweeper, blacklist, upgrades: () => server.upgrades, inbound: inbound.stats, roles, stall, durable });
  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (drained ??= (async () => {
      await drainConnections(connections, health, { delayMs: config.drainDelayMs, spreadMs: config.drainSpreadMs, reconnectJitterMs: config.drainReconnectJitterMs }, logger);
      stopParts();
      await bus.flush().catch((err: unknown) => logger.warn({ err }, 'flush during drain failed'));
      server.close();
      logger.info('drained');
    })());
  return { edgeId: config.edgeId, port: server.port, drain, stats, latency: { push: broker.pushLatency, connect: connections.connectLatency } };
}
