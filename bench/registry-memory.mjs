// The registry's presence store per connection (issue 12, docs/scaling.md):
//   node --expose-gc bench/registry-memory.mjs [--conns 200000] [--json bench/results/registry-memory.json]
//
// Every registry replica holds the whole presence in one PresenceStore (services/registry/src/state),
// so its size per connection, times all connections, is each replica's floor. This loads the built
// store (npm run build first), adds --conns connections shaped like the edge's (one per user, the
// worst case: a user, a session and a client each; ids like the edge's, session ids like a JWT
// `jti`), and reports the live JS heap and RSS per connection after forced full GCs, and the CPU
// time of the store's own connect and disconnect (no NATS, no JSON: a lower bound for an event).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STORE = join(ROOT, 'services/registry/dist/state/presence-store.js');

function parseArgs(argv) {
  const out = { conns: 200_000, json: join(ROOT, 'bench/results/registry-memory.json') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--conns') {
      out.conns = Number(argv[++i]);
      if (!Number.isInteger(out.conns) || out.conns < 1000) throw new Error(`--conns ${JSON.stringify(argv[i] ?? '')}: must be an integer from 1000`);
    } else if (argv[i] === '--json') {
      if (!argv[i + 1]) throw new Error('--json needs a file path');
      out.json = resolve(argv[++i]);
    } else {
      throw new Error(`unknown argument ${JSON.stringify(argv[i])} (usage: node --expose-gc bench/registry-memory.mjs [--conns N] [--json FILE])`);
    }
  }
  return out;
}

function sessionId(i) {
  const h = createHash('sha1').update(`s${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc (the figures are read after forced full GCs)');
  if (!existsSync(STORE)) throw new Error(`${STORE} is missing: run npm run build first`);
  const { PresenceStore } = await import(pathToFileURL(STORE).href);
  const gc = () => {
    for (let i = 0; i < 3; i++) globalThis.gc();
  };
  const n = args.conns;
  const edges = 8;
  // Fresh strings per record, as each parsed connect event brings its own: the store keeps them.
  const record = (i) => ({
    conn: `edge-${i % edges}-lz3k9q-${i.toString(36)}`,
    user: `user-${i}`,
    session: sessionId(i),
    client: `tab-${i}`,
    edge: `edge-${i % edges}`,
    connectedAt: 1_764_000_000_000 + i,
    lastActivity: 1_764_000_000_000 + i,
  });
  const loadAverage = loadavg().map((x) => Math.round(x * 100) / 100);
  let store = new PresenceStore();
  gc();
  const before = process.memoryUsage();
  for (let i = 0; i < n; i++) store.connect(record(i));
  gc();
  const after = process.memoryUsage();
  if (store.stats().connections !== n) throw new Error(`store holds ${store.stats().connections} connections, expected ${n}`);
  store = undefined;
  gc();

  // CPU of the store alone: the records are made beforehand so that only connect/disconnect count.
  const records = Array.from({ length: n }, (_, i) => record(i));
  store = new PresenceStore();
  const c0 = process.cpuUsage();
  for (const r of records) store.connect(r);
  const c1 = process.cpuUsage(c0);
  const d0 = process.cpuUsage();
  for (const r of records) store.disconnect(r.conn, r.edge);
  const d1 = process.cpuUsage(d0);
  if (store.stats().connections !== 0) throw new Error(`store still holds ${store.stats().connections} connections after disconnecting all`);
  const us = (c) => Math.round(((c.user + c.system) / n) * 100) / 100;
  const result = {
    schema: 1,
    startedAt: new Date(performance.timeOrigin).toISOString(),
    node: process.version,
    loadAverage,
    connections: n,
    heapBytesPerConnection: Math.round((after.heapUsed - before.heapUsed) / n),
    rssBytesPerConnection: Math.round((after.rss - before.rss) / n),
    connectCpuUsPerConnection: us(c1),
    disconnectCpuUsPerConnection: us(d1),
  };
  mkdirSync(dirname(args.json), { recursive: true });
  writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`registry-memory: ${err.message}\n`);
  process.exitCode = 1;
});
