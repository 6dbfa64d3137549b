import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createTokenVerifier } from '@session-mesh/auth';
import type { Bus } from '@session-mesh/bus';
import { idProblem, type Subjects } from '@session-mesh/protocol';
import { tracingOff, type Logger, type Tracing } from '@session-mesh/runtime';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Socket } from 'node:net';
import { createAdminAuthenticator, type AdminRevocations, type AdminTokenVerifier } from './auth.js';
import { createAudit } from './audit.js';
import type { AdminConfig } from './config.js';
import type { RouteContext } from './context.js';
import { badRequest, HttpError, installErrorHandlers } from './errors.js';
import { installMethodNotAllowed } from './method-not-allowed.js';
import { documentServerAnswers, swaggerOptions } from './openapi-document.js';
import { blacklistRoutes } from './routes/blacklist.js';
import { killRoutes } from './routes/kill.js';
import { presenceRoutes } from './routes/presence.js';
import { pushRoutes } from './routes/push.js';
import { installRequestSpans } from './request-spans.js';
import { sharedSchemas } from './schemas.js';

/** Room for a bearer token of MAX_TOKEN_CHARS (16,384) plus the usual headers; past it: 431. */
export const MAX_HEADER_BYTES = 32 * 1024;

export interface AdminAppDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly config: AdminConfig;
  readonly subjects: Subjects;
  /** The blacklist bucket: the store behind the routes and the revocations admin JWTs are checked against. */
  readonly blacklist: RouteContext['blacklist'] & AdminRevocations;
  /** Verifies admin JWTs; default: built from config.jwt when that is set. */
  readonly verifier?: AdminTokenVerifier;
  /** Wall clock (ms since the epoch) for blacklist entries; tests may replace it. */
  readonly now?: () => number;
  /** Request and publish spans; default off. */
  readonly tracing?: Tracing;
}

/**
 * The admin HTTP API as a fastify app, without listening (tests use `app.inject`). It holds no
 * background work: the blacklist bucket and its janitor are started beside it (admin.ts).
 */
export async function buildAdmin(deps: AdminAppDeps): Promise<FastifyInstance> {
  const { bus, config, subjects, blacklist } = deps;
  const logger = deps.logger.child({ component: 'admin' });
  const now = deps.now ?? Date.now;

  const verifier = deps.verifier ?? (config.jwt !== undefined ? await createTokenVerifier(config.jwt) : undefined);
  if (config.tokens.length === 0 && verifier === undefined) {
    throw new Error('admin API: no credentials configured (MESH_ADMIN_TOKENS or a MESH_JWT_* key source)');
  }
  const authenticator = createAdminAuthenticator({
    tokens: config.tokens,
    verifier,
    role: config.adminRole,
    revocations: blacklist,
    sessionClaim: config.jwtSessionClaim,
  });
  const tracing = deps.tracing ?? tracingOff();
  const ctx: RouteContext = { bus, subjects, config, audit: createAudit(deps.logger), blacklist, now, tracing };

  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'admin-http' }) as FastifyBaseLogger,
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    // Ids are up to 512 UTF-8 bytes, so up to 1536 characters once percent-encoded.
    routerOptions: { maxParamLength: 2048 },
    // Push traffic would flood the log at info: requests are logged at debug below instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors fastify raises before routing (a malformed percent-encoding) get our error shape too.
    frameworkErrors: (error, _request, reply) => {
      void (reply as unknown as FastifyReply).code(400).send({ error: 'bad_request', message: error.message });
    },
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onResponse', async (request, reply) => {
    logger.debug({ method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  installRequestSpans(app as unknown as FastifyInstance, tracing);
  app.addHook('onRoute', documentServerAnswers);
  installMethodNotAllowed(app);
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.decorateRequest('actor', '');
  installErrorHandlers(app, logger);
  for (const schema of sharedSchemas) app.addSchema(schema);
  // JSON routes take JSON only: fastify would parse text/plain as a string and answer 400 where
  // the documented answer to a wrong content type is 415. (The push routes take every type.)
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, swaggerOptions);
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => reply.type('application/json').send(app.swagger()));

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', async (request) => {
        const result = await authenticator.authenticate(request.headers.authorization);
        if (!result.ok) {
          const code = result.status === 401 ? 'unauthorized' : result.status === 403 ? 'forbidden' : 'blacklist_unavailable';
          throw new HttpError(result.status, code, result.message, result.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
        }
        request.actor = result.actor;
      });
      // Path ids were decoded by the router; refuse the ones no subject can carry, naming the field.
      v1.addHook('preHandler', async (request) => {
        const params = request.params as Record<string, unknown> | undefined;
        for (const [field, value] of Object.entries(params ?? {})) {
          const problem = idProblem(value);
          if (problem !== undefined) throw badRequest(`${field} ${problem}`);
        }
      });
      await v1.register(blacklistRoutes, { ctx });
      await v1.register(killRoutes, { ctx });
      await v1.register(presenceRoutes, { ctx });
      await v1.register(pushRoutes, { ctx });
    },
    { prefix: '/v1' },
  );

  return app as unknown as FastifyInstance;
}

/** Errors of the HTTP parser (no request object yet), in the API's `{ error, message }` shape. */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', `request headers larger than ${MAX_HEADER_BYTES} bytes`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'request not received in time']
        : [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
