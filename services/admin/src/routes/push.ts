import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NoStreamError, StreamUnavailableError, type HeaderValues, type StreamPublishAck } from '@session-mesh/bus';
import { encodeId, Header } from '@session-mesh/protocol';
import { failSpan, natsPublishAttributes, PUBLISHED_AT_HEADER } from '@session-mesh/runtime';
import type { FastifyRequest, FastifySchemaCompiler, preValidationHookHandler } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { AuditTarget } from '../audit.js';
import { checkId, requireBus, type RouteContext } from '../context.js';
import { badRequest, HttpError, unavailable } from '../errors.js';
import { BODY_OPTIONAL } from '../openapi-document.js';
import {
  Accepted,
  ClientParams,
  EmptyQuery,
  errors,
  PushBody,
  PushHeaders,
  PushQuery,
  PushUnavailable,
  SessionParams,
  Stored,
  UserParams,
  UserPushQuery,
} from '../schemas.js';

const security = [{ bearerAuth: [] }];
const failures = { ...errors(400, 401, 403, 413), 503: PushUnavailable };
const responses = { 201: Stored, 202: Accepted, ...failures };
const broadcastResponses = { 202: Accepted, ...failures };
const description =
  'Publishes the request body byte-for-byte (any content type) to the matching connections on every edge. ' +
  'At-most-once by default (fire-and-forget: 202 means published). With `durable=true` the push is ' +
  'stored in the push stream first: 201 answers its position once the stream acknowledged it, and clients that were away get it when they ' +
  'resume (docs/delivery.md). Send an `Idempotency-Key` to make retries of a durable push store it once.';

/**
 * Push bodies are raw bytes: the body schema documents them, nothing validates them. Headers are
 * only checked, never converted: the type provider's compiler would hand fastify a converted copy,
 * after which every read of request.headers allocates a merged object (on every at-most-once push).
 * Header names arrive lowercased, and fastify leaves a custom compiler's header schema as written
 * (the document keeps `Idempotency-Key`): check against the lowercased names.
 */
const headersCheck = Compile(Type.Object(Object.fromEntries(Object.entries(PushHeaders.properties).map(([name, schema]) => [name.toLowerCase(), schema]))));
const checkHeaders = (headers: unknown) => headersCheck.Check(headers) || { error: headersCheck.Errors(headers) };
const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  if (route.httpPart === 'body') return () => true;
  return route.httpPart === 'headers' ? checkHeaders : TypeBoxValidatorCompiler(route);
};

/** Whether the request asks for a durable push (the schema allows only `true` and `false`). */
const durableAsked = (request: FastifyRequest) => (request.query as { durable?: 'true' | 'false' }).durable === 'true';

/** There is no durable broadcast: say so, rather than "querystring.durable is not an accepted property". */
const refuseDurableBroadcast: preValidationHookHandler = (request, _reply, done) => {
  if ((request.query as { durable?: unknown }).durable !== undefined) {
    done(badRequest('durable broadcast is not supported (no stream stores broadcasts): leave out durable, or push durably to users (/v1/users/{userId}/push?durable=true) or sessions'));
    return;
  }
  done();
};

/** The bus's stream errors as answers; anything else stays a 500 (logged). */
function durableFailure(err: unknown, subject: string): unknown {
  if (err instanceof NoStreamError) {
    return unavailable(
      'durable_stream_missing',
      `no stream stores ${subject}: durable pushes are off on the edges (MESH_DURABLE=false) or no edge has created the push stream yet`,
    );
  }
  if (err instanceof StreamUnavailableError || (err instanceof Error && err.name === 'TimeoutError')) {
    return new HttpError(
      503,
      'durable_unavailable',
      `the push stream did not acknowledge the push (${err.message}); it may have been stored: retry with the same Idempotency-Key`,
      { 'retry-after': '1' },
    );
  }
  return err;
}

/**
 * Pushes over HTTP for backends without NATS. This plugin is its own encapsulation context: every
 * content type is read as a Buffer (limit MESH_ADMIN_MAX_PUSH_BYTES, 413 beyond), while the other
 * routes keep fastify's JSON parser.
 */
export const pushRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { bus, subjects, audit, config, tracing } = ctx;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxPushBytes }, (_request, body, done) => done(null, body));

  /** Publishes with the publish time (the edges' push latency histogram) and, when traced, a traceparent. */
  function publish(subject: string, bytes: Buffer, narrowing: HeaderValues | undefined) {
    const headers: Record<string, string> = { ...narrowing, [PUBLISHED_AT_HEADER]: String(Date.now()) };
    if (!tracing.enabled) return bus.publish(subject, bytes, headers);
    // The active span is the request's (push() runs inside it): the publish span is its child.
    const { span } = tracing.startPublish('mesh.push publish', natsPublishAttributes(subject, bytes), headers);
    try {
      bus.publish(subject, bytes, headers);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** As publish(), but waits for the push stream's acknowledgement; the publish span lasts until it. */
  async function store(subject: string, bytes: Buffer, narrowing: HeaderValues | undefined, msgId: string | undefined): Promise<StreamPublishAck> {
    const headers: Record<string, string> = { ...narrowing, [PUBLISHED_AT_HEADER]: String(Date.now()) };
    const span = tracing.enabled ? tracing.startPublish('mesh.push publish', natsPublishAttributes(subject, bytes), headers).span : undefined;
    try {
      const ack = await bus.publishStored(subject, bytes, { headers, msgId, timeoutMs: config.durableTimeoutMs });
      span?.setAttribute('mesh.push.position', ack.seq);
      return ack;
    } catch (err) {
      if (span !== undefined) failSpan(span, err);
      throw durableFailure(err, subject);
    } finally {
      span?.end();
    }
  }

  const bodyOf = (request: FastifyRequest) => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));

  function push(request: FastifyRequest, subject: string, target: AuditTarget, headers?: HeaderValues) {
    requireBus(bus);
    const bytes = bodyOf(request);
    const contentType = request.headers['content-type'];
    const publishAndAudit = () => {
      publish(subject, bytes, headers);
      // Inside the request span: with tracing on, the audit line carries its trace_id.
      audit(request.actor, 'push', target, { bytes: bytes.length, ...(contentType !== undefined ? { contentType } : {}) });
    };
    if (request.span === undefined) publishAndAudit();
    else tracing.withSpan(request.span, publishAndAudit);
    return { status: 'accepted' as const, subject };
  }

  /** A durable push: audited once the stream acknowledged it, with its position. */
  async function pushStored(request: FastifyRequest, subject: string, target: AuditTarget, headers?: HeaderValues) {
    requireBus(bus);
    const bytes = bodyOf(request);
    const contentType = request.headers['content-type'];
    const idempotencyKey = request.headers['idempotency-key'] as string | undefined;
    const storeAndAudit = async () => {
      const ack = await store(subject, bytes, headers, idempotencyKey);
      audit(request.actor, 'push', target, {
        bytes: bytes.length,
        ...(contentType !== undefined ? { contentType } : {}),
        durable: true,
        stream: ack.stream,
        position: ack.seq,
        duplicate: ack.duplicate,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      });
      return ack;
    };
    // The async context keeps the request span active across the wait, so the audit line carries its trace_id.
    const ack = request.span === undefined ? await storeAndAudit() : await tracing.withSpan(request.span, storeAndAudit);
    return { status: 'stored' as const, subject, stream: ack.stream, position: ack.seq, duplicate: ack.duplicate };
  }

  const routeOptions = (summary: string, params: TSchema | undefined, querystring: TSchema, durable = true) => ({
    bodyLimit: config.maxPushBytes,
    validatorCompiler,
    schema: {
      [BODY_OPTIONAL]: true,
      tags: ['push'],
      summary,
      description,
      security,
      consumes: ['*/*'],
      ...(params !== undefined ? { params } : {}),
      querystring,
      ...(durable ? { headers: PushHeaders } : {}),
      body: PushBody,
      response: (durable ? responses : broadcastResponses) as Record<number, TSchema>,
    },
  });

  app.post('/users/:userId/push', routeOptions('Push to every connection of a user (optionally of one session)', UserParams, UserPushQuery), async (request, reply) => {
    const { userId } = request.params as { userId: string };
    const { sessionId } = request.query as { sessionId?: string };
    let headers: HeaderValues | undefined;
    let target: AuditTarget = { kind: 'user', id: userId };
    if (sessionId !== undefined) {
      checkId('sessionId', sessionId);
      headers = { [Header.Session]: encodeId(sessionId) };
      target = { kind: 'user', id: userId, sessionId };
    }
    if (durableAsked(request)) return reply.code(201).send(await pushStored(request, subjects.durableUser(userId), target, headers));
    return reply.code(202).send(push(request, subjects.pushUser(userId), target, headers));
  });

  app.post('/sessions/:sessionId/push', routeOptions('Push to every connection of a session', SessionParams, PushQuery), async (request, reply) => {
    const { sessionId } = request.params as { sessionId: string };
    const target: AuditTarget = { kind: 'session', id: sessionId };
    if (durableAsked(request)) return reply.code(201).send(await pushStored(request, subjects.durableSession(sessionId), target));
    return reply.code(202).send(push(request, subjects.pushSession(sessionId), target));
  });

  app.post(
    '/users/:userId/clients/:clientId/push',
    routeOptions("Push to the connections of one of a user's clients (e.g. a browser tab)", ClientParams, PushQuery),
    async (request, reply) => {
      const { userId, clientId } = request.params as { userId: string; clientId: string };
      const target: AuditTarget = { kind: 'client', userId, clientId };
      const headers = { [Header.Client]: encodeId(clientId) };
      if (durableAsked(request)) return reply.code(201).send(await pushStored(request, subjects.durableUser(userId), target, headers));
      return reply.code(202).send(push(request, subjects.pushUser(userId), target, headers));
    },
  );

  app.post(
    '/broadcast',
    { ...routeOptions('Push to every connection on every edge (at-most-once only: no durable broadcast)', undefined, EmptyQuery, false), preValidation: refuseDurableBroadcast },
    async (request, reply) => reply.code(202).send(push(request, subjects.pushBroadcast(), { kind: 'broadcast' })),
  );
};
