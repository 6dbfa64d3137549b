import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Metrics } from '@session-mesh/runtime';

/** The admin app as far as these metrics need it: its HTTP server and its OpenAPI document. */
export interface ObservedAdminApp {
  readonly server: Server;
  swagger?: () => { readonly paths?: Readonly<Record<string, unknown>> };
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/**
 * Admin API requests by route template (from the app's own OpenAPI document, so user ids never
 * become label values), method and status, and their duration. Observed on the HTTP server's
 * `request` event, which works on an app that is already listening.
 */
export function registerAdminMetrics(metrics: Metrics, app: ObservedAdminApp): void {
  const routeOf = routeMatcher(Object.keys(app.swagger?.().paths ?? {}));
  const requests = metrics.counter('mesh_admin_requests_total', 'Admin API requests by route template, method and status code.', ['route', 'method', 'status']);
  const duration = metrics.histogram('mesh_admin_request_duration_seconds', 'Admin API request duration by route template.', DURATION_BUCKETS, ['route', 'method']);
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const route = routeOf((req.url ?? '/').split('?')[0] ?? '/');
      const method = req.method ?? 'GET';
      requests.inc({ route, method, status: String(res.statusCode) });
      duration.observe({ route, method }, Number(process.hrtime.bigint() - started) / 1e9);
    });
  });
}

/** Maps a request path to its OpenAPI path template (`/v1/users/{userId}/push`), or 'other'. */
export function routeMatcher(templates: readonly string[]): (path: string) => string {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const patterns = templates.map((t) => ({ template: t, re: new RegExp(`^${t.split(/\{[^}]+\}/).map(escape).join('[^/]+')}/?$`) }));
  return (path) => patterns.find((p) => p.re.test(path))?.template ?? (path === '/openapi.json' ? path : 'other');
}
