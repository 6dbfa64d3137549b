/**
 * Durable pushes through the admin API, end to end on real parts: a nats-server with JetStream, a
 * real edge on it (it creates the MESH_PUSH stream at start, as in production), real WebSocket
 * clients, the admin app. The 201's position is the one the client's DURABLE_PUSH frame carries;
 * narrowing holds; an Idempotency-Key stores a retry once; a client that was away gets the push on
 * resume; no stream -> 503 durable_stream_missing; a stream that does not answer -> 503
 * durable_unavailable; durable broadcast -> 400; with tracing on the publish span covers the wait
 * and the audit line (position included) carries the trace.
 */
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { startTracing, type Tracing } from '@session-mesh/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { mintToken } from '../../../test/support/tokens.js';
import { waitFor } from '../../../test/support/wait-for.js';
import type { MeshClient } from '../../../test/support/ws-client.js';
import { startTestEdge, type TestEdge } from '../../edge/test/support/harness.js';
import { admin, buildTestAdmin, subjects, type TestAdmin } from './support/admin-harness.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const exporter = new InMemorySpanExporter();

describe('durable pushes through the admin API (nats-server, a real edge, WebSocket clients)', () => {
  let nats: NatsServerHandle;
  let adminBus: Bus;
  let edgeBus: Bus;
  let tracing: Tracing;
  let t: TestAdmin;
  let edge: TestEdge;
  let tab1: MeshClient; // alice, session s1, client tab-1
  let tab2: MeshClient; // alice, session s2, client tab-2
  let bob: MeshClient;

  beforeAll(async () => {
    tracing = await startTracing({ serviceName: 'admin-durable-test', env: {}, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    nats = await startNatsServer({ jetstream: true });
    adminBus = await connectNatsBus({ servers: nats.url, name: 'admin' });
    edgeBus = await connectNatsBus({ servers: nats.url, name: 'edge' });
    // The admin owns the blacklist bucket; the edge creates the push stream at start.
    t = await buildTestAdmin(adminBus, {}, { tracing });
    edge = await startTestEdge({ bus: edgeBus });
    await waitFor(() => edge.health.readiness().ready, { what: 'the edge to be ready (push stream created)' });
    tab1 = await edge.connect({ token: await mintToken({ sub: 'alice', jti: 's1' }), client: 'tab-1' });
    tab2 = await edge.connect({ token: await mintToken({ sub: 'alice', jti: 's2' }), client: 'tab-2' });
    bob = await edge.connect({ token: await mintToken({ sub: 'bob', jti: 's3' }), client: 'tab-1' });
    expect(tab1.welcome?.epoch).toBeTypeOf('string');
  }, 60_000);

  afterAll(async () => {
    await edge?.stop();
    await t?.app.close();
    await edgeBus?.close();
    await adminBus?.close();
    await nats?.stop();
    await tracing?.shutdown();
  });

  const post = async (url: string, payload: string | Buffer, headers: Record<string, string> = {}) => {
    const r = await t.app.inject({ method: 'POST', url, headers: { ...admin, 'content-type': 'application/octet-stream', ...headers }, payload });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> };
  };
  const stored = async (url: string, payload: string | Buffer, headers: Record<string, string> = {}) => {
    const r = await post(url, payload, headers);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { status: string; subject: string; stream: string; position: number; duplicate: boolean };
  };
  /** A push to alice's every tab, awaited on both: everything published before it has arrived. */
  const barrier = async () => {
    const { position } = await stored('/v1/users/alice/push?durable=true', 'barrier');
    await waitFor(() => [tab1, tab2].every((c) => c.durable.some((d) => d.position === position)), { what: 'the barrier push on both tabs' });
    return position;
  };
  const since = (c: MeshClient, from: number) => c.durable.slice(from).map((d) => [d.position, text(d.payload)]);

  it('answers 201 with the position the client then receives in its DURABLE_PUSH frame, with the exact bytes', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x05, 0x7b, 0x0a]);
    const r = await stored('/v1/users/alice/push?durable=true', bytes);
    expect(r).toEqual({ status: 'stored', subject: subjects.durableUser('alice'), stream: 'MESH_PUSH', position: expect.any(Number), duplicate: false });
    for (const c of [tab1, tab2]) {
      const got = await waitFor(() => c.durable.find((d) => d.position === r.position), { what: 'the durable push' });
      expect(Buffer.from(got.payload).equals(bytes)).toBe(true);
    }
    expect(bob.durable).toEqual([]);
    expect(tab1.pushes).toEqual([]); // durable pushes arrive as DURABLE_PUSH, not PUSH
    const audit = t.logs.audits().find((a) => a['position'] === r.position);
    expect(audit).toMatchObject({ action: 'push', durable: true, stream: 'MESH_PUSH', duplicate: false, bytes: 5, target: { kind: 'user', id: 'alice' } });
  });

  it('narrows to a session, a client and a session route, exactly as the at-most-once path', async () => {
    const [from1, from2, fromBob] = [tab1.durable.length, tab2.durable.length, bob.durable.length];
    const s1 = await stored('/v1/users/alice/push?sessionId=s1&durable=true', 'only s1');
    const c2 = await stored('/v1/users/alice/clients/tab-2/push?durable=true', 'only tab-2');
    const sess = await stored('/v1/sessions/s2/push?durable=true', 'session s2');
    const b = await barrier();
    expect(since(tab1, from1)).toEqual([
      [s1.position, 'only s1'],
      [b, 'barrier'],
    ]);
    expect(since(tab2, from2)).toEqual([
      [c2.position, 'only tab-2'],
      [sess.position, 'session s2'],
      [b, 'barrier'],
    ]);
    expect(bob.durable.length).toBe(fromBob); // bob has his own tab-1: the client narrowing is per user
    expect(s1.position < c2.position && c2.position < sess.position && sess.position < b).toBe(true);
  });

  it('stores a retried request with the same Idempotency-Key once: same position, duplicate: true, delivered once', async () => {
    const from = tab1.durable.length;
    const first = await stored('/v1/users/alice/push?durable=true', 'invoice 42', { 'idempotency-key': 'inv-42' });
    const retry = await stored('/v1/users/alice/push?durable=true', 'invoice 42', { 'idempotency-key': 'inv-42' });
    expect(first.duplicate).toBe(false);
    expect(retry).toEqual({ ...first, duplicate: true });
    const b = await barrier();
    expect(since(tab1, from)).toEqual([
      [first.position, 'invoice 42'],
      [b, 'barrier'],
    ]);
    expect(t.logs.audits().filter((a) => a['idempotencyKey'] === 'inv-42').map((a) => [a['position'], a['duplicate']])).toEqual([
      [first.position, false],
      [first.position, true],
    ]);
  });

  it('keeps the push for a client that was away: it resumes from its position and gets it', async () => {
    const carol = await edge.connect({ token: await mintToken({ sub: 'carol', jti: 's4' }), client: 'tab-c' });
    const { epoch, position } = carol.welcome!;
    await carol.close();
    const r = await stored('/v1/users/carol/push?durable=true', 'while you were away');
    const back = await edge.connect({ token: await mintToken({ sub: 'carol', jti: 's4' }), client: 'tab-c', resume: { epoch: epoch!, position: position! } });
    expect(back.welcome?.recovered).toBe(true);
    await waitFor(() => back.positionMarks.length > 0, { what: 'the end of the replay' });
    expect(back.durable.map((d) => [d.position, text(d.payload)])).toEqual([[r.position, 'while you were away']]);
  });

  it('refuses a durable broadcast with 400 and publishes nothing', async () => {
    const from = [tab1.pushes.length, bob.pushes.length];
    const r = await post('/v1/broadcast?durable=true', 'everyone');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'bad_request', message: expect.stringContaining('durable broadcast is not supported') });
    // An at-most-once broadcast after it is the only one that arrives.
    expect((await post('/v1/broadcast', 'plain broadcast')).status).toBe(202);
    await waitFor(() => tab1.pushes.length > from[0]! && bob.pushes.length > from[1]!, { what: 'the plain broadcast' });
    expect([...tab1.pushes.slice(from[0]), ...bob.pushes.slice(from[1])].map(text)).toEqual(['plain broadcast', 'plain broadcast']);
  });

  it('traces a durable push: the publish span is the request span child and ends at the ack; the audit line carries trace and position', async () => {
    exporter.reset();
    const r = await stored('/v1/users/alice/push?durable=true', 'traced');
    const http = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/users/:userId/push'), { what: 'the request span' });
    const publish = exporter.getFinishedSpans().find((s) => s.name === 'mesh.push publish')!;
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
    expect(publish.attributes['messaging.destination.name']).toBe(subjects.durableUser('alice'));
    expect(publish.attributes['mesh.push.position']).toBe(r.position);
    expect(http.attributes['http.response.status_code']).toBe(201);
    // The stored message carries the publish span's context and the publish time.
    const [msg] = await (await edgeBus.stream('MESH_PUSH')).read(subjects.durableUser('alice'), r.position, r.position, 1);
    expect(msg!.headers!.get('traceparent')).toContain(publish.spanContext().spanId);
    expect(Number(msg!.headers!.get('Mesh-Published-At'))).toBeGreaterThan(Date.now() - 60_000);
    const audit = t.logs.audits().find((a) => a['position'] === r.position);
    expect(audit).toMatchObject({ trace_id: http.spanContext().traceId, span_id: http.spanContext().spanId, durable: true });
  });

  describe('without the push stream', () => {
    let bare: NatsServerHandle;
    let bareBus: Bus;
    let squatter: Bus;
    let lonely: TestAdmin;

    beforeAll(async () => {
      // JetStream on, but no edge created the stream (as with MESH_DURABLE=false on every edge).
      bare = await startNatsServer({ jetstream: true });
      bareBus = await connectNatsBus({ servers: bare.url, name: 'admin-bare' });
      squatter = await connectNatsBus({ servers: bare.url, name: 'squatter' });
      lonely = await buildTestAdmin(bareBus, { durableTimeoutMs: 300 });
    });

    afterAll(async () => {
      await lonely?.app.close();
      await squatter?.close();
      await bareBus?.close();
      await bare?.stop();
    });

    it('answers 503 durable_stream_missing naming the subject and the likely cause, and audits nothing', async () => {
      const r = await lonely.app.inject({ method: 'POST', url: '/v1/users/alice/push?durable=true', headers: admin, payload: 'x' });
      expect(r.statusCode).toBe(503);
      expect(r.json().error).toBe('durable_stream_missing');
      expect(r.json().message).toContain(`no stream stores ${subjects.durableUser('alice')}`);
      expect(r.json().message).toContain('MESH_DURABLE=false');
      expect(lonely.logs.audits()).toEqual([]);
      // The at-most-once path does not need the stream.
      expect((await lonely.app.inject({ method: 'POST', url: '/v1/users/alice/push', headers: admin, payload: 'x' })).statusCode).toBe(202);
    });

    it('answers 503 durable_unavailable with Retry-After when nothing acknowledges in time', async () => {
      // A core subscriber on the durable subject (not a stream): the publish reaches it and is never acknowledged.
      squatter.subscribe(subjects.durableUser('bob'), () => undefined);
      await squatter.flush();
      const started = Date.now();
      const r = await lonely.app.inject({ method: 'POST', url: '/v1/users/bob/push?durable=true', headers: { ...admin, 'idempotency-key': 'k-1' }, payload: 'x' });
      expect(r.statusCode).toBe(503);
      expect(r.json().error).toBe('durable_unavailable');
      expect(r.json().message).toContain('retry with the same Idempotency-Key');
      expect(r.headers['retry-after']).toBe('1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290); // MESH_ADMIN_DURABLE_TIMEOUT_MS
      expect(lonely.logs.audits().filter((a) => a['durable'] === true)).toEqual([]);
    });
  });
});
