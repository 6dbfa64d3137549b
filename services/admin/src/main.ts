import { createBus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { ConfigError, createLogger, Health, registerBusMetrics, runMain, Shutdown, startOpsServer, startTelemetry, tracingRequested } from '@session-mesh/runtime';
import { startAdmin } from './admin.js';
import { loadAdminConfig } from './config.js';
import { registerAdminMetrics } from './metrics.js';

// Composition root of a standalone admin API: config -> logger -> health and the ops port -> bus ->
// admin (HTTP API and its background jobs); shutdown runs in reverse (API, bus, then ops port).
runMain('admin', async () => {
  const config = loadAdminConfig(process.env);
  if (config.natsUrl === undefined) {
    // The memory bus only connects components inside one process (services/mesh).
    throw new ConfigError(['MESH_NATS_URL: required by a standalone admin API (the in-process bus is for services/mesh)']);
  }
  const logger = createLogger({ name: 'admin', level: config.logLevel, traceIds: tracingRequested(process.env) });
  const shutdown = new Shutdown(logger, config.shutdownTimeoutMs);
  shutdown.installSignalHandlers();
  const health = new Health();
  // The ops port answers from the start (liveness), but is not ready before the admin's own checks exist.
  let started = false;
  health.addCheck('startup', () => started || 'starting');
  const ops = await startOpsServer({ health, port: config.opsPort, host: config.opsHost, logger });
  shutdown.onShutdown('ops server', () => ops.close());
  const telemetry = await startTelemetry({ serviceName: 'session-mesh-admin', ops, shutdown, logger });
  logger.info({ host: config.opsHost, port: ops.port }, 'ops server listening (/healthz, /readyz, /metrics)');

  const bus = await createBus({ natsUrl: config.natsUrl, nats: config.nats, name: 'admin', logger });
  shutdown.onShutdown('bus', () => bus.close());

  const server = await startAdmin({ bus, logger, health, config, subjects: createSubjects(config.subjectPrefix), tracing: telemetry.tracing });
  registerBusMetrics(telemetry.metrics, [{ connection: 'admin', bus }]);
  registerAdminMetrics(telemetry.metrics, server.app);
  started = true;
  shutdown.onShutdown('admin API', async () => {
    health.startDraining();
    await server.close();
  });
});
