import type { Bus, BusMessage, BusSubscription } from '@session-mesh/bus';
import { RegistryErrorCode, type ConnectionsReply, type RegistryErrorReply, type StatsReply, type Subjects } from '@session-mesh/protocol';
import { createRateLimitedLog, type Logger } from '@session-mesh/runtime';

export const REGISTRY_QUEUE_GROUP = 'mesh-registry';

export interface QuerySource {
  connectionsOfUser(user: string): ConnectionsReply;
  connectionsOfSession(session: string): ConnectionsReply;
  stats(): StatsReply;
}

/** What a query subject asks for, or why it cannot be answered. */
export type RegistryQuery =
  | { readonly kind: 'user'; readonly id: string }
  | { readonly kind: 'session'; readonly id: string }
  | { readonly kind: 'stats' }
  | { readonly kind: 'invalid'; readonly message: string };

/** Reads a query subject with the protocol's subject parser (which also decodes and checks the id). */
export function parseQuerySubject(subjects: Subjects, subject: string): RegistryQuery {
  const target = subjects.parse(subject);
  switch (target?.kind) {
    case 'registry-user':
      return { kind: 'user', id: target.user };
    case 'registry-session':
      return { kind: 'session', id: target.session };
    case 'registry-stats':
      return { kind: 'stats' };
    default: {
      const head = `${subjects.prefix}.registry.`;
      const rest = subject.startsWith(head) ? subject.slice(head.length) : subject;
      return { kind: 'invalid', message: `not a registry query, or its id token is not an encoded id: ${rest}` };
    }
  }
}

/**
 * Answers registry queries through the `mesh-registry` queue group: each query is answered by ONE
 * replica. Only replicas whose state is complete join (the caller starts this once ready), so an
 * answer never comes from a replica still rebuilding. Replies are JSON: ConnectionsReply,
 * StatsReply, or a RegistryErrorReply (protocol) for a query that cannot be answered.
 */
export function startQueryResponder(deps: { bus: Bus; subjects: Subjects; logger: Logger; source: QuerySource }): { stop(): void } {
  const { bus, subjects, source } = deps;
  const logger = deps.logger.child({ component: 'query-responder' });
  const warn = createRateLimitedLog(logger);
  const encoder = new TextEncoder();

  const onMessage = (msg: BusMessage): void => {
    if (msg.reply === undefined || msg.reply === '') {
      warn('no-reply', { subject: msg.subject }, 'registry query without a reply subject ignored');
      return;
    }
    const query = parseQuerySubject(subjects, msg.subject);
    let body: ConnectionsReply | StatsReply | RegistryErrorReply;
    try {
      switch (query.kind) {
        case 'user':
          body = source.connectionsOfUser(query.id);
          break;
        case 'session':
          body = source.connectionsOfSession(query.id);
          break;
        case 'stats':
          body = source.stats();
          break;
        case 'invalid':
          warn('invalid', { subject: msg.subject, problem: query.message }, 'invalid registry query');
          body = { error: RegistryErrorCode.BAD_REQUEST, message: query.message };
          break;
      }
    } catch (err) {
      logger.error({ err, subject: msg.subject }, 'registry query failed');
      body = { error: RegistryErrorCode.INTERNAL, message: 'the registry failed to answer' };
    }
    bus.respond(msg, encoder.encode(JSON.stringify(body)));
  };

  const subscription: BusSubscription = bus.subscribe(subjects.registryAll(), onMessage, { queue: REGISTRY_QUEUE_GROUP });
  return { stop: () => subscription.unsubscribe() };
}
