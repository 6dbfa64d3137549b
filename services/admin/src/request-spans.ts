import { failSpan, type HeaderReader, type TraceSpan, type Tracing } from '@session-mesh/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's SERVER span while tracing is on (parent of the publish spans of its route). */
    span: TraceSpan | undefined;
  }
}

/**
 * One SERVER span per admin request when tracing is on (a child of the caller's traceparent), named
 * after the route template so span names stay few. Routes that publish pass request.span as the
 * parent of their publish span explicitly: fastify's hooks do not keep an async context for them.
 */
export function installRequestSpans(app: FastifyInstance, tracing: Tracing): void {
  app.decorateRequest('span', undefined);
  if (!tracing.enabled) return;
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? 'other';
    request.span = tracing.startServer(`${request.method} ${route}`, requestHeaders(request), {
      'http.request.method': request.method,
      'http.route': route,
    });
  });
  const end = (request: FastifyRequest, status: number | undefined) => {
    const span = request.span;
    if (span === undefined) return;
    request.span = undefined;
    if (status === undefined) failSpan(span, 'client aborted the request');
    else {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) failSpan(span, `answered ${status}`);
    }
    span.end();
  };
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => end(request, undefined));
}

function requestHeaders(request: FastifyRequest): HeaderReader {
  return {
    get: (name) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : '';
    },
  };
}
