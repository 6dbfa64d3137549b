/**
 * What startTracing switches on when the OTEL_* variables ask for OTLP export: traces, and nothing
 * else. NodeSDK would otherwise also start OTLP metrics (an export every 60 s) and logs pipelines,
 * which the telemetry bench saw as memory; metrics are served at /metrics, logs go to stdout.
 */
import { afterAll, expect, it } from 'vitest';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { startTracing, type Tracing } from '@session-mesh/runtime';

let tracing: Tracing | undefined;
afterAll(async () => {
  await tracing?.shutdown();
});

it('starts a tracer provider and no metrics or logs pipeline', async () => {
  // `env` turns tracing on; the SDK itself reads process.env (no endpoint: localhost:4318). No span
  // is ended here, so nothing is exported.
  tracing = await startTracing({ serviceName: 'sdk-test', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' } });
  expect(tracing.enabled).toBe(true);
  expect(tracing.tracer.startSpan('probe').isRecording()).toBe(true);
  expect(metrics.getMeterProvider()).not.toBeInstanceOf(MeterProvider);
});
