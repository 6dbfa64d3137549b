// Observing a local server from outside: a free port for it, its TCP port, its HTTP answers.
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { waitFor } from './wait-for.js';

/** A free loopback TCP port (bound and released: another process may take it in between, rarely). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port within timeoutMs. */
export function tcpReachable(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** GET url as JSON; a non-2xx answer throws with the start of its body. */
export async function getJson(url: string, timeoutMs = 5000): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

export interface ReadyzOptions {
  readonly timeoutMs: number;
  /** Default 50 ms. */
  readonly intervalMs?: number;
  /** As in waitFor: the service process exited, say. */
  readonly abort?: () => Error | undefined;
  /** The error thrown on timeout, given the last answer (status and body start, or the connect error). */
  readonly timeoutError?: (lastAnswer: string) => Error;
}

/** Polls GET <base>/readyz (a Session Mesh service's ops port) until it answers 200. */
export async function waitReadyz(base: string, options: ReadyzOptions): Promise<void> {
  let last = 'no answer';
  await waitFor(
    async () => {
      try {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) });
        last = `HTTP ${res.status} ${(await res.text()).slice(0, 300)}`;
        return res.status === 200;
      } catch (err) {
        last = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        return false;
      }
    },
    {
      timeoutMs: options.timeoutMs,
      intervalMs: options.intervalMs ?? 50,
      ...(options.abort === undefined ? {} : { abort: options.abort }),
      timeoutError: () => options.timeoutError?.(last) ?? new Error(`GET ${base}/readyz not 200 after ${options.timeoutMs} ms (last: ${last})`),
    },
  );
}
