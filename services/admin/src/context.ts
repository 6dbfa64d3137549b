import type { Bus } from '@session-mesh/bus';
import { idProblem, type Subjects } from '@session-mesh/protocol';
import type { Tracing } from '@session-mesh/runtime';
import type { Audit } from './audit.js';
import type { BlacklistStore } from './blacklist-store.js';
import type { AdminConfig } from './config.js';
import { badRequest, unavailable } from './errors.js';

/** What the route plugins share. */
export interface RouteContext {
  readonly bus: Bus;
  readonly subjects: Subjects;
  readonly config: AdminConfig;
  readonly audit: Audit;
  /** The blacklist store once its bucket is open; throws a 503 HttpError before. */
  readonly blacklist: { requireStore(): BlacklistStore };
  readonly now: () => number;
  /** Publish spans of pushes (request.span is their parent). */
  readonly tracing: Tracing;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: `token:<fingerprint>` or `jwt:<user id>`; set by the /v1 auth hook. */
    actor: string;
  }
}

/** 400 naming the field when an id cannot be put into a subject. */
export function checkId(field: string, value: string): string {
  const problem = idProblem(value);
  if (problem !== undefined) throw badRequest(`${field} ${problem}`);
  return value;
}

/** Publishing while the bus is down would queue silently: refuse instead. */
export function requireBus(bus: Bus): void {
  if (!bus.isConnected()) throw unavailable('bus_unavailable', 'the message bus is not connected; retry shortly');
}
