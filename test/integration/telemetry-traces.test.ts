/**
 * Trace context across NATS with the runtime's tracing helpers and a real nats-server: a push
 * published by "the admin" reaches "the edge's" delivery span as its child, and a client message
 * published by the edge reaches the backend and its reply comes back in the same trace. Spans are
 * captured by an in-memory exporter; log lines written inside a span carry its ids.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { connectNatsBus, type Bus, type BusMessage } from '@session-mesh/bus';
import { startTracing, traceLogFields, tracingRequested, TRACEPARENT_HEADER, type Tracing } from '@session-mesh/runtime';
import { pino } from 'pino';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { waitFor } from '../support/wait-for.js';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let nats: NatsServerHandle;
let admin: Bus;
let edge: Bus;
let backend: Bus;

beforeAll(async () => {
  tracing = await startTracing({ serviceName: 'telemetry-test', env: {}, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  nats = await startNatsServer();
  const connect = (name: string) => connectNatsBus({ servers: [nats.url], name });
  [admin, edge, backend] = [await connect('admin'), await connect('edge'), await connect('backend')];
}, 60_000);

afterAll(async () => {
  await Promise.all([admin, edge, backend].map((b) => b?.close()));
  await nats?.stop();
  await tracing?.shutdown();
});

const spanNamed = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name);

describe('trace context in NATS headers', () => {
  it('an admin push reaches the edge delivery span as its child', async () => {
    const delivered: string[] = [];
    edge.subscribe('mesh.push.user.YWxpY2U', (msg: BusMessage) => {
      const span = tracing.startReceive('edge deliver', msg.headers, { 'messaging.destination.name': msg.subject });
      tracing.withSpan(span, () => delivered.push(traceLogFields()['trace_id'] ?? 'none'));
      span.end();
    });
    await edge.flush();

    const { span, headers } = tracing.startPublish('admin push', { 'messaging.destination.name': 'mesh.push.user.YWxpY2U' });
    expect(headers[TRACEPARENT_HEADER]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    admin.publish('mesh.push.user.YWxpY2U', new TextEncoder().encode('hi'), headers);
    span.end();

    const deliver = await waitFor(() => spanNamed('edge deliver'), { timeoutMs: 5000, intervalMs: 10, what: 'the edge delivery span' });
    const publish = spanNamed('admin push')!;
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(deliver.kind).toBe(SpanKind.CONSUMER);
    expect(deliver.spanContext().traceId).toBe(publish.spanContext().traceId);
    expect(deliver.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(deliver.parentSpanContext?.isRemote).toBe(true);
    expect(delivered).toEqual([publish.spanContext().traceId]);
  });

  it('a client message reaches the backend and its reply returns in the same trace', async () => {
    backend.subscribe('mesh.in.chat', (msg: BusMessage) => {
      const span = tracing.startReceive('backend handle', msg.headers);
      tracing.withSpan(span, () => backend.respond(msg, new TextEncoder().encode('pong'), tracing.activeHeaders()));
      span.end();
    });
    await backend.flush();

    const inbound = tracing.startReceive('edge client message', undefined);
    const reply = await tracing.withSpan(inbound, () => {
      const { span, headers } = tracing.startPublish('edge publish client message');
      return edge.request('mesh.in.chat', new TextEncoder().encode('ping'), { timeoutMs: 5000, headers }).finally(() => span.end());
    });
    const replySpan = tracing.startReceive('edge reply to client', reply.headers);
    replySpan.end();
    inbound.end();

    const root = spanNamed('edge client message')!;
    const publish = spanNamed('edge publish client message')!;
    const handle = spanNamed('backend handle')!;
    const back = spanNamed('edge reply to client')!;
    const traceId = root.spanContext().traceId;
    expect([publish, handle, back].map((s) => s.spanContext().traceId)).toEqual([traceId, traceId, traceId]);
    expect(publish.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(handle.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(back.parentSpanContext?.spanId).toBe(handle.spanContext().spanId);
  });

  it('pino log lines written inside a span carry its trace and span ids, and none outside', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    const logger = pino({ mixin: traceLogFields }, sink);
    const span = tracing.startReceive('log test', undefined);
    tracing.withSpan(span, () => logger.info('inside'));
    span.end();
    logger.info('outside');
    expect(lines[0]).toMatchObject({ msg: 'inside', trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    expect(lines[1]?.['trace_id']).toBeUndefined();
  });
});

describe('tracing switch (OTEL_* variables)', () => {
  it('is off unless an exporter is configured, and OTEL_SDK_DISABLED wins', async () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
    const off = await startTracing({ serviceName: 'off', env: {} });
    expect(off.enabled).toBe(false);
    expect(off.activeHeaders()).toBeUndefined();
  });
});
