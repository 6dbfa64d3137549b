import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { HeaderValues } from '@session-mesh/bus';
import { encodeId, Header } from '@session-mesh/protocol';
import { failSpan, PUBLISHED_AT_HEADER } from '@session-mesh/runtime';
import type { FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TSchema } from 'typebox';
import type { AuditTarget } from '../audit.js';
import { checkId, requireBus, type RouteContext } from '../context.js';
import { BODY_OPTIONAL } from '../openapi-document.js';
import { Accepted, ClientParams, EmptyQuery, errors, PushBody, SessionParams, UserParams, UserPushQuery } from '../schemas.js';

const security = [{ bearerAuth: [] }];
const responses = { 202: Accepted, ...errors(400, 401, 403, 413, 503) };
const description =
  'Publishes the request body byte-for-byte (any content type) to the matching connections on every edge. Fire-and-forget: 202 means published.';

/** Push bodies are raw bytes: the body schema documents them, nothing validates them. */
const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => (route.httpPart === 'body' ? () => true : TypeBoxValidatorCompiler(route));

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
    const attributes = { 'messaging.system': 'nats', 'messaging.operation.type': 'publish', 'messaging.destination.name': subject, 'messaging.message.body.size': bytes.length };
    const { span } = tracing.startPublish('mesh.push publish', attributes, headers);
    try {
      bus.publish(subject, bytes, headers);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  function push(request: FastifyRequest, subject: string, target: AuditTarget, headers?: HeaderValues) {
    requireBus(bus);
    const bytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
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

  const routeOptions = (summary: string, params: TSchema | undefined, querystring: TSchema) => ({
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
      body: PushBody,
      response: responses,
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
    return reply.code(202).send(push(request, subjects.pushUser(userId), target, headers));
  });

  app.post('/sessions/:sessionId/push', routeOptions('Push to every connection of a session', SessionParams, EmptyQuery), async (request, reply) => {
    const { sessionId } = request.params as { sessionId: string };
    return reply.code(202).send(push(request, subjects.pushSession(sessionId), { kind: 'session', id: sessionId }));
  });

  app.post(
    '/users/:userId/clients/:clientId/push',
    routeOptions("Push to the connections of one of a user's clients (e.g. a browser tab)", ClientParams, EmptyQuery),
    async (request, reply) => {
      const { userId, clientId } = request.params as { userId: string; clientId: string };
      return reply.code(202).send(push(request, subjects.pushUser(userId), { kind: 'client', userId, clientId }, { [Header.Client]: encodeId(clientId) }));
    },
  );

  app.post('/broadcast', routeOptions('Push to every connection on every edge', undefined, EmptyQuery), async (request, reply) => {
    return reply.code(202).send(push(request, subjects.pushBroadcast(), { kind: 'broadcast' }));
  });
};
