import { createBus } from '@session-mesh/bus';
import { createSubjects } from '@session-mesh/protocol';
import { createLogger, Health, runMain, Shutdown } from '@session-mesh/runtime';
import { loadEdgeConfig } from './config.js';
import { startEdge } from './edge.js';

/**
 * Composition root of a standalone edge: configuration -> logger -> health -> bus -> edge ->
 * shutdown. Shutdown hooks run in reverse: the edge drains (sockets closed, disconnects
 * published) before the bus it publishes on is closed.
 */
runMain('edge', async () => {
  const config = loadEdgeConfig(process.env);
  const logger = createLogger({ name: 'edge', level: config.logLevel });
  if (config.natsUrl === undefined) {
    logger.warn('MESH_NATS_URL is unset: using the embedded memory bus, which no backend outside this process can reach');
  }
  if (config.anonymous) logger.warn('MESH_ANONYMOUS=true: connections are not authenticated');
  const health = new Health();
  const shutdown = new Shutdown(logger, config.shutdownTimeoutMs);
  const bus = await createBus({ natsUrl: config.natsUrl, name: `edge ${config.edgeId}`, logger });
  shutdown.onShutdown('bus', () => bus.close());
  const edge = await startEdge({ bus, logger, health, config, subjects: createSubjects(config.subjectPrefix) });
  shutdown.onShutdown('edge', () => edge.drain());
  shutdown.installSignalHandlers();
});
