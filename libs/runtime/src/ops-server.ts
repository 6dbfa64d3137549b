import http from 'node:http';
import type { Logger } from 'pino';
import { healthResponse, type Health } from './health.js';

/** An extra GET route of the ops server: returns the status and JSON body. */
export type OpsRoute = () => { status: number; body: string; contentType?: string } | Promise<{ status: number; body: string; contentType?: string }>;

export interface OpsServer {
  readonly port: number;
  /** Adds a GET route (for example `/stats`, later `/metrics`). */
  route(path: string, handler: OpsRoute): void;
  close(): Promise<void>;
}

/**
 * The internal HTTP port every service has: `/healthz`, `/readyz` and whatever the service adds
 * (`/stats`, metrics). It is never the public WebSocket or API port: operational data (memory,
 * user counts) is not for clients, and a chart exposes only the public port.
 */
export async function startOpsServer(options: { health: Health; port: number; host?: string; logger?: Logger }): Promise<OpsServer> {
  const routes = new Map<string, OpsRoute>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, body: string, contentType = 'application/json') => {
      res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, '{"error":"method not allowed"}');
    const health = healthResponse(options.health, path);
    if (health !== undefined) return send(health.status, health.body);
    const handler = routes.get(path);
    if (handler === undefined) return send(404, '{"error":"not found"}');
    Promise.resolve()
      .then(handler)
      .then(
        (answer) => send(answer.status, answer.body, answer.contentType),
        (err: unknown) => {
          options.logger?.error({ err, path }, 'ops route failed');
          send(500, '{"error":"internal error"}');
        },
      );
  });
  // Probes come often; slow or idle clients must not hold sockets open.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    route(path, handler) {
      routes.set(path, handler);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
