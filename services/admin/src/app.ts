import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createTokenVerifier } from '@session-mesh/auth';
import type { Bus } from '@session-mesh/bus';
import { idProblem, type Subjects } from '@session-mesh/protocol';
import { healthResponse, type Health, type Logger } from '@session-mesh/runtime';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import { createAdminAuthenticator, type AdminTokenVerifier } from './auth.js';
import { createAudit } from './audit.js';
import { BlacklistStore } from './blacklist-store.js';
import type { AdminConfig } from './config.js';
import type { RouteContext } from './context.js';
import { badRequest, HttpError, installErrorHandlers } from './errors.js';
import { blacklistRoutes } from './routes/blacklist.js';
import { killRoutes } from './routes/kill.js';
import { presenceRoutes } from './routes/presence.js';
import { pushRoutes } from './routes/push.js';
import { HealthBody, sharedSchemas } from './schemas.js';

export const ADMIN_API_VERSION = '0.1.0';

export interface AdminDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly health: Health;
  readonly config: AdminConfig;
  readonly subjects: Subjects;
  /** Verifies admin JWTs; default: built from config.jwt when that is set. */
  readonly verifier?: AdminTokenVerifier;
  /** Wall clock (ms since the epoch) for blacklist expiry; tests may replace it. */
  readonly now?: () => number;
}

/**
 * Builds the admin HTTP API without listening (tests use `app.inject`). Opens the blacklist KV
 * bucket and starts its janitor; both stop when the app closes.
 */
export async function buildAdmin(deps: AdminDeps): Promise<FastifyInstance> {
  const { bus, health, config, subjects } = deps;
  const logger = deps.logger.child({ component: 'admin' });
  const now = deps.now ?? Date.now;

  const verifier = deps.verifier ?? (config.jwt !== undefined ? await createTokenVerifier(config.jwt) : undefined);
  if (config.tokens.length === 0 && verifier === undefined) {
    throw new Error('admin API: no credentials configured (MESH_ADMIN_TOKENS or a MESH_JWT_* key source)');
  }
  const authenticator = createAdminAuthenticator({ tokens: config.tokens, verifier, role: config.adminRole });

  let kv;
  try {
    kv = await bus.kv(config.blacklistBucket, { replicas: config.kvReplicas });
  } catch (err) {
    throw new Error(`admin API: cannot open the blacklist KV bucket ${config.blacklistBucket} (is JetStream enabled?): ${(err as Error).message}`, {
      cause: err,
    });
  }
  const blacklist = new BlacklistStore(kv, now);
  const ctx: RouteContext = { bus, subjects, config, audit: createAudit(deps.logger), blacklist, now };

  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'admin-http' }) as FastifyBaseLogger,
    // Ids are up to 512 UTF-8 bytes, so up to 1536 characters once percent-encoded.
    routerOptions: { maxParamLength: 2048 },
    // Push traffic would flood the log at info: requests are logged at debug below instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors fastify raises before routing (a malformed percent-encoding) get our error shape too.
    frameworkErrors: (error, _request, reply) => {
      void (reply as unknown as FastifyReply).code(400).send({ error: 'bad_request', message: error.message });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onResponse', async (request, reply) => {
    logger.debug({ method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.decorateRequest('actor', '');
  installErrorHandlers(app, logger);
  for (const schema of sharedSchemas) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Session Mesh admin API',
        version: ADMIN_API_VERSION,
        description:
          'Blacklist, kill, push and presence for a Session Mesh cluster. Every /v1 route needs `Authorization: Bearer <token>`: a static admin token (MESH_ADMIN_TOKENS) or a JWT carrying the admin role. Ids in paths are arbitrary strings, percent-encoded (`alice%2Fbob`).',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'Static admin token or admin-role JWT' } } },
      tags: [
        { name: 'blacklist', description: 'Refuse sessions and users (entries expire by themselves)' },
        { name: 'kill', description: 'Close connections now' },
        { name: 'push', description: 'Send bytes to connections, for backends without NATS' },
        { name: 'presence', description: 'Who is connected, answered by the registry' },
        { name: 'health', description: 'Liveness and readiness probes (no authentication)' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
  });

  for (const path of ['/healthz', '/readyz'] as const) {
    app.get(
      path,
      {
        schema: {
          tags: ['health'],
          summary: path === '/healthz' ? 'Liveness: the process runs' : 'Readiness: the bus is connected and the service is not draining',
          response: { 200: HealthBody, 503: HealthBody },
        },
      },
      async (_request, reply) => {
        const answer = healthResponse(health, path)!;
        return reply.code(answer.status === 200 ? 200 : 503).send(JSON.parse(answer.body) as Static<typeof HealthBody>);
      },
    );
  }
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => reply.type('application/json').send(app.swagger()));

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', async (request) => {
        const result = await authenticator.authenticate(request.headers.authorization);
        if (!result.ok) {
          throw new HttpError(result.status, result.status === 401 ? 'unauthorized' : 'forbidden', result.message, result.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
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

  health.addCheck('bus', () => (bus.isConnected() ? true : 'bus disconnected'));

  // The janitor deletes expired blacklist keys. Harmless on several replicas (see sweep()).
  let sweeping = false;
  const janitor = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    blacklist
      .sweep()
      .then((deleted) => {
        if (deleted > 0) logger.info({ deleted }, 'deleted expired blacklist entries');
      })
      .catch((err: unknown) => logger.warn({ err }, 'blacklist janitor failed'))
      .finally(() => (sweeping = false));
  }, config.janitorIntervalMs);
  app.addHook('onClose', async () => clearInterval(janitor));

  return app as unknown as FastifyInstance;
}

export interface AdminServer {
  readonly app: FastifyInstance;
  /** The port actually bound (useful with MESH_ADMIN_PORT=0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Builds the app and listens on config.host:config.port. */
export async function startAdmin(deps: AdminDeps): Promise<AdminServer> {
  const app = await buildAdmin(deps);
  await app.listen({ host: deps.config.host, port: deps.config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : deps.config.port;
  deps.logger.info({ host: deps.config.host, port }, 'admin API listening');
  return { app, port, close: () => app.close() };
}
