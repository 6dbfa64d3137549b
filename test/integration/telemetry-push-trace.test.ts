/**
 * Must show 3 of issue 10: a push through the admin API is one trace from the HTTP request to the
 * edge's delivery span. Real nats-server (JetStream for the blacklist bucket), the real admin API
 * listening on a port, a real edge (in-process, so that its spans reach this process's in-memory
 * exporter) and a real WebSocket client. Also: pushes without a traceparent make no span,
 * Mesh-Published-At feeds the edge's push latency histogram whatever the publisher, and a client's
 * REQUEST and MESSAGE start a trace that reaches the backend through the NATS headers.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadAdminConfig, startAdmin, type AdminServer } from '@session-mesh/admin';
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { loadEdgeConfig, startEdge, type EdgeHandle } from '@session-mesh/edge';
import { createSubjects } from '@session-mesh/protocol';
import { createLogger, Health, isSampledTraceparent, PUBLISHED_AT_HEADER, startTracing, type Tracing } from '@session-mesh/runtime';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { mintToken, TEST_JWT_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait-for.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

const ADMIN_TOKEN = 'trace-test-admin-token-0123456789abcdef';
const exporter = new InMemorySpanExporter();
const subjects = createSubjects('mesh');
const logger = createLogger({ name: 'trace-test', level: 'silent' });
// The admin's log lines (audit lines are info), with trace ids as main.ts sets them up when tracing is on.
const adminLines: Array<Record<string, unknown>> = [];
const adminLogger = createLogger({
  name: 'trace-test-admin',
  level: 'info',
  traceIds: true,
  destination: new Writable({ write: (chunk: Buffer, _enc, done) => (adminLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }),
});
let tracing: Tracing;
let nats: NatsServerHandle;
let adminBus: Bus;
let edgeBus: Bus;
let backend: Bus;
let admin: AdminServer;
let edge: EdgeHandle;
let alice: MeshClient;

beforeAll(async () => {
  tracing = await startTracing({ serviceName: 'push-trace-test', env: {}, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  nats = await startNatsServer({ jetstream: true });
  const connect = (name: string) => connectNatsBus({ servers: [nats.url], name });
  [adminBus, edgeBus, backend] = [await connect('admin'), await connect('edge'), await connect('backend')];
  const common = { MESH_NATS_URL: nats.url, MESH_KV_REPLICAS: '1', MESH_JWT_SECRET: TEST_JWT_SECRET };
  // The admin owns (creates) the blacklist bucket the edge then opens.
  admin = await startAdmin({
    bus: adminBus,
    logger: adminLogger,
    health: new Health(),
    config: loadAdminConfig({ ...common, MESH_ADMIN_TOKENS: ADMIN_TOKEN, MESH_ADMIN_HOST: '127.0.0.1', MESH_ADMIN_PORT: '0' }),
    subjects,
    tracing,
  });
  const edgeConfig = loadEdgeConfig({ ...common, MESH_EDGE_HOST: '127.0.0.1', MESH_EDGE_PORT: '0', MESH_EDGE_ID: 'edge-trace', MESH_DRAIN_DELAY_MS: '0', MESH_DRAIN_SPREAD_MS: '0' });
  edge = await startEdge({ bus: edgeBus, logger, health: new Health(), config: edgeConfig, subjects, tracing });
  alice = await connectClient({ url: `ws://127.0.0.1:${edge.port}`, token: await mintToken({ sub: 'alice' }) });
  expect(alice.welcome?.user).toBe('alice');
}, 60_000);

afterAll(async () => {
  await alice?.close();
  await edge?.drain();
  await admin?.close();
  await Promise.all([adminBus, edgeBus, backend].map((b) => b?.close()));
  await nats?.stop();
  await tracing?.shutdown();
});

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);

async function adminPush(body: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${admin.port}/v1/users/alice/push`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers }, body });
  expect(res.status).toBe(202);
}

describe('a push through the admin API, traced', () => {
  it('is one trace: HTTP request span -> mesh.push publish -> the edge delivery span', async () => {
    exporter.reset();
    const before = alice.pushes.length;
    await adminPush('traced');
    await waitFor(() => alice.pushes.length === before + 1, { what: 'alice receives the push' });
    const deliver = await waitFor(() => spans('mesh.push deliver')[0], { what: 'the edge delivery span' });
    const publish = spans('mesh.push publish')[0]!;
    const http = await waitFor(() => spans('POST /v1/users/:userId/push')[0], { what: 'the admin request span' });

    expect(http.kind).toBe(SpanKind.SERVER);
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(deliver.kind).toBe(SpanKind.CONSUMER);
    const traceId = http.spanContext().traceId;
    expect(publish.spanContext().traceId).toBe(traceId);
    expect(deliver.spanContext().traceId).toBe(traceId);
    expect(publish.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
    // Across NATS: the edge's span is the child of the admin's publish span, from the traceparent header.
    expect(deliver.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(deliver.parentSpanContext?.isRemote).toBe(true);
    expect(deliver.attributes['messaging.destination.name']).toBe(subjects.pushUser('alice'));
    expect(http.attributes['http.response.status_code']).toBe(202);
    // The audit line of the push was written inside the request span: it carries the trace.
    const auditLine = adminLines.find((l) => l['audit'] === true && l['action'] === 'push');
    expect(auditLine).toMatchObject({ trace_id: traceId, span_id: http.spanContext().spanId });
    // The delivery span covers the socket write: it ends after it, and after the publish began.
    expect(deliver.startTime[0] * 1e9 + deliver.startTime[1]).toBeGreaterThanOrEqual(publish.startTime[0] * 1e9 + publish.startTime[1]);
  });

  it("continues the caller's trace when the request carries a traceparent", async () => {
    exporter.reset();
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    await adminPush('continued', { traceparent: `00-${callerTrace}-${callerSpan}-01` });
    const deliver = await waitFor(() => spans('mesh.push deliver')[0], { what: 'the edge delivery span' });
    const http = spans('POST /v1/users/:userId/push')[0]!;
    expect(http.spanContext().traceId).toBe(callerTrace);
    expect(http.parentSpanContext?.spanId).toBe(callerSpan);
    expect(deliver.spanContext().traceId).toBe(callerTrace);
  });

  it('makes no span for a push whose traceparent is not sampled (the delivery is a leaf: nothing to propagate)', async () => {
    exporter.reset();
    const before = alice.pushes.length;
    const trace = 'a'.repeat(32);
    backend.publish(subjects.pushUser('alice'), new TextEncoder().encode('unsampled'), { traceparent: `00-${trace}-${'b'.repeat(16)}-00` });
    backend.publish(subjects.pushUser('alice'), new TextEncoder().encode('sampled'), { traceparent: `00-${trace}-${'c'.repeat(16)}-01` });
    await waitFor(() => alice.pushes.length === before + 2, { what: 'both pushes arrive' });
    const deliver = await waitFor(() => spans('mesh.push deliver')[0], { what: 'the sampled push delivery span' });
    expect(spans('mesh.push deliver')).toHaveLength(1);
    expect(deliver.parentSpanContext?.spanId).toBe('c'.repeat(16));
    expect([`00-${trace}-${'b'.repeat(16)}-01`, `00-${trace}-${'b'.repeat(16)}-0b`, `00-${trace}-${'b'.repeat(16)}-0F`].map(isSampledTraceparent)).toEqual([true, true, true]);
    expect([`00-${trace}-${'b'.repeat(16)}-00`, `00-${trace}-${'b'.repeat(16)}-0a`, '', '00-short-01'].map(isSampledTraceparent)).toEqual([false, false, false, false]);
  });

  it('makes no span for a push without a traceparent, and times every push that carries Mesh-Published-At', async () => {
    exporter.reset();
    const countBefore = edge.latency.push.count;
    const sumBefore = edge.latency.push.sum;
    const before = alice.pushes.length;
    backend.publish(subjects.pushUser('alice'), new TextEncoder().encode('plain'));
    backend.publish(subjects.pushUser('alice'), new TextEncoder().encode('timed'), { [PUBLISHED_AT_HEADER]: String(Date.now() - 200) });
    await waitFor(() => alice.pushes.length === before + 2, { what: 'both backend pushes arrive' });
    expect(spans('mesh.push deliver')).toEqual([]);
    // Only the timed one is observed, at least 200 ms old (its header was set 200 ms in the past).
    expect(edge.latency.push.count).toBe(countBefore + 1);
    const observed = edge.latency.push.sum - sumBefore;
    expect(observed).toBeGreaterThanOrEqual(0.2);
    expect(observed).toBeLessThan(10);
    // Each admin push above was observed too (the admin API sets the header); backend pushes without it were not.
    expect(countBefore).toBe(2);
  });
});

describe('a client frame to a backend, traced', () => {
  it('a REQUEST is one trace: the edge request span -> the backend handling -> the reply to the client', async () => {
    exporter.reset();
    const handled: string[] = [];
    const sub = backend.subscribe(subjects.inbound('trace-echo'), (msg) => {
      const span = tracing.startReceive('backend handle', msg.headers);
      tracing.withSpan(span, () => backend.respond(msg, new TextEncoder().encode('pong'), tracing.activeHeaders()));
      handled.push(msg.headers?.get('traceparent') ?? '');
      span.end();
    });
    await backend.flush();
    try {
      const answer = await alice.request('trace-echo', 'ping');
      expect('reply' in answer && new TextDecoder().decode(answer.reply)).toBe('pong');
      const request = await waitFor(() => spans('mesh.in request')[0], { what: 'the edge request span' });
      const handle = spans('backend handle')[0]!;
      expect(request.kind).toBe(SpanKind.PRODUCER);
      expect(request.attributes['messaging.destination.name']).toBe(subjects.inbound('trace-echo'));
      expect(handle.spanContext().traceId).toBe(request.spanContext().traceId);
      expect(handle.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
      // The request span covers the round trip: it ends after the backend's span.
      const ns = (t: [number, number]) => t[0] * 1e9 + t[1];
      expect(ns(request.endTime)).toBeGreaterThanOrEqual(ns(handle.endTime));
      expect(handled[0]).toBe(`00-${request.spanContext().traceId}-${request.spanContext().spanId}-01`);
    } finally {
      sub.unsubscribe();
    }
  });

  it('a REQUEST nobody answers ends its span as an error; a MESSAGE carries its publish span to the backend', async () => {
    exporter.reset();
    const answer = await alice.request('trace-nobody', 'ping');
    expect('error' in answer && answer.error['code']).toBe('NO_RESPONDERS');
    const failed = await waitFor(() => spans('mesh.in request')[0], { what: 'the failed request span' });
    expect(failed.status.code).toBe(2); // SpanStatusCode.ERROR

    const received: string[] = [];
    const sub = backend.subscribe(subjects.inbound('trace-note'), (msg) => received.push(msg.headers?.get('traceparent') ?? ''));
    await backend.flush();
    try {
      alice.sendMessage('trace-note', 'hello');
      await waitFor(() => received.length === 1, { what: 'the backend receives the message' });
      const publish = spans('mesh.in publish')[0]!;
      expect(received[0]).toBe(`00-${publish.spanContext().traceId}-${publish.spanContext().spanId}-01`);
    } finally {
      sub.unsubscribe();
    }
  });
});
