import { createBus, MemoryBroker, type Bus } from '@session-mesh/bus';
import { loadAdminConfig, registerAdminMetrics, startAdmin } from '@session-mesh/admin';
import { loadEdgeConfig, registerEdgeMetrics, startEdge } from '@session-mesh/edge';
import { createSubjects } from '@session-mesh/protocol';
import { loadRegistryConfig, registerRegistryMetrics, startRegistry } from '@session-mesh/registry';
import { createLogger, Health, parseBooleanEnv, registerBusMetrics, runMain, Shutdown, startOpsServer, startTelemetry, tracingRequested } from '@session-mesh/runtime';
import { devAdminToken, devJwtSecret } from './dev-secrets.js';
import { quickStartBanner } from './banner.js';

// Composition root of the single-process mesh: every role (edge, registry, admin API) in one
// process. With no MESH_NATS_URL they share one in-process MemoryBroker; with it, each role gets
// its own NATS connection, exactly as separate processes would.
runMain('session-mesh', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const keyConfigured = ['MESH_JWT_SECRET', 'MESH_JWT_PUBLIC_KEY', 'MESH_JWT_PUBLIC_KEY_FILE', 'MESH_JWT_JWKS_URL'].some((k) => env[k]);
  const devSecret = !keyConfigured && !parseBooleanEnv(env, 'MESH_ANONYMOUS', false);
  if (devSecret) env['MESH_JWT_SECRET'] = devJwtSecret();
  const devAdmin = !env['MESH_ADMIN_TOKENS'];
  if (devAdmin) env['MESH_ADMIN_TOKENS'] = devAdminToken();
  // One machine, usually a developer's: a short drain window (upgrades and /readyz answer 503) then a quick stop.
  env['MESH_DRAIN_DELAY_MS'] ??= '1000';
  env['MESH_DRAIN_SPREAD_MS'] ??= '0';
  // On the in-process bus no backend outside this process could read the lifecycle events stream: do not keep it.
  if (!env['MESH_NATS_URL']) env['MESH_EVENTS'] ??= 'false';
  // ... and its push stream lives in this process's memory: keep it to 64 MiB unless told otherwise.
  if (!env['MESH_NATS_URL']) env['MESH_DURABLE_MAX_BYTES'] ??= String(64 * 1024 * 1024);

  // Validate every role's configuration before starting anything.
  const edgeConfig = loadEdgeConfig(env);
  const registryConfig = loadRegistryConfig(env);
  const adminConfig = loadAdminConfig(env);

  const logger = createLogger({ name: 'session-mesh', level: edgeConfig.logLevel, traceIds: tracingRequested(env) });
  const shutdown = new Shutdown(logger, edgeConfig.shutdownTimeoutMs);
  shutdown.installSignalHandlers();
  const health = new Health();
  // One internal ops port for every role; each role's checks under its own name (edge.bus, admin.bus...).
  let started = false;
  health.addCheck('startup', () => started || 'starting');
  const ops = await startOpsServer({ health, port: edgeConfig.opsPort, host: edgeConfig.opsHost, logger });
  shutdown.onShutdown('ops server', () => ops.close());
  // One registry and one /metrics for the three roles; bus metrics per role's connection.
  const telemetry = await startTelemetry({ serviceName: 'session-mesh', ops, shutdown, logger, env });
  const buses: Array<{ connection: string; bus: Bus }> = [];
  const subjects = createSubjects(edgeConfig.subjectPrefix);
  const broker = new MemoryBroker();
  const connect = async (name: string) => {
    const bus = await createBus({ natsUrl: edgeConfig.natsUrl, nats: edgeConfig.nats, name, logger }, broker);
    shutdown.onShutdown(`${name} bus`, () => bus.close());
    buses.push({ connection: name, bus });
    return bus;
  };

  const registry = await startRegistry({ bus: await connect('registry'), logger, health: health.scope('registry'), config: registryConfig, subjects });
  shutdown.onShutdown('registry', () => registry.stop());

  const admin = await startAdmin({ bus: await connect('admin'), logger, health: health.scope('admin'), config: adminConfig, subjects, tracing: telemetry.tracing });
  shutdown.onShutdown('admin API', () => admin.close());

  // The edge starts last and drains first: clients are told to reconnect before anything else stops.
  const edge = await startEdge({ bus: await connect('edge'), logger, health: health.scope('edge'), config: edgeConfig, subjects, tracing: telemetry.tracing });
  ops.route('/stats', () => ({ status: 200, body: JSON.stringify(edge.stats()) }));
  registerBusMetrics(telemetry.metrics, buses);
  registerRegistryMetrics(telemetry.metrics, registry);
  registerAdminMetrics(telemetry.metrics, admin.app);
  registerEdgeMetrics(telemetry.metrics, edge);
  started = true;
  // Draining keeps both ports open: upgrades and /readyz answer 503 during the drain window.
  shutdown.onShutdown('edge', () => edge.drain());

  logger.info({ edgePort: edge.port, adminPort: admin.port, opsPort: ops.port, bus: edgeConfig.natsUrl ? 'nats' : 'memory' }, 'session mesh started');
  process.stdout.write(
    quickStartBanner({
      edgePort: edge.port,
      adminPort: admin.port,
      opsPort: ops.port,
      bus: edgeConfig.natsUrl ? 'nats' : 'embedded in-process bus',
      devSecret,
      adminToken: devAdmin ? env['MESH_ADMIN_TOKENS'] : undefined,
    }),
  );
});
