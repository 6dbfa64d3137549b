import type { FastifyInstance, RouteOptions } from 'fastify';
import { HttpError } from './errors.js';

/**
 * 405 with an `Allow` header (RFC 9110 section 15.5.6) for a path the API has, asked with a
 * method it does not serve there, instead of a 404 (or a 400 from the body parser, which runs
 * before routing for methods such as QUERY). Call before any route is added: it learns the routes
 * as they are registered.
 */
export function installMethodNotAllowed(app: FastifyInstance): void {
  const routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // `:param` matches one non-empty segment, as in the router.
    const source = `^${route.url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : escapeRegExp(part))).join('/')}$`;
    let entry = routes.find((r) => r.pattern.source === source);
    if (entry === undefined) {
      entry = { pattern: new RegExp(source), methods: new Set() };
      routes.push(entry);
    }
    for (const m of methods) entry.methods.add(m);
  });
  app.addHook('onRequest', async (request) => {
    if (!request.is404) return;
    const path = request.url.split('?')[0] ?? '';
    const allowed = new Set<string>();
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m);
    if (allowed.size === 0) return;
    const allow = [...allowed].sort().join(', ');
    throw new HttpError(405, 'method_not_allowed', `${request.method} is not served on ${path} (allowed: ${allow})`, { allow });
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
