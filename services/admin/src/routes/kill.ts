import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { HeaderValues } from '@session-mesh/bus';
import { encodeId, Header } from '@session-mesh/protocol';
import type { preValidationHookHandler } from 'fastify';
import type { AuditTarget } from '../audit.js';
import { checkId, requireBus, type RouteContext } from '../context.js';
import { BODY_OPTIONAL } from '../openapi-document.js';
import { Accepted, ClientParams, ConnectionParams, errors, KillBody, SessionParams, UserKillBody, UserParams } from '../schemas.js';

const security = [{ bearerAuth: [] }];
const responses = { 202: Accepted, ...errors(400, 401, 403, 415, 503) };
const description =
  'Closes the matching connections on every edge with close code 4005 (KILLED). Fire-and-forget: 202 means the kill was published, not that a connection existed. The body is optional.';

/** The body is optional: a POST without one reads as `{}` (a JSON `null` is a body, and not an object: 400). */
const emptyBodyIsObject: preValidationHookHandler = (request, _reply, done) => {
  if (request.body === undefined) request.body = {};
  done();
};

export const killRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { bus, subjects, audit } = ctx;

  function kill(actor: string, subject: string, target: AuditTarget, reason: string | undefined, extra: HeaderValues = {}) {
    requireBus(bus);
    const headers: Record<string, string> = { ...extra };
    if (reason !== undefined && reason.length > 0) headers[Header.Reason] = reason;
    bus.publish(subject, new Uint8Array(0), headers);
    audit(actor, 'kill', target, reason !== undefined ? { reason } : {});
    return { status: 'accepted' as const, subject };
  }

  app.post(
    '/users/:userId/kill',
    {
      preValidation: emptyBodyIsObject,
      schema: { [BODY_OPTIONAL]: true, tags: ['kill'], summary: 'Close every connection of a user (optionally of one of their sessions)', description, security, params: UserParams, body: UserKillBody, response: responses },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const { reason, sessionId } = request.body;
      if (sessionId !== undefined) checkId('sessionId', sessionId);
      const extra: Record<string, string> = sessionId !== undefined ? { [Header.Session]: encodeId(sessionId) } : {};
      const target: AuditTarget = sessionId !== undefined ? { kind: 'user', id: userId, sessionId } : { kind: 'user', id: userId };
      return reply.code(202).send(kill(request.actor, subjects.killUser(userId), target, reason, extra));
    },
  );

  app.post(
    '/sessions/:sessionId/kill',
    {
      preValidation: emptyBodyIsObject,
      schema: { [BODY_OPTIONAL]: true, tags: ['kill'], summary: 'Close every connection of a session', description, security, params: SessionParams, body: KillBody, response: responses },
    },
    async (request, reply) => {
      const { sessionId } = request.params;
      return reply.code(202).send(kill(request.actor, subjects.killSession(sessionId), { kind: 'session', id: sessionId }, request.body.reason));
    },
  );

  app.post(
    '/users/:userId/clients/:clientId/kill',
    {
      preValidation: emptyBodyIsObject,
      schema: { [BODY_OPTIONAL]: true, tags: ['kill'], summary: "Close the connections of one of a user's clients (e.g. a browser tab)", description, security, params: ClientParams, body: KillBody, response: responses },
    },
    async (request, reply) => {
      const { userId, clientId } = request.params;
      return reply
        .code(202)
        .send(kill(request.actor, subjects.killUser(userId), { kind: 'client', userId, clientId }, request.body.reason, { [Header.Client]: encodeId(clientId) }));
    },
  );

  app.post(
    '/connections/:connectionId/kill',
    {
      preValidation: emptyBodyIsObject,
      schema: { [BODY_OPTIONAL]: true, tags: ['kill'], summary: 'Close one connection', description, security, params: ConnectionParams, body: KillBody, response: responses },
    },
    async (request, reply) => {
      const { connectionId } = request.params;
      return reply.code(202).send(kill(request.actor, subjects.killConnection(connectionId), { kind: 'connection', id: connectionId }, request.body.reason));
    },
  );
};
