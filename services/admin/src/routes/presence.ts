import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NoRespondersError, RequestTimeoutError } from '@session-mesh/bus';
import { parseConnectionsReply, parseRegistryErrorReply, parseStatsReply } from '@session-mesh/protocol';
import type { RouteContext } from '../context.js';
import { HttpError, unavailable } from '../errors.js';
import { ConnectionsReplySchema, errors, SessionParams, StatsReplySchema, UserParams } from '../schemas.js';

const security = [{ bearerAuth: [] }];

/**
 * Presence answers come from the registry over request/reply (its replicas form a queue group).
 * No replica (none running, or none ready yet) or no answer in time -> 503; an answer that is
 * not what the registry should send -> 502.
 */
export const presenceRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { bus, subjects, config } = ctx;
  const decoder = new TextDecoder();

  async function ask(subject: string, expect: 'connections' | 'stats'): Promise<unknown> {
    if (!bus.isConnected()) throw unavailable('bus_unavailable', 'the message bus is not connected; retry shortly');
    let reply;
    try {
      reply = await bus.request(subject, new Uint8Array(0), { timeoutMs: config.registryTimeoutMs });
    } catch (err) {
      if (err instanceof NoRespondersError) {
        throw unavailable('registry_unavailable', 'no registry replica is available (none running, or none ready yet)');
      }
      if (err instanceof RequestTimeoutError) {
        throw unavailable('registry_timeout', `the registry did not answer within ${config.registryTimeoutMs} ms`);
      }
      throw err;
    }
    // A registry that cannot answer replies with a RegistryErrorReply (protocol) instead of the reply shape.
    const text = decoder.decode(reply.data);
    const refusal = parseRegistryErrorReply(text);
    if (refusal.ok) throw new HttpError(502, 'registry_error', `the registry refused the query: ${refusal.value.message}`);
    const parsed = expect === 'connections' ? parseConnectionsReply(text) : parseStatsReply(text);
    if (!parsed.ok) throw new HttpError(502, 'registry_bad_reply', `the registry answer is invalid: ${parsed.error}`);
    return parsed.value;
  }

  app.get(
    '/users/:userId/connections',
    {
      schema: {
        tags: ['presence'],
        summary: "A user's open connections across the cluster",
        security,
        params: UserParams,
        response: { 200: ConnectionsReplySchema, ...errors(400, 401, 403, 502, 503) },
      },
    },
    async (request) => (await ask(subjects.registryUser(request.params.userId), 'connections')) as never,
  );

  app.get(
    '/sessions/:sessionId/connections',
    {
      schema: {
        tags: ['presence'],
        summary: "A session's open connections across the cluster",
        security,
        params: SessionParams,
        response: { 200: ConnectionsReplySchema, ...errors(400, 401, 403, 502, 503) },
      },
    },
    async (request) => (await ask(subjects.registrySession(request.params.sessionId), 'connections')) as never,
  );

  app.get(
    '/stats',
    {
      schema: {
        tags: ['presence'],
        summary: 'Edges, users, sessions and connections across the cluster',
        security,
        response: { 200: StatsReplySchema, ...errors(401, 403, 502, 503) },
      },
    },
    async () => (await ask(subjects.registryStats(), 'stats')) as never,
  );
};
