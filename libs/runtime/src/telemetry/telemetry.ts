import type { Logger } from 'pino';
import { parseBooleanEnv } from '../config.js';
import type { OpsServer } from '../ops-server.js';
import type { Shutdown } from '../shutdown.js';
import { Metrics } from './metrics.js';
import { startTracing, type Tracing } from './tracing.js';

export interface Telemetry {
  readonly metrics: Metrics;
  readonly tracing: Tracing;
}

/**
 * Every service's telemetry, set up the same way from its composition root: a Prometheus registry
 * served at GET /metrics on the ops port (never the public port), and OpenTelemetry tracing when
 * the OTEL_* variables configure an exporter (off otherwise), flushed on shutdown.
 * MESH_METRICS=false turns the scrape endpoint and the process metrics off (to measure their cost).
 */
export async function startTelemetry(options: { serviceName: string; ops: OpsServer; shutdown: Shutdown; logger: Logger; env?: NodeJS.ProcessEnv }): Promise<Telemetry> {
  const env = options.env ?? process.env;
  const metricsOn = parseBooleanEnv(env, 'MESH_METRICS', true);
  const metrics = new Metrics({ defaultMetrics: metricsOn });
  if (metricsOn) options.ops.route('/metrics', metrics.route());
  const tracing = await startTracing({ serviceName: options.serviceName, logger: options.logger, env });
  if (tracing.enabled) options.shutdown.onShutdown('tracing', () => tracing.shutdown());
  return { metrics, tracing };
}
