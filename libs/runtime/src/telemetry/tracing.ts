import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';

export type { Span as TraceSpan } from '@opentelemetry/api';

/** W3C trace context headers, as they travel in NATS message headers. */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

/** Read access to message headers (the bus's BusHeaders: get returns '' when missing). */
export interface HeaderReader {
  get(name: string): string;
}

const headerGetter: TextMapGetter<HeaderReader> = {
  get: (carrier, key) => carrier.get(key) || undefined,
  keys: () => [TRACEPARENT_HEADER, TRACESTATE_HEADER],
};

/**
 * The process's tracing switch and helpers. When `enabled` is false (no OTEL_* exporter configured)
 * call sites skip tracing entirely behind that one boolean: no header read, no context lookup, no
 * span object; the OpenTelemetry SDK is not even loaded.
 */
export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /**
   * A PRODUCER span for a publish, and the headers that carry it (merge them into the message's
   * headers). End the span after publishing.
   */
  startPublish(name: string, attributes?: Attributes, headers?: Record<string, string>): { span: Span; headers: Record<string, string> };
  /**
   * A CONSUMER span for a received message, the child of the span in its traceparent header when
   * there is one (a root span otherwise). End it when the message is handled.
   */
  startReceive(name: string, headers: HeaderReader | undefined, attributes?: Attributes): Span;
  /** A SERVER span for an HTTP request, the child of the caller's traceparent when it sent one. */
  startServer(name: string, headers: HeaderReader, attributes?: Attributes): Span;
  /** Runs fn with span as the active span (so nested spans and log lines see it). */
  withSpan<T>(span: Span, fn: () => T): T;
  /** Trace context of the active span for other headers (a reply, a forwarded message), or undefined. */
  activeHeaders(): Record<string, string> | undefined;
  /** Flushes and stops the SDK (SIGTERM). */
  shutdown(): Promise<void>;
}

/**
 * Whether a W3C traceparent (`00-<trace id>-<span id>-<flags>`) has its sampled flag set: the low
 * bit of the last hex digit. A leaf consumer (the edge's delivery) skips unsampled messages
 * entirely, as the default parent-based samplers would make a non-recording span of them anyway:
 * no span object, no context switch per push.
 */
export function isSampledTraceparent(value: string): boolean {
  if (value.length < 55) return false;
  const c = value.charCodeAt(value.length - 1);
  const digit = c <= 57 ? c - 48 : (c | 32) - 87;
  return (digit & 1) === 1;
}

/** Whether the standard OTEL_* variables ask for trace export. Off unless an exporter is configured. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT']) || Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

export interface TelemetryOptions {
  /** service.name of the spans (OTEL_SERVICE_NAME wins when set, as the SDK reads it). */
  readonly serviceName: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /** Tests: span processors to use (an in-memory exporter) instead of the OTEL_* exporters; turns tracing on. */
  readonly spanProcessors?: SpanProcessor[];
}

/**
 * Starts OpenTelemetry through @opentelemetry/sdk-node when OTEL_* asks for export (OTLP by default;
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG choose the sampling, OTEL_PROPAGATORS the header
 * format: tracecontext by default). Call once per process, before the services start.
 */
export async function startTracing(options: TelemetryOptions): Promise<Tracing> {
  const env = options.env ?? process.env;
  if (options.spanProcessors === undefined && !tracingRequested(env)) return tracingOff();
  // Loaded only when used: the SDK (exporters, gRPC) is heavy and costs nothing when tracing is off.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    serviceName: env['OTEL_SERVICE_NAME'] ?? options.serviceName,
    instrumentations: [],
    // Traces only. Left to itself, with OTEL_EXPORTER_OTLP_ENDPOINT set, NodeSDK also starts an OTLP
    // metrics pipeline (an export every 60 s) and an OTLP logs pipeline: metrics are served at
    // /metrics and logs go to stdout, so both would be dead weight (the bench saw them as memory).
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors !== undefined ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
  options.logger?.info({ exporter: options.spanProcessors !== undefined ? 'in-process' : env['OTEL_TRACES_EXPORTER'] ?? 'otlp', sampler: env['OTEL_TRACES_SAMPLER'] ?? 'parentbased_always_on' }, 'tracing on');
  return tracingOn(trace.getTracer('session-mesh'), () => sdk.shutdown());
}

const noSpan = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 });

function tracingOn(tracer: Tracer, shutdown: () => Promise<void>): Tracing {
  return {
    enabled: true,
    tracer,
    startPublish(name, attributes, headers = {}) {
      const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, ...(attributes ? { attributes } : {}) });
      propagation.inject(trace.setSpan(context.active(), span), headers);
      return { span, headers };
    },
    startReceive(name, headers, attributes) {
      const parent: Context = headers === undefined ? context.active() : propagation.extract(context.active(), headers, headerGetter);
      return tracer.startSpan(name, { kind: SpanKind.CONSUMER, ...(attributes ? { attributes } : {}) }, parent);
    },
    startServer(name, headers, attributes) {
      const parent = propagation.extract(context.active(), headers, headerGetter);
      return tracer.startSpan(name, { kind: SpanKind.SERVER, ...(attributes ? { attributes } : {}) }, parent);
    },
    withSpan: (span, fn) => context.with(trace.setSpan(context.active(), span), fn),
    activeHeaders() {
      if (trace.getSpan(context.active()) === undefined) return undefined;
      const headers: Record<string, string> = {};
      propagation.inject(context.active(), headers);
      return headers;
    },
    shutdown,
  };
}

/** Tracing off: the same interface, doing nothing (call sites should test `enabled` first anyway). */
export function tracingOff(): Tracing {
  const tracer = trace.getTracer('session-mesh');
  return {
    enabled: false,
    tracer,
    startPublish: (_name, _attributes, headers = {}) => ({ span: noSpan, headers }),
    startReceive: () => noSpan,
    startServer: () => noSpan,
    withSpan: (_span, fn) => fn(),
    activeHeaders: () => undefined,
    shutdown: async () => {},
  };
}

/** Attributes of a span that publishes to a NATS subject (OpenTelemetry messaging conventions). */
export function natsPublishAttributes(subject: string, payload: Uint8Array): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': 'publish',
    'messaging.destination.name': subject,
    'messaging.message.body.size': payload.length,
  };
}

/** Marks a span failed (an exception, a refusal). */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * pino mixin: every log line written while a span is active carries its trace_id and span_id (the
 * field names OpenTelemetry's pino instrumentation uses). Returns {} (no allocation of ids) otherwise.
 */
export function traceLogFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}
