import { createBus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { ConfigError, createLogger, Health, runMain, Shutdown, startOpsServer } from '@session-mesh/runtime';
import { loadRegistryConfig } from './config.js';
import { startRegistry } from './registry.js';

// Composition root of a standalone registry replica: config -> logger -> health -> bus ->
// registry -> health server; shutdown runs in reverse (health server, registry, bus).
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

  const bus = await createBus({ natsUrl: config.natsUrl, name: `registry-${config.registryId}`, logger });
  shutdown.onShutdown('bus', () => bus.close());

  const registry = await startRegistry({ bus, logger, health, config, subjects: createSubjects(config.subjectPrefix) });
  shutdown.onShutdown('registry', () => registry.stop());

  const server = await startOpsServer({ health, port: config.healthPort, logger });
  shutdown.onShutdown('health server', async () => {
    health.startDraining();
    await server.close();
  });
  logger.info({ healthPort: server.port, registry: registry.id }, 'registry listening for health checks');
});
