import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from '@session-mesh/runtime';
import { IDEMPOTENCY_KEY_PATTERN, ISO_TIME_PATTERN, NO_CONTROL_CHARACTERS } from './schemas.js';

/** Every error body: a short machine-readable code and a sentence for humans. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const unavailable = (code: string, message: string) => new HttpError(503, code, message);

/** Patterns the schemas use, said in words (a regular expression is no answer for a client). */
const PATTERN_WORDS: ReadonlyMap<string, string> = new Map([
  [NO_CONTROL_CHARACTERS, 'must not contain control characters'],
  [ISO_TIME_PATTERN, 'must be an ISO 8601 time with a zone (e.g. 2026-05-01T00:00:00Z) from 1970 to 9999'],
  [IDEMPOTENCY_KEY_PATTERN, 'must be printable ASCII without leading or trailing spaces (e.g. a UUID)'],
]);

const CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
  429: 'too_many_requests',
  503: 'unavailable',
};

/** Turns every failure into `{ error, message }` with the right status; 5xx details stay in the log. */
export function installErrorHandlers(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) {
      void reply.code(err.statusCode).headers(err.headers).send({ error: err.code, message: err.message });
      return;
    }
    if (err.validation !== undefined) {
      void reply.code(400).send({ error: 'bad_request', message: validationMessage(err) });
      return;
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      logger.error({ err, method: request.method, route: request.routeOptions.url }, 'request failed');
      void reply.code(status).send({ error: CODES[status] ?? 'internal', message: 'internal error' });
      return;
    }
    void reply.code(status).send({ error: CODES[status] ?? 'bad_request', message: err.message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` });
  });
}

interface ValidationIssue {
  readonly keyword?: string;
  readonly instancePath?: string;
  readonly message?: string;
  readonly params?: Record<string, unknown>;
}

/** "body.ttlSeconds must be >= 1" rather than fastify's default wording; unions list their options. */
function validationMessage(err: FastifyError): string {
  const issues = (err.validation ?? []) as readonly ValidationIssue[];
  const first = issues[0];
  if (first === undefined) return err.message;
  const at = first.instancePath ?? '';
  const field = [err.validationContext ?? 'request', ...at.split('/').filter((p) => p.length > 0)].join('.');
  const params = first.params ?? {};
  if (first.keyword === 'required') {
    const missing = params['requiredProperties'] ?? params['missingProperty'];
    return `${field} must have ${Array.isArray(missing) ? missing.join(', ') : String(missing)}`;
  }
  if (first.keyword === 'boolean' || first.keyword === 'additionalProperties') return `${field} is not an accepted property`;
  if (first.keyword === 'pattern' && PATTERN_WORDS.has(String(params['pattern']))) return `${field} ${PATTERN_WORDS.get(String(params['pattern']))}`;
  // A union: every branch failed at the same place; say what would have been accepted.
  if (issues.some((i) => i.keyword === 'anyOf' && (i.instancePath ?? '') === at)) {
    const branches = issues.filter((i) => (i.instancePath ?? '') === at && i.keyword !== 'anyOf');
    const consts = branches.filter((i) => i.keyword === 'const').map((i) => JSON.stringify(i.params?.['allowedValue']));
    if (consts.length === branches.length && consts.length > 0) return `${field} must be one of ${consts.join(', ')}`;
    const types = branches.filter((i) => i.keyword === 'type').map((i) => String(i.params?.['type']));
    if (types.length === branches.length && types.length > 0) return `${field} must be ${types.join(' or ')}`;
  }
  return `${field} ${first.message ?? 'is invalid'}`;
}
