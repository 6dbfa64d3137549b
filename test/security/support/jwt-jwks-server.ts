/**
 * A real local HTTP JWKS endpoint for tests: it serves a key set and can be slowed down, stopped
 * (connections refused) and restarted on the same port, so outage behaviour is tested over real
 * sockets rather than with a mocked fetch.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';

export class JwksServer {
  /** The set served; replace it to rotate keys. */
  keys: JWK[] = [];
  /** Delay before each answer (a slow identity provider). */
  delayMs = 0;
  /** Answer this status (with an empty body) instead of the set, when set. */
  failStatus: number | undefined;
  /** Requests received, including ones answered late or not at all. */
  requests = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Listens (again, on the same port after a stop); a no-op while listening. */
  async start(): Promise<this> {
    if (this.server !== undefined) return this;
    const server = http.createServer((req, res) => {
      this.requests++;
      const answer = () => {
        if (res.destroyed) return;
        if (this.failStatus !== undefined) {
          res.writeHead(this.failStatus).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: this.keys }));
      };
      if (this.delayMs > 0) setTimeout(answer, this.delayMs).unref();
      else answer();
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and cuts open connections: fetches now fail with ECONNREFUSED. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
