import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { BlacklistEntry, BlacklistKind } from '@session-mesh/protocol';
import { enforceOnEdges, ENFORCEMENT_BOUND_MS, type Enforcement } from '../blacklist-enforcement.js';
import type { BlacklistStore } from '../blacklist-store.js';
import { Type } from 'typebox';
import { checkId, requireBus, type RouteContext } from '../context.js';
import { badRequest, HttpError, notFound, unavailable } from '../errors.js';
import {
  BlacklistList,
  BlacklistListQuery,
  BlacklistSessionBody,
  BlacklistUserBody,
  errors,
  MAX_TIME_MS,
  MAX_TTL_MS,
  SessionParams,
  UserParams,
} from '../schemas.js';

const security = [{ bearerAuth: [] }];

export const blacklistRoutes: FastifyPluginAsyncTypebox<{ ctx: RouteContext }> = async (app, { ctx }) => {
  const { audit, now, bus, subjects } = ctx;
  const blacklist = guarded(ctx);
  // Fail fast while the bus is down instead of waiting for a KV timeout.
  app.addHook('preHandler', async () => requireBus(bus));

  /**
   * Audits, then stores. Everything that can fail before the write (formatting the times) fails
   * here first, so no change is ever stored without its audit line; a write that fails after the
   * line gets a second line saying so.
   */
  async function add(actor: string, entry: BlacklistEntry): Promise<{ entry: BlacklistEntry; revision: number }> {
    const target = { kind: entry.kind, id: entry.id };
    audit(actor, 'blacklist.add', target, {
      ttlSeconds: Math.round((entry.expiresAt - entry.createdAt) / 1000),
      expiresAt: isoTime(entry.expiresAt),
      reason: entry.reason,
      ...(entry.issuedBefore !== undefined ? { issuedBefore: isoTime(entry.issuedBefore) } : {}),
    });
    let revision: number;
    try {
      revision = await blacklist.put(entry);
    } catch (err) {
      audit(actor, 'blacklist.add', target, { outcome: 'failed', error: (err as Error).message });
      throw err;
    }
    return { entry, revision };
  }

  /**
   * The 201 waits until every live edge enforces the entry, at most ENFORCEMENT_BOUND_MS, and says
   * how it went in headers (docs/reliability.md): Mesh-Enforcement complete|partial|unknown,
   * Mesh-Enforced-Edges, Mesh-Pending-Edges, Mesh-Enforcement-Ms.
   */
  async function enforced(added: { entry: BlacklistEntry; revision: number }): Promise<Record<string, string>> {
    const e: Enforcement = await enforceOnEdges({ bus, subjects, now }, added.entry, added.revision, ENFORCEMENT_BOUND_MS);
    return {
      'mesh-enforcement': e.state,
      'mesh-enforced-edges': e.acked.join(','),
      'mesh-pending-edges': e.pending.join(','),
      'mesh-enforcement-ms': String(e.ms),
    };
  }

  app.post(
    '/blacklist/sessions',
    {
      schema: {
        tags: ['blacklist'],
        summary: 'Blacklist a session: its connections are refused and closed on every edge',
        security,
        body: BlacklistSessionBody,
        response: { 201: Type.Ref('BlacklistEntry', { description: 'Created (or replaced)' }), ...errors(400, 401, 403, 503) },
      },
    },
    async (request, reply) => {
      const { sessionId, ttlSeconds, reason } = request.body;
      checkId('sessionId', sessionId);
      const createdAt = clockNow(now);
      const added = await add(request.actor, { kind: 'session', id: sessionId, reason, createdAt, expiresAt: createdAt + ttlSeconds * 1000 });
      return reply.code(201).headers(await enforced(added)).send(added.entry);
    },
  );

  app.post(
    '/blacklist/users',
    {
      schema: {
        tags: ['blacklist'],
        summary: 'Blacklist a user, or only their tokens issued before a time ("log out everywhere")',
        security,
        body: BlacklistUserBody,
        response: { 201: Type.Ref('BlacklistEntry', { description: 'Created (or replaced)' }), ...errors(400, 401, 403, 503) },
      },
    },
    async (request, reply) => {
      const { userId, ttlSeconds, reason, issuedBefore } = request.body;
      checkId('userId', userId);
      const createdAt = clockNow(now);
      // The schema bounds both spellings (an ISO pattern, 0..MAX_TIME_MS); Date.parse cannot fail on
      // what the pattern admits, but a refusal beats storing NaN if the two ever drift apart.
      const before = issuedBefore === undefined ? undefined : typeof issuedBefore === 'number' ? issuedBefore : Date.parse(issuedBefore);
      if (before !== undefined && !Number.isSafeInteger(before)) throw badRequest('body.issuedBefore must be an ISO 8601 time or ms since the epoch');
      const added = await add(request.actor, {
        kind: 'user',
        id: userId,
        reason,
        createdAt,
        expiresAt: createdAt + ttlSeconds * 1000,
        ...(before !== undefined ? { issuedBefore: before } : {}),
      });
      return reply.code(201).headers(await enforced(added)).send(added.entry);
    },
  );

  app.get(
    '/blacklist',
    {
      schema: {
        tags: ['blacklist'],
        summary: 'List active blacklist entries',
        security,
        querystring: BlacklistListQuery,
        response: { 200: BlacklistList, ...errors(400, 401, 403, 503) },
      },
    },
    async (request) => ({ entries: await blacklist.list(request.query.kind) }),
  );

  for (const kind of ['session', 'user'] as const) {
    const field = kind === 'session' ? 'sessionId' : 'userId';
    const path = kind === 'session' ? '/blacklist/sessions/:sessionId' : '/blacklist/users/:userId';
    const params = kind === 'session' ? SessionParams : UserParams;
    const idOf = (p: Record<string, string>): string => p[field]!;

    app.get(
      path,
      {
        schema: {
          tags: ['blacklist'],
          summary: `Read the active blacklist entry of a ${kind}`,
          security,
          params,
          response: { 200: Type.Ref('BlacklistEntry', { description: 'The active entry' }), ...errors(400, 401, 403, 404, 503) },
        },
      },
      async (request) => {
        const id = idOf(request.params as Record<string, string>);
        const entry = await blacklist.get(kind, id);
        if (entry === undefined) throw notFound(`${kind} ${JSON.stringify(id)} is not blacklisted`);
        return entry;
      },
    );

    app.delete(
      path,
      {
        schema: {
          tags: ['blacklist'],
          summary: `Remove a ${kind} from the blacklist`,
          security,
          params,
          response: { 204: Type.Null({ description: 'Removed' }), ...errors(400, 401, 403, 404, 503) },
        },
      },
      async (request, reply) => {
        const id = idOf(request.params as Record<string, string>);
        const removed = await blacklist.remove(kind as BlacklistKind, id);
        if (!removed) throw notFound(`${kind} ${JSON.stringify(id)} is not blacklisted`);
        // Nothing between the delete and this line can throw (plain strings only).
        audit(request.actor, 'blacklist.remove', { kind, id });
        return reply.code(204).send(null);
      },
    );
  }
};

/** ISO text of a time already known to be in range (bounded by the schemas and clockNow). */
function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The wall clock, refused when it is outside what entries can hold (a broken clock must not
 * store entries whose times later break the audit, the list and the edges' arithmetic).
 */
function clockNow(now: () => number): number {
  const t = now();
  if (!Number.isSafeInteger(t) || t < 0 || t > MAX_TIME_MS - MAX_TTL_MS) {
    throw unavailable('clock_out_of_range', 'the server clock is outside the range blacklist entries can hold');
  }
  return t;
}

/**
 * What an operator should read when the KV store fails. nats.js reports a JetStream API request
 * nobody answered as "jetstream is not enabled", also when JetStream IS enabled but has no meta or
 * stream leader right now (a NATS node down, an election under way): say that instead.
 */
export function kvFailureMessage(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown; cause?: unknown };
  const names = [e.name, (e.cause as { name?: unknown } | undefined)?.name];
  const text = `${String(e.message ?? '')} ${String((e.cause as { message?: unknown } | undefined)?.message ?? '')}`;
  if (names.includes('JetStreamNotEnabled') || /jetstream is not enabled|no responders/i.test(text)) {
    return 'JetStream (the KV store holding the blacklist) is unavailable: no JetStream leader answered (a NATS node down or a leader election under way); nothing was changed, retry shortly';
  }
  if (names.includes('TimeoutError') || names.includes('KvUnavailableError') || /timeout|timed out/i.test(text)) {
    return `JetStream (the KV store holding the blacklist) did not answer in time; the change may or may not be stored, read it back or retry (${String(e.message ?? '')})`;
  }
  return `the blacklist store is unavailable: ${String(e.message ?? err)}`;
}

/** The store, with KV failures (JetStream unavailable, timeouts) answered as 503 instead of 500. */
function guarded(ctx: RouteContext): Pick<BlacklistStore, 'put' | 'get' | 'list' | 'remove'> {
  const store = () => ctx.blacklist.requireStore();
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw unavailable('kv_unavailable', kvFailureMessage(err));
      }
    };
  return {
    put: wrap((entry) => store().put(entry)),
    get: wrap((kind, id) => store().get(kind, id)),
    list: wrap((kind) => store().list(kind)),
    remove: wrap((kind, id) => store().remove(kind, id)),
  };
}
