/**
 * Starts real service processes (the built dist/main.js of each service) for integration tests,
 * on free ports, and waits for readiness by observation (polling /readyz), never by sleeping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort, killOnExit, waitFor, waitReadyz } from '@session-mesh/testkit';
import { ensureBlacklistBucket } from './blacklist-bucket.js';

export { freePort };

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

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
  killOnExit(child);

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
  const exitedEarly = (): Error | undefined =>
    service.child.exitCode === null ? undefined : new Error(`${service.name} exited with ${service.child.exitCode} before it was ready:\n${service.output()}`);
  await waitReadyz(`http://127.0.0.1:${service.opsPort}`, {
    timeoutMs,
    abort: exitedEarly,
    timeoutError: (last) => new Error(`${service.name} not ready after ${timeoutMs} ms (last /readyz: ${last}):\n${service.output()}`),
  }).catch(async (err: unknown) => {
    await service.kill(); // a no-op when it has exited already
    throw err;
  });
}

/** Polls `predicate` until it is truthy; fails with `message` and the last error after timeoutMs. */
export function eventually<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  message: string,
  timeoutMs = 10_000,
): Promise<T> {
  return waitFor(async () => (await predicate()) || undefined, { timeoutMs, intervalMs: 25, what: message });
}
