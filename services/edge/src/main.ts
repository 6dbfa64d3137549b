import { createBus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { ConfigError, createLogger, Health, registerBusMetrics, runMain, Shutdown, startOpsServer, startTelemetry, tracingRequested } from '@session-mesh/runtime';
import { loadEdgeConfig } from './config.js';
import { startEdge } from './edge.js';
import { registerEdgeMetrics } from './metrics.js';

/**
 * Composition root of a standalone edge: configuration -> logger -> health -> bus -> edge -> ops
 * server -> shutdown. Shutdown hooks run in reverse: the edge drains (sockets closed, disconnects
 * published) before the bus it publishes on is closed; the ops server answers until the end.
 */
runMain('edge', async () => {
  const config = loadEdgeConfig(process.env);
  if (config.natsUrl === undefined) {
    // An edge on a private in-process bus is reachable by no backend: only services/mesh may use one.
    throw new ConfigError(['MESH_NATS_URL: required by a standalone edge (the in-process bus is only for services/mesh)']);
  }
  const logger = createLogger({ name: 'edge', level: config.logLevel, traceIds: tracingRequested(process.env) });
  if (config.anonymous) logger.warn('MESH_ANONYMOUS=true: connections are not authenticated');
  if (config.anonymous && process.env['MESH_ANONYMOUS_SECRET'] === undefined) {
    logger.warn('MESH_ANONYMOUS_SECRET is unset: anonymous client ids are valid on this edge only; set the same secret on every edge');
  }
  const health = new Health();
  const shutdown = new Shutdown(logger, config.shutdownTimeoutMs);
  // Up first, for liveness during a slow start (JetStream forming); not ready until the edge is.
  let started = false;
  health.addCheck('startup', () => started || 'starting');
  const ops = await startOpsServer({ health, port: config.opsPort, host: config.opsHost, logger });
  shutdown.onShutdown('ops server', () => ops.close());
  const telemetry = await startTelemetry({ serviceName: 'session-mesh-edge', ops, shutdown, logger });
  const bus = await createBus({ natsUrl: config.natsUrl, nats: config.nats, name: `edge ${config.edgeId}`, logger });
  shutdown.onShutdown('bus', () => bus.close());
  const edge = await startEdge({ bus, logger, health, config, subjects: createSubjects(config.subjectPrefix), tracing: telemetry.tracing });
  ops.route('/stats', () => ({ status: 200, body: JSON.stringify(edge.stats()) }));
  registerBusMetrics(telemetry.metrics, [{ connection: 'edge', bus }]);
  registerEdgeMetrics(telemetry.metrics, edge);
  started = true;
  shutdown.onShutdown('edge', () => edge.drain());
  shutdown.installSignalHandlers();
  logger.info({ opsPort: ops.port }, 'ops endpoints (/healthz, /readyz, /stats, /metrics) listening');
});
