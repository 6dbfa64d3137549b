import { createBus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { ConfigError, createLogger, Health, registerBusMetrics, runMain, Shutdown, startOpsServer, startTelemetry } from '@session-mesh/runtime';
import { loadRegistryConfig } from './config.js';
import { registerRegistryMetrics } from './metrics.js';
import { startRegistry } from './registry.js';

// Composition root of a standalone registry replica: config -> logger -> health -> bus -> ops
// server -> registry; shutdown runs in reverse (registry, ops server, bus).
runMain('registry', async () => {
  const config = loadRegistryConfig(process.env);
  if (config.natsUrl === undefined) {
    // The memory bus only connects components inside one process (services/mesh).
    throw new ConfigError(['MESH_NATS_URL: required by a standalone registry (the in-process bus is for services/mesh)']);
  }
  const logger = createLogger({ name: 'registry', level: config.logLevel });
  const shutdown = new Shutdown(logger, config.shutdownTimeoutMs);
  shutdown.installSignalHandlers();
  const health = new Health();

  const bus = await createBus({ natsUrl: config.natsUrl, nats: config.nats, name: `registry-${config.registryId}`, logger });
  shutdown.onShutdown('bus', () => bus.close());

  const ops = await startOpsServer({ health, port: config.opsPort, host: config.opsHost, logger });
  shutdown.onShutdown('ops server', async () => {
    health.startDraining();
    await ops.close();
  });
  const telemetry = await startTelemetry({ serviceName: 'session-mesh-registry', ops, shutdown, logger });
  registerBusMetrics(telemetry.metrics, [{ connection: 'registry', bus }]);
  logger.info({ opsPort: ops.port }, 'registry ops server listening (/healthz, /readyz, /metrics)');

  // Probes answer (unready) while the registry waits for JetStream and rebuilds its state.
  const registry = await startRegistry({ bus, logger, health, config, subjects: createSubjects(config.subjectPrefix) });
  shutdown.onShutdown('registry', () => registry.stop());
  registerRegistryMetrics(telemetry.metrics, registry);
});
