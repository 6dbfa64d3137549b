import http from 'node:http';

/**
 * Liveness and readiness. Liveness (`/healthz`) means the process is running its event loop;
 * readiness (`/readyz`) means every registered check passes (bus connected, initial state loaded,
 * not draining). Services register checks; the transports below only serve the answer.
 */
export type ReadinessCheck = () => true | string;

export class Health {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;

  addCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Once draining, readiness fails so load balancers stop sending new clients. */
  startDraining(): void {
    this.draining = true;
  }

  isDraining(): boolean {
    return this.draining;
  }

  readiness(): { ready: boolean; failing: Record<string, string> } {
    const failing: Record<string, string> = {};
    if (this.draining) failing['shutdown'] = 'draining';
    for (const [name, check] of this.checks) {
      let result: true | string;
      try {
        result = check();
      } catch (err) {
        result = `check threw: ${(err as Error).message}`;
      }
      if (result !== true) failing[name] = result;
    }
    return { ready: Object.keys(failing).length === 0, failing };
  }
}

/** Answers a health path, or returns undefined for other paths. Shared by every HTTP transport. */
export function healthResponse(health: Health, path: string): { status: number; body: string } | undefined {
  if (path === '/healthz') return { status: 200, body: '{"status":"ok"}' };
  if (path === '/readyz') {
    const r = health.readiness();
    return { status: r.ready ? 200 : 503, body: JSON.stringify({ status: r.ready ? 'ready' : 'not ready', failing: r.failing }) };
  }
  return undefined;
}

/** A tiny HTTP server for services that have no HTTP server of their own (the registry). */
export async function startHealthServer(health: Health, port: number, host = '0.0.0.0'): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const answer = healthResponse(health, (req.url ?? '/').split('?')[0] ?? '/');
    res.writeHead(answer?.status ?? 404, { 'content-type': 'application/json' });
    res.end(answer?.body ?? '{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
