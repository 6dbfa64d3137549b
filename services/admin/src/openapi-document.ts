import type { SwaggerOptions } from '@fastify/swagger';
import type { RouteOptions } from 'fastify';
import type { TSchema } from 'typebox';
import { errors } from './schemas.js';

export const ADMIN_API_VERSION = '0.2.0';

/** Route schema key: the body may be left out (fastify-swagger marks every body required). */
export const BODY_OPTIONAL = 'x-body-optional';

/** Methods whose bodies fastify parses, so they can answer 413 (too large) and 415 (content type). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Adds the answers the server gives outside a route's own code to its documented responses, so
 * the document lists every status a client can get: 431 from the HTTP parser on every route; 413
 * and 415 from the body parser on routes with bodies (not 415 where every content type is taken).
 */
export function documentServerAnswers(route: RouteOptions): void {
  const schema = route.schema as { response?: Record<string, TSchema>; consumes?: string[]; hide?: boolean } | undefined;
  if (schema?.response === undefined || schema.hide === true) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const codes = [431];
  if (methods.some((m) => BODY_METHODS.has(m))) {
    codes.push(413);
    if (!(schema.consumes ?? []).includes('*/*')) codes.push(415);
  }
  const extra = errors(...codes.filter((code) => schema.response![code] === undefined));
  schema.response = { ...schema.response, ...extra };
}

export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.0.3',
    info: {
      title: 'Session Mesh admin API',
      version: ADMIN_API_VERSION,
      description:
        'Blacklist, kill, push and presence for a Session Mesh cluster. Every /v1 route needs `Authorization: Bearer <token>`: a static admin token (MESH_ADMIN_TOKENS) or a JWT carrying the admin role and not revoked by the blacklist. Ids in paths are arbitrary strings, percent-encoded (`alice%2Fbob`). Liveness and readiness are served on the internal ops port (MESH_OPS_PORT), not here.',
    },
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'Static admin token or admin-role JWT' } } },
    tags: [
      { name: 'blacklist', description: 'Refuse sessions and users (entries expire by themselves)' },
      { name: 'kill', description: 'Close connections now' },
      { name: 'push', description: 'Send bytes to connections, for backends without NATS' },
      { name: 'presence', description: 'Who is connected, answered by the registry' },
    ],
  },
  refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
  transformObject: (document) => {
    if (!('openapiObject' in document)) return document.swaggerObject;
    const { openapiObject } = document;
    for (const operations of Object.values(openapiObject.paths ?? {})) {
      for (const operation of Object.values(operations as Record<string, Record<string, unknown>>)) {
        if (typeof operation !== 'object' || operation === null || !(BODY_OPTIONAL in operation)) continue;
        delete operation[BODY_OPTIONAL];
        const body = operation['requestBody'] as { required?: boolean } | undefined;
        if (body !== undefined) body.required = false;
      }
    }
    return openapiObject;
  },
};
