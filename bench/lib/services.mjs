// Starting the processes a bench phase needs, each ready by observation (a ports file, a TCP
// connect, an HTTP 200, a JSON line), never after a fixed sleep.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBlacklistBucket, freePort, getJson, natsListening, natsServerBinary, tcpReachable, waitFor, waitReadyz } from '@session-mesh/testkit';
import { WebSocket } from 'ws';
import { ProcessFailed } from './procs.mjs';

// Ports, probes and polling are the shared kit's (libs/testkit, also under test/support); the bench
// scripts import them from here.
export { freePort, getJson, tcpReachable };

/** The nats-server of a bench script: BENCH_NATS_SERVER, else the tests' (NATS_SERVER_BIN, cache, PATH, install script). */
export function benchNatsServer() {
  return process.env.BENCH_NATS_SERVER || natsServerBinary();
}

/** "last output: <its last lines> (log: <file>)", for failures that concern a process. */
function lastOutput(proc) {
  return `last output:\n${proc.lastLines()}\n(log: ${proc.logPath})`;
}

/** Ends a wait when `proc` has exited, naming what was awaited. */
function exitedWhile(proc, what) {
  return () => (proc && !proc.running ? new ProcessFailed(`${proc.name} exited (${proc.exitCode}) while waiting for ${what}; its ${lastOutput(proc)}`) : undefined);
}

/**
 * Polls fn every intervalMs until it returns a value other than undefined, false or null; throws a
 * ProcessFailed after timeoutMs, or as soon as `proc` (when given) has exited.
 */
export function until(fn, { timeoutMs, intervalMs = 100, what, proc }) {
  return waitFor(fn, {
    timeoutMs,
    intervalMs,
    what,
    abort: exitedWhile(proc, what),
    timeoutError: (lastError) =>
      new ProcessFailed(`no ${what} within ${timeoutMs} ms${lastError ? ` (last error: ${lastError.message})` : ''}${proc ? `\n${proc.name}'s ${lastOutput(proc)}` : ''}`),
  });
}

/** nats-server on random loopback ports with JetStream (the edge keeps its blacklist in KV). */
export async function startNats(procs, { bin, dir, name = 'nats' }) {
  const portsDir = join(dir, 'ports');
  mkdirSync(portsDir, { recursive: true });
  const proc = procs.start(name, bin, ['-a', '127.0.0.1', '-p', '-1', '-m', '-1', '--ports_file_dir', portsDir, '-js', '-sd', join(dir, 'js')]);
  const ports = await natsListening(portsDir, proc.pid, {
    timeoutMs: 25000,
    monitor: true,
    exited: () => (proc.running ? undefined : `exited (${proc.exitCode})`),
  }).catch((err) => {
    throw new ProcessFailed(`${name} did not start: ${err.message}; its ${lastOutput(proc)}`);
  });
  const url = `nats://127.0.0.1:${ports.client}`;
  const monitor = `http://127.0.0.1:${ports.monitor}`;
  await until(async () => ((await getJson(`${monitor}/healthz`)).status === 'ok' ? true : undefined), {
    timeoutMs: 15000,
    what: 'nats-server /healthz ok',
    proc,
  });
  return { proc, url, monitor };
}

/**
 * One edge (services/edge/dist/main.js) on a free port, ready when GET /readyz answers 200.
 * Fails loudly, quoting the edge's output, when it exits or is not ready in time.
 */
export async function startEdge(procs, opts) {
  try {
    return await startEdgeOnce(procs, opts);
  } catch (err) {
    // freePort() releases the port before the edge binds it: on a shared machine another process can
    // take it in between. One retry on fresh ports; any other failure is the edge's.
    if (!(err instanceof ProcessFailed) || !/cannot listen/.test(err.message)) throw err;
    return startEdgeOnce(procs, opts);
  }
}

async function startEdgeOnce(procs, { root, natsUrl, secret, id, logLevel = 'warn', extraEnv = {}, inspect = false }) {
  // Edges only open the blacklist bucket; the admin service creates it. The bench runs no admin: play its part.
  await ensureBlacklistBucket(natsUrl);
  const port = await freePort();
  const env = {
    MESH_DRAIN_DELAY_MS: '0',
    MESH_NATS_URL: natsUrl,
    MESH_JWT_SECRET: secret,
    MESH_EDGE_PORT: String(port),
    MESH_EDGE_HOST: '127.0.0.1',
    MESH_EDGE_ID: id,
    MESH_LOG_LEVEL: logLevel,
    ...extraEnv,
  };
  // BENCH_EDGE_MAIN: another entry point speaking the same env and HTTP contract (harness tests).
  const main = process.env.BENCH_EDGE_MAIN || undefined;
  const { proc, base, inspectPort } = await startService(procs, { root, service: 'edge', id, env, inspect, main });
  return { proc, port, base, url: `ws://127.0.0.1:${port}/`, inspectPort };
}

/** Waits for GET <base>/readyz to answer 200, quoting the last answer when it does not in time. */
async function untilReady(base, proc, what) {
  const timeoutMs = 30000;
  await waitReadyz(base, {
    timeoutMs,
    intervalMs: 100,
    abort: exitedWhile(proc, `${what} ready`),
    timeoutError: (last) => new ProcessFailed(`no ${what} ready (GET ${base}/readyz 200; last: ${last}) within ${timeoutMs} ms\n${proc.name}'s ${lastOutput(proc)}`),
  });
}

/**
 * Starts services/<service>/dist/main.js (or `main`) as `id` with `env` on top of the bench's common
 * settings and a free ops port, optionally under --inspect, and waits for its /readyz.
 */
async function startService(procs, { root, service, id, env, main = join(root, `services/${service}/dist/main.js`), what = service, inspect = false }) {
  if (!existsSync(main)) throw new ProcessFailed(`the ${what} is not built: ${main} is missing (npx tsc -b services/${service})`);
  const opsPort = await freePort();
  const inspectPort = inspect ? await freePort() : undefined;
  const nodeArgs = inspect ? [`--inspect=127.0.0.1:${inspectPort}`] : [];
  const fullEnv = { ...process.env, MESH_OPS_PORT: String(opsPort), MESH_OPS_HOST: '127.0.0.1', MESH_LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env };
  const proc = procs.start(id, process.execPath, [...nodeArgs, main], { env: fullEnv, cwd: root });
  // /readyz (and the edge's /stats) live on the internal ops port.
  const base = `http://127.0.0.1:${opsPort}`;
  await untilReady(base, proc, `${service} ${id}`);
  return { proc, base, inspectPort };
}

/**
 * One registry replica (services/registry/dist/main.js) with the env the integration tests give it,
 * ready when GET /readyz answers 200. It has no /stats: registryMetrics reads its ops /metrics.
 */
/**
 * The single-process mesh (services/mesh: edge, registry and admin API in one process on its
 * in-process bus), as `npm start` runs it, with the bench's HS256 secret. /stats on its ops port
 * is the edge role's.
 */
export async function startMesh(procs, { root, secret, id = 'bench-mesh', inspect = false }) {
  const [port, adminPort] = [await freePort(), await freePort()];
  const env = {
    MESH_EDGE_PORT: String(port),
    MESH_EDGE_HOST: '127.0.0.1',
    MESH_EDGE_ID: id,
    MESH_JWT_SECRET: secret,
    MESH_ADMIN_PORT: String(adminPort),
    MESH_ADMIN_HOST: '127.0.0.1',
    MESH_ADMIN_TOKENS: randomBytes(24).toString('hex'),
    MESH_DRAIN_DELAY_MS: '0',
  };
  const { proc, base, inspectPort } = await startService(procs, { root, service: 'mesh', id, env, inspect, what: 'single-process mesh' });
  return { proc, port, base, url: `ws://127.0.0.1:${port}/`, inspectPort };
}

export async function startRegistry(procs, { root, natsUrl, id = 'bench-registry', settleMs = 200, inspect = false }) {
  const env = { MESH_NATS_URL: natsUrl, MESH_KV_REPLICAS: '1', MESH_REGISTRY_SETTLE_MS: String(settleMs), MESH_REGISTRY_ID: id };
  return startService(procs, { root, service: 'registry', id, env, inspect });
}

/**
 * The admin API (services/admin/dist/main.js) on free ports, ready when its ops /readyz answers 200.
 * Started before the edges, it creates the blacklist bucket they open (as in production).
 */
export async function startAdmin(procs, { root, natsUrl, token, id = 'bench-admin' }) {
  const port = await freePort();
  const env = { MESH_NATS_URL: natsUrl, MESH_KV_REPLICAS: '1', MESH_ADMIN_TOKENS: token, MESH_ADMIN_PORT: String(port), MESH_ADMIN_HOST: '127.0.0.1' };
  const { proc } = await startService(procs, { root, service: 'admin', id, env, what: 'admin API' });
  return { proc, base: `http://127.0.0.1:${port}` };
}

/** The registry's presence counts and live heap from its Prometheus /metrics (unlabelled samples only). */
export async function registryMetrics(base) {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${base}/metrics: HTTP ${res.status}`);
  const values = new Map();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  const need = (name) => {
    if (!values.has(name)) throw new Error(`${base}/metrics has no ${name}`);
    return values.get(name);
  };
  return {
    connections: need('mesh_registry_connections'),
    users: need('mesh_registry_users'),
    sessions: need('mesh_registry_sessions'),
    edges: need('mesh_registry_edges'),
    heapUsed: need('nodejs_heap_size_used_bytes'),
  };
}

/** JetStream's totals on a nats-server (its monitoring /jsz): the registry's lifecycle events stream grows with every connect. */
export async function jetStreamCounts(monitor) {
  const j = await getJson(`${monitor}/jsz`);
  return { messages: j.messages, bytes: j.bytes, memoryBytes: j.memory, storageBytes: j.storage, streams: j.streams };
}

/** The raw uWebSockets.js baseline (bench/raw-uws-server.mjs). */
export async function startRaw(procs, { root, name = 'raw-uws', inspect = false, broadcast = false }) {
  const inspectPort = inspect ? await freePort() : undefined;
  const nodeArgs = inspect ? [`--inspect=127.0.0.1:${inspectPort}`] : [];
  const proc = procs.start(name, process.execPath, [...nodeArgs, join(root, 'bench/raw-uws-server.mjs'), ...(broadcast ? ['--broadcast'] : [])], { cwd: root });
  const msg = await proc.waitFor((m) => m.event === 'listening', 15000, 'the listening line');
  const base = `http://127.0.0.1:${msg.port}`;
  return { proc, port: msg.port, base, url: `ws://127.0.0.1:${msg.port}/`, binary: msg.binary, inspectPort };
}

/**
 * Forces full garbage collections in a Node process started with --inspect, through the inspector
 * protocol (HeapProfiler.collectGarbage): heapUsed then counts live objects, not garbage a lazy GC
 * has not reached yet. Nothing else is done through the inspector.
 */
export async function forceGc(inspectPort, rounds = 2) {
  const list = await getJson(`http://127.0.0.1:${inspectPort}/json/list`);
  const target = list.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error(`no inspector target on port ${inspectPort}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    for (let id = 1; id <= rounds; id++) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('HeapProfiler.collectGarbage timed out after 30 s')), 30000);
        const onMessage = (data) => {
          const msg = JSON.parse(String(data));
          if (msg.id !== id) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          if (msg.error) reject(new Error(`collectGarbage: ${JSON.stringify(msg.error)}`));
          else resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  } finally {
    ws.close();
  }
}

/**
 * Waits until the RSS of pid stops moving: the spread of the last `samples` readings (taken every
 * intervalMs) is at most toleranceKiB. Bounded by maxMs; reports whether it settled.
 */
export async function settleRss(readRss, { intervalMs = 500, samples = 4, toleranceKiB = 96, maxMs = 30000 } = {}) {
  const t0 = performance.now();
  const seen = [];
  for (;;) {
    seen.push(readRss());
    const last = seen.slice(-samples);
    if (last.length === samples && Math.max(...last) - Math.min(...last) <= toleranceKiB) {
      return { rssKiB: last[last.length - 1], settled: true, waitedMs: Math.round(performance.now() - t0) };
    }
    if (performance.now() - t0 > maxMs) {
      return { rssKiB: seen[seen.length - 1], settled: false, waitedMs: Math.round(performance.now() - t0), lastSamples: last };
    }
    await sleep(intervalMs);
  }
}
