/**
 * Starts real service processes (the built dist/main.js of each service) for integration tests,
 * on free ports, and waits for readiness by observation (polling /readyz), never by sleeping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { ensureBlacklistBucket } from './blacklist-bucket.js';
import { waitFor } from './wait-for.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServiceProcess {
  readonly name: string;
  readonly port: number;
  /** The port serving /healthz and /readyz: the internal ops port, or `port` for services without one. */
  readonly opsPort: number;
  readonly child: ChildProcess;
  /** Everything the process wrote, for assertions on log lines and for failure messages. */
  output(): string;
  /** SIGTERM, then wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash), then wait for exit. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

export type ServiceName = 'edge' | 'registry' | 'admin' | 'mesh';

/** Which variable carries the HTTP port whose /readyz tells readiness. */
const portVariable: Record<ServiceName, string> = {
  edge: 'MESH_EDGE_PORT',
  registry: 'MESH_OPS_PORT',
  admin: 'MESH_ADMIN_PORT',
  mesh: 'MESH_EDGE_PORT',
};

/** Services whose probes are on the internal ops port (MESH_OPS_PORT), given a free one of their own. */
const onOpsPort: ReadonlySet<ServiceName> = new Set(['admin', 'edge', 'mesh']);

export async function startService(
  service: ServiceName,
  env: Record<string, string>,
  options: { name?: string; readyTimeoutMs?: number; waitReady?: boolean } = {},
): Promise<ServiceProcess> {
  // Edges wait for the admin to create the blacklist bucket; without an admin in the test, play its part.
  if (service === 'edge' && env['MESH_NATS_URL'] !== undefined && options.waitReady !== false) {
    await ensureBlacklistBucket(env['MESH_NATS_URL'].split(',')[0]!.trim(), Number(env['MESH_KV_REPLICAS'] ?? '1'));
  }
  const port = env[portVariable[service]] !== undefined ? Number(env[portVariable[service]]) : await freePort();
  const opsPort = !onOpsPort.has(service) ? port : env['MESH_OPS_PORT'] !== undefined ? Number(env['MESH_OPS_PORT']) : await freePort();
  const name = options.name ?? service;
  const child = spawn(process.execPath, [`services/${service}/dist/main.js`], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', MESH_LOG_LEVEL: 'info', MESH_DRAIN_DELAY_MS: '0', ...env, [portVariable[service]]: String(port), ...(onOpsPort.has(service) ? { MESH_OPS_PORT: String(opsPort) } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const onParentExit = () => child.kill('SIGKILL');
  process.once('exit', onParentExit);
  void exited.then(() => process.off('exit', onParentExit));

  const handle: ServiceProcess = {
    name,
    port,
    opsPort,
    child,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  if (options.waitReady !== false) await waitReady(handle, options.readyTimeoutMs ?? 20_000);
  return handle;
}

export async function waitReady(service: ServiceProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.name} exited with ${service.child.exitCode} before it was ready:\n${service.output()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${service.opsPort}/readyz`);
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await service.kill();
  throw new Error(`${service.name} not ready after ${timeoutMs} ms (last /readyz: ${last}):\n${service.output()}`);
}

/** Polls `predicate` until it is truthy; fails with `message` and the last error after timeoutMs. */
export function eventually<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  message: string,
  timeoutMs = 10_000,
): Promise<T> {
  return waitFor(async () => (await predicate()) || undefined, { timeoutMs, intervalMs: 25, what: message });
}
