// A local nats-server: which binary, and when a started one listens (from its ports file).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tcpReachable } from './probes.js';
import { waitFor } from './wait-for.js';

// src/ and dist/ are both two levels below libs/testkit.
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
let resolvedBin: string | undefined;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** env NATS_SERVER_BIN, the project cache, PATH; undefined when none has one. */
export function findLocalNatsServer(): string | undefined {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`NATS_SERVER_BIN=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const cached = join(homedir(), '.cache/session-mesh/bin/nats-server');
  if (isExecutable(cached)) return cached;
  return findOnPath('nats-server');
}

/** env NATS_SERVER_BIN, the project cache, PATH; else runs scripts/install-nats-server.sh once. */
export function natsServerBinary(): string {
  if (resolvedBin !== undefined) return resolvedBin;
  let bin = findLocalNatsServer();
  if (bin === undefined) {
    const script = join(repoRoot, 'scripts/install-nats-server.sh');
    const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 });
    const last = out.trim().split('\n').pop()?.trim();
    bin = last && isExecutable(last) ? last : findLocalNatsServer();
    if (bin === undefined) throw new Error(`${script} ran but no nats-server binary can be found`);
  }
  resolvedBin = bin;
  return bin;
}

export interface NatsPorts {
  readonly client: number;
  /** Absent when the server has no monitoring port. */
  readonly monitor: number | undefined;
}

/**
 * The ports a nats-server started with `ports_file_dir: dir` (or `--ports_file_dir dir`) wrote to
 * <dir>/<executable>_<pid>.ports once it listens; undefined until then (or while half written).
 */
export function readNatsPorts(dir: string, pid: number | undefined): NatsPorts | undefined {
  if (pid === undefined) return undefined;
  const file = readdirSync(dir).find((f) => f.endsWith(`_${pid}.ports`));
  if (file === undefined) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nats?: string[]; monitoring?: string[] };
    const client = Number(new URL(parsed.nats?.[0] ?? '').port);
    const monitor = parsed.monitoring?.[0] === undefined ? undefined : Number(new URL(parsed.monitoring[0]).port);
    return client > 0 ? { client, monitor } : undefined;
  } catch {
    return undefined;
  }
}

export interface NatsListeningOptions {
  /** For both steps together. */
  readonly timeoutMs: number;
  /** Wait for a monitoring port in the ports file too. */
  readonly monitor?: boolean;
  /** Why the process is gone (e.g. "exited with code 1"), or undefined while it runs: ends the wait. */
  readonly exited: () => string | undefined;
}

/**
 * Waits until the nats-server `pid` listens: its ports file appeared, then a TCP connect to its
 * client port succeeded. Throws an Error whose message says which step failed.
 */
export async function natsListening(dir: string, pid: number | undefined, options: NatsListeningOptions): Promise<NatsPorts> {
  const deadline = Date.now() + options.timeoutMs;
  const abort = (): Error | undefined => {
    const why = options.exited();
    return why === undefined ? undefined : new Error(why);
  };
  const ports = await waitFor(
    () => {
      const p = readNatsPorts(dir, pid);
      return p !== undefined && (options.monitor !== true || p.monitor !== undefined) ? p : undefined;
    },
    { timeoutMs: options.timeoutMs, intervalMs: 20, abort, timeoutError: () => new Error('timed out waiting for its ports file') },
  );
  await waitFor(() => tcpReachable(ports.client), {
    timeoutMs: Math.max(0, deadline - Date.now()),
    intervalMs: 20,
    abort,
    timeoutError: () => new Error(`timed out connecting to port ${ports.client}`),
  });
  return ports;
}
