// Starting the processes a bench phase needs, each ready by observation (a ports file, a TCP
// connect, an HTTP 200, a JSON line), never after a fixed sleep.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { ProcessFailed } from './procs.mjs';

/** A free loopback TCP port (bound and released; the tiny race is acceptable on a bench machine). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls fn every intervalMs until it returns a value other than undefined; throws after timeoutMs. */
export async function until(fn, { timeoutMs, intervalMs = 100, what, proc }) {
  const deadline = performance.now() + timeoutMs;
  let lastError;
  for (;;) {
    if (proc && !proc.running) {
      throw new ProcessFailed(`${proc.name} exited (${proc.exitCode}) while waiting for ${what}; its last output:\n${proc.lastLines()}\n(log: ${proc.logPath})`);
    }
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) {
      const tail = proc ? `\n${proc.name}'s last output:\n${proc.lastLines()}\n(log: ${proc.logPath})` : '';
      throw new ProcessFailed(`no ${what} within ${timeoutMs} ms${lastError ? ` (last error: ${lastError.message})` : ''}${tail}`);
    }
    await sleep(intervalMs);
  }
}

export async function getJson(url, timeoutMs = 5000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

/** Resolves true once a TCP connect to the loopback port succeeds, undefined otherwise (for until()). */
export function tcpReachable(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(undefined));
  });
}

/** nats-server on random loopback ports with JetStream (the edge keeps its blacklist in KV). */
export async function startNats(procs, { bin, dir, name = 'nats' }) {
  mkdirSync(join(dir, 'ports'), { recursive: true });
  const portsDir = join(dir, 'ports');
  const proc = procs.start(name, bin, ['-a', '127.0.0.1', '-p', '-1', '-m', '-1', '--ports_file_dir', portsDir, '-js', '-sd', join(dir, 'js')]);
  const ports = await until(
    () => {
      const file = readdirSync(portsDir).find((f) => f.endsWith(`_${proc.pid}.ports`));
      if (!file) return undefined;
      const p = JSON.parse(readFileSync(join(portsDir, file), 'utf8'));
      return p.nats?.[0] && p.monitoring?.[0] ? p : undefined;
    },
    { timeoutMs: 15000, what: 'nats-server ports file', proc },
  );
  const url = ports.nats[0];
  const monitor = ports.monitoring[0];
  await until(() => tcpReachable(Number(new URL(url).port)), { timeoutMs: 10000, what: 'nats-server client port', proc });
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
  // BENCH_EDGE_MAIN: another entry point speaking the same env and HTTP contract (harness tests).
  const main = process.env.BENCH_EDGE_MAIN || join(root, 'services/edge/dist/main.js');
  if (!existsSync(main)) throw new ProcessFailed(`the edge is not built: ${main} is missing (npx tsc -b services/edge)`);
  await ensureBlacklistBucket(root, natsUrl);
  const port = await freePort();
  const opsPort = await freePort();
  const env = {
    ...process.env,
    MESH_OPS_PORT: String(opsPort),
    MESH_OPS_HOST: '127.0.0.1',
    MESH_DRAIN_DELAY_MS: '0',
    MESH_NATS_URL: natsUrl,
    MESH_JWT_SECRET: secret,
    MESH_EDGE_PORT: String(port),
    MESH_EDGE_HOST: '127.0.0.1',
    MESH_EDGE_ID: id,
    MESH_LOG_LEVEL: logLevel,
    NODE_ENV: 'production',
    ...extraEnv,
  };
  const inspectPort = inspect ? await freePort() : undefined;
  const nodeArgs = inspect ? [`--inspect=127.0.0.1:${inspectPort}`] : [];
  const proc = procs.start(id, process.execPath, [...nodeArgs, main], { env, cwd: root });
  // /readyz and /stats live on the internal ops port.
  const base = `http://127.0.0.1:${opsPort}`;
  await untilReady(base, proc, `edge ${id}`);
  return { proc, port, base, url: `ws://127.0.0.1:${port}/`, inspectPort };
}

/** Waits for GET <base>/readyz to answer 200, quoting the last answer when it does not in time. */
async function untilReady(base, proc, what) {
  let lastStatus = 'no answer';
  await until(
    async () => {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).catch((err) => {
        lastStatus = err.cause?.code ?? err.message;
        return undefined;
      });
      if (!res) return undefined;
      lastStatus = `HTTP ${res.status} ${(await res.text()).slice(0, 300)}`;
      return res.status === 200 ? true : undefined;
    },
    { timeoutMs: 30000, intervalMs: 100, what: `${what} ready (GET ${base}/readyz 200; last: ${lastStatus})`, proc },
  ).catch((err) => {
    err.message = err.message.replace('last: no answer', `last: ${lastStatus}`);
    throw err;
  });
}

/**
 * One registry replica (services/registry/dist/main.js) with the env the integration tests give it,
 * ready when GET /readyz answers 200. It has no /stats: registryMetrics reads its ops /metrics.
 */
export async function startRegistry(procs, { root, natsUrl, id = 'bench-registry', settleMs = 200, inspect = false }) {
  const main = join(root, 'services/registry/dist/main.js');
  if (!existsSync(main)) throw new ProcessFailed(`the registry is not built: ${main} is missing (npx tsc -b services/registry)`);
  const opsPort = await freePort();
  const env = {
    ...process.env,
    MESH_NATS_URL: natsUrl,
    MESH_KV_REPLICAS: '1',
    MESH_REGISTRY_SETTLE_MS: String(settleMs),
    MESH_REGISTRY_ID: id,
    MESH_OPS_PORT: String(opsPort),
    MESH_OPS_HOST: '127.0.0.1',
    MESH_LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  const inspectPort = inspect ? await freePort() : undefined;
  const nodeArgs = inspect ? [`--inspect=127.0.0.1:${inspectPort}`] : [];
  const proc = procs.start(id, process.execPath, [...nodeArgs, main], { env, cwd: root });
  const base = `http://127.0.0.1:${opsPort}`;
  await untilReady(base, proc, `registry ${id}`);
  return { proc, base, inspectPort };
}

/**
 * The admin API (services/admin/dist/main.js) on free ports, ready when its ops /readyz answers 200.
 * Started before the edges, it creates the blacklist bucket they open (as in production).
 */
export async function startAdmin(procs, { root, natsUrl, token, id = 'bench-admin' }) {
  const main = join(root, 'services/admin/dist/main.js');
  if (!existsSync(main)) throw new ProcessFailed(`the admin API is not built: ${main} is missing (npx tsc -b services/admin)`);
  const port = await freePort();
  const opsPort = await freePort();
  const env = {
    ...process.env,
    MESH_NATS_URL: natsUrl,
    MESH_KV_REPLICAS: '1',
    MESH_ADMIN_TOKENS: token,
    MESH_ADMIN_PORT: String(port),
    MESH_ADMIN_HOST: '127.0.0.1',
    MESH_OPS_PORT: String(opsPort),
    MESH_OPS_HOST: '127.0.0.1',
    MESH_LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  const proc = procs.start(id, process.execPath, [main], { env, cwd: root });
  await untilReady(`http://127.0.0.1:${opsPort}`, proc, `admin ${id}`);
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

/** Edges only open the blacklist bucket; the admin service creates it. The bench runs no admin: play its part. */
async function ensureBlacklistBucket(root, natsUrl) {
  const { connectNatsBus } = await import(join(root, 'libs/bus/dist/index.js'));
  const bus = await connectNatsBus({ servers: natsUrl, name: 'bench-blacklist-owner' });
  try {
    await bus.kv('mesh_blacklist', { create: true, replicas: 1, history: 1 });
  } finally {
    await bus.close();
  }
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
