// npm run bench (scripts/bench.sh builds the tools, then runs this).
//
// Phases, each with fresh processes:
//   memory-raw   raw uWebSockets.js, N idle sockets: server RSS per socket
//   memory-edge  nats-server + one edge, N authenticated sockets (one user each): RSS and heap per socket
//   push-edge    nats-server + two edges, M users each; a Go publisher sends 100-byte pushes to random
//                users over NATS; CPU of every process per delivery
//   push-raw     raw uWebSockets.js sending to random sockets itself, same loadgen: the floor
//   memory-<peer>, push-<peer>   the same two scenarios for each peer (bench/lib/peers.mjs):
//                socketio (Socket.IO 4.8 + Redis adapter, 2 processes), centrifugo-memory,
//                centrifugo-nats (Centrifugo v6.9.1): same load generator, socket counts and payloads
//   connect-edge one edge + nats-server: connect storms (HS256, then ES256 on a second edge) from a
//                fresh loadgen, 256 handshakes in flight: edge CPU per connect, upgrade-to-welcome times
//   connect-raw  the same storm against raw uWebSockets.js (its 101)
//   latency-edge nats-server + two edges, 10,000 users; targeted pushes paced at rising rates until
//                saturation: end-to-end latency (publish stamp -> loadgen receipt) and CPU per delivery
//   broadcast-edge / broadcast-raw  10,000 sockets; one publish to every socket (mesh.push.all; raw:
//                app.publish): time until the last socket has it, then a burst: deliveries/s and CPU
//   connect-<peer>, latency-<peer>, broadcast-<peer>   the same three scenarios for each peer
//                (bench/phases/peer-scenarios.mjs), fewer latency steps
//   capacity     (about 1 minute) 100,000 sessions over 6 edges, one
//                nats-server and one registry, one loadgen per edge: connects, RSS per connection of
//                edges (after GC), nats-server and registry, the registry's count against the truth;
//                then one edge filled with 19,000 sockets, close to its 20,000 open-files limit
//   propagation  (about 45 s, in the default run) the capacity topology plus the admin API;
//                target sessions held by 3 sockets on 3 edges; one admin kill (then blacklist) at a time:
//                time from the request to the close frame on the session's last socket, the admin's answer
//   churn        (about 3.5 minutes) nats-server, 2 edges, registry; held sessions plus a population
//                disconnecting and reconnecting at a steady rate: RSS over time and after GC, presence
//                exact at the end (bench/phases/churn.mjs)
//   capacity-<peer>  each peer holding the capacity phase's sessions over as many processes as the edges
//                (Centrifugo's memory broker: one node, 19,000 sockets), RSS per connection after GC, then
//                kill propagation through the peer's own disconnect API, timed like the admin kill
//                (bench/phases/peer-capacity.mjs)
// Before each phase the 1-minute load average is read; above BENCH_MAX_LOAD (2) the bench waits for
// it to drop (at most BENCH_LOAD_WAIT_S, 120 s, per phase and BENCH_LOAD_WAIT_TOTAL_S, 480 s, in all)
// and records it either way.
// Results go to bench/results/latest.json, then bench/render.mjs writes docs/benchmarks.md.
//
// Environment (all optional): BENCH_CONNS (15000), BENCH_PUSH_USERS_PER_EDGE (5000),
// BENCH_PUSH_SECONDS (15, at most 20), BENCH_RAW_PUSH_SECONDS (10), BENCH_PHASES (comma list),
// BENCH_SKIP_EDGE=1 (raw phases only), BENCH_LOADGEN, BENCH_NATS_SERVER (paths; set by bench.sh),
// BENCH_LOG_DIR, BENCH_PIDFILE, BENCH_RESULTS, BENCH_RENDER=0 (do not touch docs/),
// BENCH_EDGE_MAIN (another edge entry point with the same env and HTTP contract),
// BENCH_CENTRIFUGO, BENCH_REDIS_SERVER (peer binaries, set by bench.sh; BENCH_*_MISSING: why not),
// BENCH_PUSH_PUBLISHED_AT=1 and BENCH_PUSH_TRACEPARENT=<sampled ratio> (push-edge: headers of a traced backend),
// BENCH_STORM_CONNS (15000), BENCH_LATENCY_RATES (comma list of pushes/s), BENCH_LATENCY_SECONDS (6),
// BENCH_PEER_LATENCY_RATES (5000,20000,40000,80000: the peers' latency steps),
// BENCH_BROADCAST_SOCKETS (10000), BENCH_BROADCAST_BURST (100 publishes),
// BENCH_CAPACITY_CONNS (100000), BENCH_CAPACITY_EDGES (6; more when a share exceeds 19,500 sockets),
// BENCH_CAPACITY_FILL (19000), BENCH_PROPAGATION_KILLS (200), BENCH_PROPAGATION_BLACKLISTS (200),
// BENCH_PROPAGATION_RATE (20 admin calls/s at most), BENCH_CHURN_SECONDS (180), BENCH_CHURN_RATE (300
// disconnects + reconnects per second), BENCH_CHURN_HELD (10000), BENCH_CHURN_SOCKETS (2000),
// BENCH_QUIET_MAX_MS (30000), BENCH_PUSH_WARMUP (20000 pushes),
// BENCH_SHORT=1 or --short (every phase at tiny sizes, bench/lib/short-mode.mjs; JSON and markdown
// go to BENCH_OUT_DIR or a temporary folder, never over bench/results/latest.json or docs/),
// BENCH_MERGE=1 (keep the previous latest.json's results for the phases not run now: re-render without rerunning them).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Procs, readLog } from './lib/procs.mjs';
import { cpuDelta, cpuSnapshot, machineBusyUs, rssKiB } from './lib/procstat.mjs';
import { PEERS, startPeer } from './lib/peers.mjs';
import { peerLatencyRates, peerScenarioPhaseNames, peerScenarioPhases } from './phases/peer-scenarios.mjs';
import { peerCapacityPhaseNames, peerCapacityPhases } from './phases/peer-capacity.mjs';
import { forceGc, getJson, jetStreamCounts, registryMetrics, settleRss, startAdmin, startEdge, startMesh, startNats, startRaw, startRegistry, until } from './lib/services.mjs';
import { render } from './render.mjs';
import { closeReasons, propagationTimer } from './lib/propagation-timing.mjs';
import { envLookup, isShort } from './lib/short-mode.mjs';
import { phaseChurn } from './phases/churn.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const short = isShort(env, process.argv.slice(2));
// Every setting is read through envValue: in short mode, an unset one takes its size from SHORT_SIZES.
const envValue = envLookup(env, short);
const intEnv = (name, def, min, max) => {
  const v = envValue(name) === undefined ? def : Number(envValue(name));
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${envValue(name)}`);
  return v;
};

const PEER_KINDS = Object.keys(PEERS);
const SCENARIO_PHASES = ['connect-edge', 'connect-raw', 'latency-edge', 'broadcast-edge', 'broadcast-raw', 'capacity', 'propagation', 'churn'];
const DEFAULT_PHASES = ['memory-raw', 'memory-edge', 'memory-mesh', 'push-edge', 'push-raw', ...PEER_KINDS.flatMap((k) => [`memory-${k}`, `push-${k}`]), ...SCENARIO_PHASES, ...peerScenarioPhaseNames(PEER_KINDS), ...peerCapacityPhaseNames(PEER_KINDS)];
const cfg = {
  conns: intEnv('BENCH_CONNS', 15000, 100, 19000),
  pushUsersPerEdge: intEnv('BENCH_PUSH_USERS_PER_EDGE', 5000, 10, 9500),
  pushSeconds: intEnv('BENCH_PUSH_SECONDS', 15, 1, 20),
  rawPushSeconds: intEnv('BENCH_RAW_PUSH_SECONDS', 10, 1, 20),
  payloadBytes: 100,
  warmupPushes: intEnv('BENCH_PUSH_WARMUP', 20000, 100, 200000),
  window: 20000,
  phases: (env.BENCH_PHASES ?? DEFAULT_PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean),
  skipEdge: env.BENCH_SKIP_EDGE === '1',
  loadgen: env.BENCH_LOADGEN ?? join(process.env.HOME ?? '/root', '.cache/session-mesh/bin/loadgen'),
  natsServer: env.BENCH_NATS_SERVER ?? join(process.env.HOME ?? '/root', '.cache/session-mesh/bin/nats-server'),
  short,
  // Short mode writes its JSON and markdown to a temporary folder (BENCH_OUT_DIR), never over the real ones.
  outDir: short ? resolve(env.BENCH_OUT_DIR || mkdtempSync(join(tmpdir(), 'session-mesh-bench-short-'))) : undefined,
  resultsPath: short ? undefined : resolve(ROOT, env.BENCH_RESULTS ?? 'bench/results/latest.json'),
  centrifugo: env.BENCH_CENTRIFUGO || undefined,
  centrifugoMissing: env.BENCH_CENTRIFUGO_MISSING || undefined,
  redisServer: env.BENCH_REDIS_SERVER || undefined,
  redisMissing: env.BENCH_REDIS_MISSING || undefined,
  stormConns: intEnv('BENCH_STORM_CONNS', 15000, 100, 19000),
  latencyRates: (envValue('BENCH_LATENCY_RATES') || '5000,10000,20000,40000,60000,80000,90000,100000,120000').split(',').map((x) => {
    const v = Number(x.trim());
    if (!Number.isInteger(v) || v < 100 || v > 1000000) throw new Error(`BENCH_LATENCY_RATES: ${x} is not an integer in [100, 1000000]`);
    return v;
  }),
  latencySeconds: intEnv('BENCH_LATENCY_SECONDS', 6, 1, 20),
  broadcastSockets: intEnv('BENCH_BROADCAST_SOCKETS', 10000, 100, 19000),
  broadcastBurst: intEnv('BENCH_BROADCAST_BURST', 100, 1, 1000),
  capacityConns: intEnv('BENCH_CAPACITY_CONNS', 100000, 1000, 300000),
  capacityEdges: intEnv('BENCH_CAPACITY_EDGES', 6, 1, 40),
  capacityFill: intEnv('BENCH_CAPACITY_FILL', 19000, 100, 19500),
  propagationKills: intEnv('BENCH_PROPAGATION_KILLS', 200, 1, 5000),
  propagationBlacklists: intEnv('BENCH_PROPAGATION_BLACKLISTS', 200, 1, 5000),
  propagationRate: intEnv('BENCH_PROPAGATION_RATE', 20, 1, 200),
  churnSeconds: intEnv('BENCH_CHURN_SECONDS', 180, 10, 1800),
  churnRate: intEnv('BENCH_CHURN_RATE', 300, 1, 5000),
  churnHeld: intEnv('BENCH_CHURN_HELD', 10000, 10, 19000),
  churnSockets: intEnv('BENCH_CHURN_SOCKETS', 2000, 10, 19000),
  merge: env.BENCH_MERGE === '1',
  maxLoad: Number(env.BENCH_MAX_LOAD ?? 2),
  loadWaitS: intEnv('BENCH_LOAD_WAIT_S', 120, 0, 900),
  // All waits together stay bounded, so a busy machine cannot push the default run past 25 minutes.
  loadWaitTotalS: intEnv('BENCH_LOAD_WAIT_TOTAL_S', 480, 0, 3600),
  // The longest wait for a quiet second before a measured window.
  quietMaxMs: intEnv('BENCH_QUIET_MAX_MS', 30000, 0, 120000),
};
if (cfg.short) {
  cfg.resultsPath = join(cfg.outDir, 'results.json');
  if (cfg.merge) throw new Error('BENCH_MERGE=1 does not go with the short mode (its results are not kept)');
}
for (const [what, path] of [['load generator', cfg.loadgen], ['nats-server', cfg.natsServer]]) {
  if (!existsSync(path)) throw new Error(`no ${what} at ${path}: run the bench through scripts/bench.sh (npm run bench), which builds or installs it`);
}
const known = new Set(DEFAULT_PHASES);
for (const p of cfg.phases) if (!known.has(p)) throw new Error(`BENCH_PHASES: unknown phase ${p} (known: ${[...known].join(', ')})`);

const logDir = env.BENCH_LOG_DIR ?? mkdtempSync(join(tmpdir(), 'session-mesh-bench-'));
mkdirSync(logDir, { recursive: true });
const procs = new Procs(logDir, env.BENCH_PIDFILE);
const secret = randomBytes(32).toString('base64url');
const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping every process this bench started`);
    await procs.stopAll(3000);
    process.exit(130);
  });
}

/** Args shared by every loadgen connect. */
function loadgenConnect(name, { urls, n, raw, reportMs = 1000, creditSocket, sources, extra = [], stdin = false }) {
  const args = ['connect', '-url', urls.join(','), '-n', String(n), '-max-duration', '8m', '-report-every', `${reportMs}ms`];
  args.push('-sources', String(sources ?? Math.max(1, Math.ceil(n / 10000))));
  if (raw) args.push('-raw', '-subprotocol', '');
  else args.push('-secret', secret);
  if (creditSocket) args.push('-credit-socket', creditSocket);
  return procs.start(name, cfg.loadgen, [...args, ...extra], { stdin });
}

/** Waits for the loadgen's ready line; throws when too few sockets opened, quoting the reasons. */
async function loadgenReady(lg, n, timeoutMs) {
  const ready = await lg.waitFor((m) => m.event === 'ready', timeoutMs, `all ${n} connection attempts resolved`);
  const summary = { opened: ready.opened, failed: ready.failed, connectMs: ready.connectMs, failures: ready.failures, samples: ready.samples };
  if (ready.opened < n) {
    throw new Error(`${lg.name}: only ${ready.opened} of ${n} sockets opened in ${ready.connectMs} ms; failures ${JSON.stringify(ready.failures)}; samples ${JSON.stringify(ready.samples).slice(0, 1500)}`);
  }
  return summary;
}

/**
 * One memory reading of a server: once RSS has stopped moving ("natural", what a process holds
 * left alone), then again after forced full GCs and a second settle ("gc": live data only).
 */
async function readMemory(srv, readStats = () => getJson(`${srv.base}/stats`)) {
  const natural = await settleRss(() => rssKiB(srv.proc.pid));
  const naturalStats = await readStats();
  await forceGc(srv.inspectPort);
  const gc = await settleRss(() => rssKiB(srv.proc.pid));
  const gcStats = await readStats();
  return { natural, naturalHeapUsed: naturalStats.heapUsed, gc, gcHeapUsed: gcStats.heapUsed, stats: gcStats };
}

/** Per-connection figures from two readMemory results. */
function perConnection(before, after, n) {
  return {
    rssBeforeKiB: before.gc.rssKiB,
    rssAfterKiB: after.gc.rssKiB,
    heapUsedBefore: before.gcHeapUsed,
    heapUsedAfter: after.gcHeapUsed,
    kibPerConnection: (after.gc.rssKiB - before.gc.rssKiB) / n,
    heapBytesPerConnection: (after.gcHeapUsed - before.gcHeapUsed) / n,
    withoutForcedGc: {
      rssBeforeKiB: before.natural.rssKiB,
      rssAfterKiB: after.natural.rssKiB,
      kibPerConnection: (after.natural.rssKiB - before.natural.rssKiB) / n,
      heapBytesPerConnection: (after.naturalHeapUsed - before.naturalHeapUsed) / n,
    },
    settle: { before: { natural: before.natural, gc: before.gc }, after: { natural: after.natural, gc: after.gc } },
  };
}

async function phaseMemoryRaw(tmp) {
  const srv = await startRaw(procs, { root: ROOT, inspect: true });
  const before = await readMemory(srv);
  const lg = loadgenConnect('loadgen-memory-raw', { urls: [srv.url], n: cfg.conns, raw: true });
  const connect = await loadgenReady(lg, cfg.conns, 120000);
  const after = await readMemory(srv);
  const lgRss = rssKiB(lg.pid);
  await lg.stop();
  await srv.proc.stop();
  return {
    connections: after.stats.connections,
    connect,
    ...perConnection(before, after, cfg.conns),
    loadgenRssKiB: lgRss,
    loadgenKiBPerSocket: lgRss / cfg.conns,
    binary: srv.binary,
  };
}

async function natsCounts(monitor) {
  const [varz, subsz] = await Promise.all([getJson(`${monitor}/varz`), getJson(`${monitor}/subsz`)]);
  return {
    rssBytes: varz.mem,
    slowConsumers: varz.slow_consumers,
    inMsgs: varz.in_msgs,
    outMsgs: varz.out_msgs,
    connections: varz.connections,
    subscriptions: subsz.num_subscriptions,
  };
}

async function phaseMemoryEdge(tmp) {
  const nats = await startNats(procs, { bin: cfg.natsServer, dir: join(tmp, 'nats-memory') });
  const edge = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: 'bench-edge-mem', inspect: true });
  const before = await readMemory(edge);
  const nats0 = { rssKiB: rssKiB(nats.proc.pid), ...(await natsCounts(nats.monitor)) };
  const lg = loadgenConnect('loadgen-memory-edge', { urls: [edge.url], n: cfg.conns, raw: false });
  const connect = await loadgenReady(lg, cfg.conns, 180000);
  const after = await readMemory(edge);
  const nats1 = { rssKiB: rssKiB(nats.proc.pid), ...(await natsCounts(nats.monitor)) };
  const lgRss = rssKiB(lg.pid);
  await lg.stop();
  await edge.proc.stop();
  await nats.proc.stop();
  const warnings = edgeWarnings(edge.proc);
  return {
    connections: after.stats.connections,
    connect,
    connectsPerSecond: cfg.conns / (connect.connectMs / 1000),
    ...perConnection(before, after, cfg.conns),
    edgeStatsAfter: after.stats,
    edgeLogWarnings: warnings,
    nats: {
      before: nats0,
      after: nats1,
      kibPerConnection: (nats1.rssKiB - nats0.rssKiB) / cfg.conns,
      subscriptionsPerConnection: (nats1.subscriptions - nats0.subscriptions) / cfg.conns,
    },
    loadgenRssKiB: lgRss,
    loadgenKiBPerSocket: lgRss / cfg.conns,
  };
}

/**
 * Waits until the loadgen's push count reaches target or stops moving for quietMs; returns the
 * count and when (performance.now()) it last changed. Bounded by maxMs.
 */
/** Memory per idle connection of the single-process mesh (`npm start`: every role, in-process bus), same load as memory-edge. */
async function phaseMemoryMesh() {
  buildService('mesh');
  const mesh = await startMesh(procs, { root: ROOT, secret, id: 'bench-mesh-mem', inspect: true });
  const before = await readMemory(mesh);
  const lg = loadgenConnect('loadgen-memory-mesh', { urls: [mesh.url], n: cfg.conns, raw: false });
  const connect = await loadgenReady(lg, cfg.conns, 180000);
  const after = await readMemory(mesh);
  await lg.stop();
  await mesh.proc.stop();
  return { connections: after.stats.connections, connect, connectsPerSecond: cfg.conns / (connect.connectMs / 1000), ...perConnection(before, after, cfg.conns), meshLogWarnings: edgeWarnings(mesh.proc) };
}

async function drain(lg, target, { quietMs = 1500, maxMs = 20000 } = {}) {
  const t0 = performance.now();
  let last = -1;
  let lastChange = t0;
  for (;;) {
    const s = lg.latest((m) => m.event === 'stats' || m.event === 'ready');
    const v = s?.pushes ?? 0;
    const now = performance.now();
    if (v !== last) {
      last = v;
      lastChange = now;
    }
    if (v >= target) return { pushes: v, at: lastChange, complete: true };
    if (now - lastChange > quietMs || now - t0 > maxMs) return { pushes: v, at: lastChange, complete: false };
    await sleep(50);
  }
}

/** Warnings and errors an edge logged (pino JSON lines, level >= 40), at most `max` of them. */
function edgeWarnings(proc, max = 10) {
  const out = [];
  for (const line of readLog(proc).split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line);
      if (entry.level >= 40) out.push({ edge: proc.name, ...entry });
    } catch {
      // not JSON
    }
    if (out.length >= max) break;
  }
  return out;
}

/**
 * The measured window of a push phase: the publisher (paused after its warm-up) is told to go, runs
 * its timed run, and the window ends at the last delivery the load generator counts.
 */
async function measuredRun(lg, pub, pids, { seconds = cfg.pushSeconds, readBase } = {}) {
  // The publisher is paused: the count is still, and the next stats line (100 ms) is current.
  const base = readBase ? await readBase() : (await lg.waitFor((m) => m.event === 'stats', 5000, 'a stats line', lg.messages.length)).pushes;
  const cpu0 = cpuSnapshot(pids);
  const busy0 = machineBusyUs();
  const t0 = performance.now();
  pub.send('go');
  const done = await pub.waitFor((m) => m.event === 'done', (seconds + 60) * 1000, 'the measured publishing run to end');
  const drained = await drain(lg, base + done.published);
  const delta = cpuDelta(cpu0, cpuSnapshot(pids));
  return { base, t0, done, drained, delta, busy: machineBusyUs() - busy0 };
}

/** What every push phase reports about its measured window (publisher's "done", the drain, CPU). */
function pushFigures({ connect, warmed, done, drained, base, t0, delta, busy, quiet }) {
  const delivered = drained.pushes - base;
  const seconds = (drained.at - t0) / 1000;
  return {
    connect,
    warmup: warmed,
    published: done.published,
    publisherSeconds: done.elapsedMs / 1000,
    publisherStalls: { count: done.stalls, ms: done.stallMs, window: cfg.window },
    delivered,
    lost: done.published - delivered,
    drainComplete: drained.complete,
    seconds,
    deliveriesPerSecond: delivered / seconds,
    cpu: perDelivery(delta, delivered),
    cpuCoresBusy: Object.fromEntries(Object.entries(delta).map(([k, d]) => [k, d.total / 1e6 / seconds])),
    otherProcessesCoresBusy: otherCores(busy, delta, (performance.now() - t0) / 1000),
    quietBefore: quiet,
  };
}

/** Per-delivery CPU figures (µs) from a cpuDelta. */
function perDelivery(delta, deliveries) {
  const out = {};
  for (const [name, d] of Object.entries(delta)) {
    out[name] = {
      cpuUs: d.total,
      usPerDelivery: d.total / deliveries,
      userUsPerDelivery: d.user / deliveries,
      systemUsPerDelivery: d.system / deliveries,
    };
  }
  return out;
}

async function phasePushEdge(tmp) {
  const nats = await startNats(procs, { bin: cfg.natsServer, dir: join(tmp, 'nats-push') });
  const edgeA = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: 'bench-edge-a' });
  const edgeB = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: 'bench-edge-b' });
  const users = cfg.pushUsersPerEdge * 2;
  const creditSocket = join(tmp, 'credit-edge.sock');
  const lg = loadgenConnect('loadgen-push-edge', { urls: [edgeA.url, edgeB.url], n: users, raw: false, reportMs: 100, creditSocket });
  const connect = await loadgenReady(lg, users, 120000);
  const pub = procs.start(
    'publisher',
    cfg.loadgen,
    [
      'publish', '-nats', nats.url, '-users', String(users), '-size', String(cfg.payloadBytes),
      '-duration', `${cfg.pushSeconds}s`, '-warmup', String(cfg.warmupPushes), '-window', String(cfg.window),
      '-credit-socket', creditSocket, '-wait-go',
      // Telemetry bench: pushes as a traced backend sends them (Mesh-Published-At, traceparent).
      ...(env.BENCH_PUSH_PUBLISHED_AT === '1' ? ['-published-at'] : []),
      ...(env.BENCH_PUSH_TRACEPARENT ? ['-traceparent', env.BENCH_PUSH_TRACEPARENT] : []),
    ],
    { stdin: true },
  );
  const warmed = await pub.waitFor((m) => m.event === 'warmed', 60000, 'the warm-up to finish');
  if (warmed.received < warmed.published) {
    log(`warm-up: ${warmed.received} of ${warmed.published} pushes received within 15 s`);
  }
  const pids = { edgeA: edgeA.proc.pid, edgeB: edgeB.proc.pid, nats: nats.proc.pid, loadgen: lg.pid, publisher: pub.pid };
  const quiet = await quietMachine(pids);
  const statsA0 = await getJson(`${edgeA.base}/stats`);
  const statsB0 = await getJson(`${edgeB.base}/stats`);
  const nats0 = await natsCounts(nats.monitor);
  const { base, t0, done, drained, delta, busy } = await measuredRun(lg, pub, pids);
  const statsA1 = await getJson(`${edgeA.base}/stats`);
  const statsB1 = await getJson(`${edgeB.base}/stats`);
  const nats1 = await natsCounts(nats.monitor);
  const lgFinal = lg.latest((m) => m.event === 'stats');
  const figures = pushFigures({ connect, warmed, done, drained, base, t0, delta, busy, quiet });
  const { delivered } = figures;
  const edgeCpu = delta.edgeA.total + delta.edgeB.total;
  const edgeUser = delta.edgeA.user + delta.edgeB.user;
  const edgeSystem = delta.edgeA.system + delta.edgeB.system;
  await pub.stop();
  await lg.stop();
  await Promise.all([edgeA.proc.stop(), edgeB.proc.stop()]);
  await nats.proc.stop();
  const warnings = [...edgeWarnings(edgeA.proc), ...edgeWarnings(edgeB.proc)];
  const deltaStats = (a, b) => ({ deliveries: (b.hub?.deliveries ?? NaN) - (a.hub?.deliveries ?? NaN), drops: (b.outbound?.drops ?? NaN) - (a.outbound?.drops ?? NaN) });
  return {
    usersPerEdge: cfg.pushUsersPerEdge,
    ...figures,
    edgeUsPerDelivery: edgeCpu / delivered,
    edgeUserUsPerDelivery: edgeUser / delivered,
    edgeSystemUsPerDelivery: edgeSystem / delivered,
    edgeStats: { a: deltaStats(statsA0, statsA1), b: deltaStats(statsB0, statsB1), aAfter: statsA1, bAfter: statsB1 },
    nats: {
      slowConsumers: nats1.slowConsumers - nats0.slowConsumers,
      inMsgs: nats1.inMsgs - nats0.inMsgs,
      outMsgs: nats1.outMsgs - nats0.outMsgs,
      subscriptions: nats1.subscriptions,
    },
    edgeLogWarnings: warnings,
    loadgenClosed: lgFinal?.closed ?? null,
    loadgenCloses: lgFinal?.closes ?? null,
  };
}

async function phasePushRaw() {
  const srv = await startRaw(procs, { root: ROOT });
  const n = cfg.pushUsersPerEdge * 2;
  const lg = loadgenConnect('loadgen-push-raw', { urls: [srv.url], n, raw: true, reportMs: 100 });
  const connect = await loadgenReady(lg, n, 120000);
  // Warm-up: one second of sends, then wait for the loadgen to catch up.
  await getJson(`${srv.base}/push?seconds=1&size=${cfg.payloadBytes}`, 30000);
  await drain(lg, Infinity, { quietMs: 500, maxMs: 10000 });
  const pids = { server: srv.proc.pid, loadgen: lg.pid };
  const quiet = await quietMachine(pids);
  const base = (await lg.waitFor((m) => m.event === 'stats', 5000, 'a stats line', lg.messages.length)).pushes;
  const cpu0 = cpuSnapshot(pids);
  const busy0 = machineBusyUs();
  const t0 = performance.now();
  const result = await getJson(`${srv.base}/push?seconds=${cfg.rawPushSeconds}&size=${cfg.payloadBytes}`, (cfg.rawPushSeconds + 30) * 1000);
  const attempted = result.sent + result.buffered;
  const drained = await drain(lg, base + attempted);
  const cpu1 = cpuSnapshot(pids);
  const busy1 = machineBusyUs();
  const delivered = drained.pushes - base;
  const seconds = (drained.at - t0) / 1000;
  const delta = cpuDelta(cpu0, cpu1);
  await lg.stop();
  await srv.proc.stop();
  return {
    sockets: n,
    connect,
    server: result,
    delivered,
    drainComplete: drained.complete,
    seconds,
    deliveriesPerSecond: delivered / seconds,
    cpu: perDelivery(delta, delivered),
    serverUsPerDelivery: delta.server.total / delivered,
    serverUserUsPerDelivery: delta.server.user / delivered,
    serverSystemUsPerDelivery: delta.server.system / delivered,
    cpuCoresBusy: Object.fromEntries(Object.entries(delta).map(([k, d]) => [k, d.total / 1e6 / seconds])),
    otherProcessesCoresBusy: otherCores(busy1 - busy0, delta, (performance.now() - t0) / 1000),
    quietBefore: quiet,
  };
}

/** Sends a command to a loadgen started with stdin and waits for its answer line. */
async function lgCommand(lg, cmd, event) {
  const from = lg.messages.length;
  lg.send(cmd);
  return lg.waitFor((m) => m.event === event, 5000, `the answer to "${cmd}"`, from);
}

/** Waits until a server's GET /stats reports no connection (the previous storm's sockets are gone). */
async function untilNoConnections(base, proc) {
  await until(async () => ((await getJson(`${base}/stats`)).connections === 0 ? true : undefined), { timeoutMs: 30000, intervalMs: 100, what: `${base}/stats connections 0`, proc });
}

/**
 * One connect storm: a fresh loadgen opens n sockets (256 handshakes in flight); server CPU from its
 * start to the last welcome (or 101), then the sockets are closed and the server emptied.
 */
async function stormRound(name, { url, urls = [url], n, raw, serverPids, server, extra, untilEmpty }) {
  const cpu0 = cpuSnapshot(serverPids);
  const t0 = performance.now();
  const lg = loadgenConnect(name, { urls, n, raw, sources: 4, extra });
  const ready = await loadgenReady(lg, n, 120000);
  const delta = cpuDelta(cpu0, cpuSnapshot(serverPids));
  const wallMs = performance.now() - t0;
  const lgReady = lg.latest((m) => m.event === 'ready');
  await lg.stop();
  await (untilEmpty ? untilEmpty() : untilNoConnections(server.base, server.proc));
  const perConnect = Object.fromEntries(Object.entries(delta).map(([k, d]) => [k, { usPerConnect: d.total / n, userUsPerConnect: d.user / n, systemUsPerConnect: d.system / n }]));
  return {
    connects: n,
    connectMs: ready.connectMs,
    wallMs,
    connectsPerSecond: n / (ready.connectMs / 1000),
    connectTime: lgReady.connectTime,
    cpu: perConnect,
    loadgenCpuUs: (lgReady.cpuUserUs ?? 0) + (lgReady.cpuSystemUs ?? 0),
  };
}

/** Warm-up storm (JIT, pools; not kept), then the measured one. */
async function storm(label, o) {
  await stormRound(`loadgen-storm-${label}-warmup`, { ...o, n: Math.min(2000, o.n) });
  const quiet = await quietMachine(o.serverPids, { maxMs: 15000 });
  const round = await stormRound(`loadgen-storm-${label}`, o);
  const [main] = Object.keys(o.serverPids);
  const us = round.cpu[main].usPerConnect;
  return { ...round, serverUsPerConnect: us, connectsPerSecondPerCore: 1e6 / us, quietBefore: quiet };
}

async function phaseConnectEdge(tmp) {
  const n = cfg.stormConns;
  const nats = await startNats(procs, { bin: cfg.natsServer, dir: join(tmp, 'nats-storm') });
  const out = { connects: n, inFlight: 256 };
  const hs = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: 'bench-edge-storm-hs' });
  out.hs256 = await storm('hs256', { url: hs.url, n, raw: false, serverPids: { edge: hs.proc.pid, nats: nats.proc.pid }, server: hs });
  out.hs256.edgeLogWarnings = edgeWarnings(hs.proc);
  await hs.proc.stop();
  // ES256: the same edge verifying with a P-256 public key; the loadgen signs with its private key.
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(tmp, 'storm-es256.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const es = await startEdge(procs, {
    root: ROOT, natsUrl: nats.url, secret, id: 'bench-edge-storm-es',
    extraEnv: { MESH_JWT_SECRET: undefined, MESH_JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }), MESH_JWT_ALGORITHMS: 'ES256' },
  });
  out.es256 = await storm('es256', { url: es.url, n, raw: false, serverPids: { edge: es.proc.pid, nats: nats.proc.pid }, server: es, extra: ['-alg', 'ES256', '-key-file', keyFile] });
  out.es256.edgeLogWarnings = edgeWarnings(es.proc);
  await es.proc.stop();
  await nats.proc.stop();
  return out;
}

async function phaseConnectRaw() {
  const srv = await startRaw(procs, { root: ROOT });
  const out = { connects: cfg.stormConns, inFlight: 256, ...(await storm('raw', { url: srv.url, n: cfg.stormConns, raw: true, serverPids: { server: srv.proc.pid }, server: srv })) };
  await srv.proc.stop();
  return out;
}

/** Two edges and nats-server with n sockets on them, and a loadgen that answers snap commands. */
async function twoEdgesWithSockets(tmp, tag, n, { reportMs, creditSocket }) {
  const nats = await startNats(procs, { bin: cfg.natsServer, dir: join(tmp, `nats-${tag}`) });
  const edgeA = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: `bench-edge-${tag}-a` });
  const edgeB = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: `bench-edge-${tag}-b` });
  const lg = loadgenConnect(`loadgen-${tag}`, { urls: [edgeA.url, edgeB.url], n, raw: false, reportMs, creditSocket, stdin: true });
  const connect = await loadgenReady(lg, n, 120000);
  return { nats, edgeA, edgeB, lg, connect };
}

/**
 * Targeted pushes paced at rising rates (cfg.latencyRates unless `rates`) until a step saturates: a
 * fresh publisher per rate (`startPublisher(i, rate)`, warm-up on the first), end-to-end latency from
 * the loadgen's snap, CPU per delivery of the `servers` (summed) and of the `support` processes.
 */
async function latencyLadder(tag, { lg, startPublisher, pids, servers, support = [], rates = cfg.latencyRates }) {
  const steps = [];
  let quiet;
  for (const [i, rate] of rates.entries()) {
    const pub = startPublisher(i, rate);
    await pub.waitFor((m) => m.event === (i === 0 ? 'warmed' : 'connected'), 60000, i === 0 ? 'the warm-up to finish' : 'the publisher to connect');
    const all = { ...pids, publisher: pub.pid };
    if (i === 0) quiet = await quietMachine(all);
    // The snap resets the loadgen's latency histogram: the next one covers this step only.
    const readBase = async () => (await lgCommand(lg, 'snap', 'snap')).pushes;
    const { base, t0, done, drained, delta, busy } = await measuredRun(lg, pub, all, { seconds: cfg.latencySeconds, readBase });
    const snap = await lgCommand(lg, 'snap', 'snap');
    pub.send('exit');
    await pub.stop();
    const delivered = drained.pushes - base;
    const seconds = (drained.at - t0) / 1000;
    const sum = (names, f) => names.reduce((a, k) => a + f(delta[k]), 0);
    const serverCpu = sum(servers, (d) => d.total);
    const step = {
      offeredPerSecond: rate,
      publishedPerSecond: done.perSecond,
      published: done.published,
      delivered,
      lost: done.published - delivered,
      deliveriesPerSecond: delivered / seconds,
      latencyMs: snap.latency,
      serverUsPerDelivery: serverCpu / delivered,
      serverUserUsPerDelivery: sum(servers, (d) => d.user) / delivered,
      serverSystemUsPerDelivery: sum(servers, (d) => d.system) / delivered,
      supportUsPerDelivery: Object.fromEntries(support.map((k) => [k, delta[k].total / delivered])),
      serverCoresBusy: serverCpu / 1e6 / seconds,
      otherProcessesCoresBusy: otherCores(busy, delta, (performance.now() - t0) / 1000),
      publisherStalls: done.stalls,
    };
    // Saturated: the publisher could not keep the offered rate (the window of pushes in flight was full),
    // or the server no longer delivered it (pushes queued: latency grows without bound).
    step.saturated = done.perSecond < 0.95 * rate || step.deliveriesPerSecond < 0.97 * rate || step.lost > 0.01 * done.published;
    steps.push(step);
    const ms = (v) => (typeof v === 'number' ? v.toFixed(2) : 'n/a');
    log(`latency-${tag} ${rate}/s: ${Math.round(step.deliveriesPerSecond)} delivered/s, p50 ${ms(snap.latency.p50)} ms p99 ${ms(snap.latency.p99)} ms p999 ${ms(snap.latency.p999)} ms, server ${step.serverUsPerDelivery.toFixed(2)} us/delivery${step.saturated ? ' (saturated)' : ''}`);
    if (step.saturated) break;
  }
  return { steps, quiet };
}

async function phaseLatencyEdge(tmp) {
  const users = cfg.pushUsersPerEdge * 2;
  const creditSocket = join(tmp, 'credit-latency.sock');
  const { nats, edgeA, edgeB, lg, connect } = await twoEdgesWithSockets(tmp, 'latency', users, { reportMs: 20, creditSocket });
  const startPublisher = (i, rate) =>
    procs.start(
      `publisher-latency-${rate}`,
      cfg.loadgen,
      ['publish', '-nats', nats.url, '-users', String(users), '-size', String(cfg.payloadBytes), '-duration', `${cfg.latencySeconds}s`,
        '-rate', String(rate), '-warmup', String(i === 0 ? cfg.warmupPushes : 0), '-window', String(cfg.window), '-credit-socket', creditSocket, '-wait-go', '-seed', String(i + 1)],
      { stdin: true },
    );
  const pids = { edgeA: edgeA.proc.pid, edgeB: edgeB.proc.pid, nats: nats.proc.pid, loadgen: lg.pid };
  const ladder = await latencyLadder('edge', { lg, startPublisher, pids, servers: ['edgeA', 'edgeB'], support: ['nats'] });
  // The edge's figures keep their names (docs/benchmarks.md and earlier results use them).
  const steps = ladder.steps.map(({ serverUsPerDelivery, serverUserUsPerDelivery, serverSystemUsPerDelivery, supportUsPerDelivery, serverCoresBusy, ...rest }) => ({
    ...rest,
    edgeUsPerDelivery: serverUsPerDelivery,
    edgeUserUsPerDelivery: serverUserUsPerDelivery,
    edgeSystemUsPerDelivery: serverSystemUsPerDelivery,
    natsUsPerDelivery: supportUsPerDelivery.nats,
    edgeCoresBusy: serverCoresBusy,
  }));
  await lg.stop();
  await Promise.all([edgeA.proc.stop(), edgeB.proc.stop()]);
  await nats.proc.stop();
  return { sockets: users, secondsPerStep: cfg.latencySeconds, window: cfg.window, connect, steps, quietBefore: ladder.quiet, edgeLogWarnings: [...edgeWarnings(edgeA.proc), ...edgeWarnings(edgeB.proc)] };
}

/**
 * The broadcast scenario on any server: `publish(count)` sends count broadcasts and resolves once
 * they are sent. Five single broadcasts (time until the last socket has it, from the publish stamp),
 * then a burst of cfg.broadcastBurst: deliveries per second and server CPU per delivery.
 */
async function broadcastRuns(lg, n, publish, pids, prepare) {
  const single = async () => {
    const base = (await lgCommand(lg, 'snap', 'snap')).pushes;
    await publish(1);
    const drained = await drain(lg, base + n, { quietMs: 3000, maxMs: 15000 });
    const snap = await lgCommand(lg, 'snap', 'snap');
    return { delivered: snap.pushes - base, complete: drained.complete, latencyMs: snap.latency };
  };
  await single(); // warm-up
  const singles = [];
  for (let i = 0; i < 5; i++) singles.push(await single());
  const lastMs = singles.map((x) => x.latencyMs.max).sort((a, b) => a - b);
  await publish(Math.min(10, cfg.broadcastBurst)); // warm-up burst
  await drain(lg, Infinity, { quietMs: 500, maxMs: 15000 });
  const quiet = await quietMachine(pids, { maxMs: 15000 });
  const base = (await lgCommand(lg, 'snap', 'snap')).pushes;
  // prepare: a publisher started beforehand, so its start-up is not in the measured window.
  const go = prepare ? await prepare(cfg.broadcastBurst) : () => publish(cfg.broadcastBurst);
  const cpu0 = cpuSnapshot(pids);
  const busy0 = machineBusyUs();
  const t0 = performance.now();
  await go();
  const drained = await drain(lg, base + cfg.broadcastBurst * n, { quietMs: 3000, maxMs: 60000 });
  const delta = cpuDelta(cpu0, cpuSnapshot(pids));
  const busy = machineBusyUs() - busy0;
  const snap = await lgCommand(lg, 'snap', 'snap');
  const delivered = snap.pushes - base;
  const seconds = (drained.at - t0) / 1000;
  return {
    sockets: n,
    single: { runs: singles, lastSocketMsMedian: lastMs[Math.floor(lastMs.length / 2)], lastSocketMsMax: lastMs[lastMs.length - 1] },
    burst: {
      publishes: cfg.broadcastBurst,
      expected: cfg.broadcastBurst * n,
      delivered,
      complete: delivered >= cfg.broadcastBurst * n,
      seconds,
      deliveriesPerSecond: delivered / seconds,
      latencyMs: snap.latency,
      cpu: perDelivery(delta, delivered),
      otherProcessesCoresBusy: otherCores(busy, delta, (performance.now() - t0) / 1000),
      quietBefore: quiet,
    },
  };
}

/**
 * broadcastRuns' publish(count) and prepare(count) from start(count, waitGo), which starts a publisher
 * process: publish runs one to its end; prepare starts one (connected, waiting for "go") before the
 * measured window and returns what sends it.
 */
function broadcastPublisher(start) {
  const publish = async (count) => {
    const pub = start(count, false);
    await pub.waitFor((m) => m.event === 'done', 30000, 'the broadcast publish');
    await pub.exited;
  };
  const prepare = async (count) => {
    const pub = start(count, true);
    await pub.waitFor((m) => m.event === 'connected', 30000, 'the broadcast publisher to connect');
    return async () => {
      pub.send('go');
      await pub.waitFor((m) => m.event === 'done', 30000, 'the broadcast burst');
      pub.send('exit');
      await pub.exited;
    };
  };
  return { publish, prepare };
}

async function phaseBroadcastEdge(tmp) {
  const n = cfg.broadcastSockets;
  const { nats, edgeA, edgeB, lg, connect } = await twoEdgesWithSockets(tmp, 'broadcast', n, { reportMs: 20 });
  let k = 0;
  const { publish, prepare } = broadcastPublisher((count, waitGo) =>
    procs.start(
      `publisher-broadcast-${++k}`,
      cfg.loadgen,
      ['publish', '-nats', nats.url, '-subject', 'mesh.push.all', '-users', '1', '-size', String(cfg.payloadBytes), '-count', String(count), '-duration', '30s', ...(waitGo ? ['-wait-go'] : [])],
      { stdin: waitGo },
    ),
  );
  const pids = { edgeA: edgeA.proc.pid, edgeB: edgeB.proc.pid, nats: nats.proc.pid, loadgen: lg.pid };
  const runs = await broadcastRuns(lg, n, publish, pids, prepare);
  const lgFinal = await lgCommand(lg, 'snap', 'snap');
  const statsA = await getJson(`${edgeA.base}/stats`);
  const statsB = await getJson(`${edgeB.base}/stats`);
  await lg.stop();
  await Promise.all([edgeA.proc.stop(), edgeB.proc.stop()]);
  await nats.proc.stop();
  const c = runs.burst.cpu;
  const serverUs = (c.edgeA.cpuUs + c.edgeB.cpuUs) / runs.burst.delivered;
  return {
    ...runs,
    connect,
    edges: 2,
    publisherKind: 'Go, nats.go, one message on mesh.push.all per broadcast (a process per publish call)',
    serverUsPerDelivery: serverUs,
    natsUsPerDelivery: c.nats.usPerDelivery,
    openAtEnd: lgFinal.open,
    edgeDrops: (statsA.outbound?.drops ?? 0) + (statsB.outbound?.drops ?? 0),
    edgeLogWarnings: [...edgeWarnings(edgeA.proc), ...edgeWarnings(edgeB.proc)],
  };
}

async function phaseBroadcastRaw() {
  const n = cfg.broadcastSockets;
  const srv = await startRaw(procs, { root: ROOT, broadcast: true });
  const lg = loadgenConnect('loadgen-broadcast-raw', { urls: [srv.url], n, raw: true, reportMs: 20, stdin: true });
  const connect = await loadgenReady(lg, n, 120000);
  const publish = (count) => getJson(`${srv.base}/broadcast?count=${count}&size=${cfg.payloadBytes}`, 30000);
  const runs = await broadcastRuns(lg, n, publish, { server: srv.proc.pid, loadgen: lg.pid });
  const lgFinal = await lgCommand(lg, 'snap', 'snap');
  await lg.stop();
  await srv.proc.stop();
  return { ...runs, connect, serverUsPerDelivery: runs.burst.cpu.server.usPerDelivery, openAtEnd: lgFinal.open, publisherKind: 'app.publish in the server process (GET /broadcast)' };
}

function peerCtx(tmp) {
  return {
    procs, root: ROOT, loadgen: cfg.loadgen, natsServer: cfg.natsServer, tmp, secret, payloadBytes: cfg.payloadBytes,
    centrifugo: cfg.centrifugo, centrifugoMissing: cfg.centrifugoMissing, redisServer: cfg.redisServer, redisMissing: cfg.redisMissing,
  };
}

/** A loadgen connect for a peer: same counts, source addresses and report period as the edge's. */
function loadgenPeer(name, peer, { n, reportMs = 1000, creditSocket, extra = [], stdin = false }) {
  const args = ['connect', '-url', peer.urls.join(','), '-n', String(n), '-max-duration', '8m', '-report-every', `${reportMs}ms`];
  args.push('-sources', String(Math.max(1, Math.ceil(n / 10000))), ...peer.loadgenArgs);
  if (creditSocket) args.push('-credit-socket', creditSocket);
  return procs.start(name, cfg.loadgen, [...args, ...extra], { stdin });
}

/** Memory of every server process of a peer: left alone, then after forced full GCs. */
async function readPeerMemory(peer) {
  const natural = await Promise.all(peer.servers.map((s) => settleRss(() => rssKiB(s.pid))));
  await peer.gc();
  const gc = await Promise.all(peer.servers.map((s) => settleRss(() => rssKiB(s.pid))));
  const stats = await Promise.all(peer.servers.map((s) => (s.readStats ? s.readStats().catch(() => undefined) : undefined)));
  return { natural, gc, stats };
}

async function phaseMemoryPeer(kind, tmp) {
  const peer = await startPeer(kind, peerCtx(tmp));
  try {
    const before = await readPeerMemory(peer);
    const support0 = Object.fromEntries(Object.entries(peer.support).map(([k, pid]) => [k, rssKiB(pid)]));
    const lg = loadgenPeer(`loadgen-memory-${kind}`, peer, { n: cfg.conns });
    const connect = await loadgenReady(lg, cfg.conns, 180000);
    const after = await readPeerMemory(peer);
    const support1 = Object.fromEntries(Object.entries(peer.support).map(([k, pid]) => [k, rssKiB(pid)]));
    const lgRss = rssKiB(lg.pid);
    await lg.stop();
    // The loadgen splits users over the URLs in contiguous blocks: n / servers each (the last takes the rest).
    const share = (i) => (i < peer.servers.length - 1 ? Math.floor(cfg.conns / peer.servers.length) : cfg.conns - Math.floor(cfg.conns / peer.servers.length) * (peer.servers.length - 1));
    const servers = peer.servers.map((s, i) => {
      const conns = after.stats[i]?.connections ?? share(i);
      return {
        name: s.name,
        connections: conns,
        rssBeforeKiB: before.gc[i].rssKiB,
        rssAfterKiB: after.gc[i].rssKiB,
        kibPerConnection: (after.gc[i].rssKiB - before.gc[i].rssKiB) / conns,
        kibPerConnectionLeftAlone: (after.natural[i].rssKiB - before.natural[i].rssKiB) / conns,
        heapBytesPerConnection: after.stats[i] && before.stats[i] ? (after.stats[i].heapUsed - before.stats[i].heapUsed) / conns : undefined,
        settled: after.gc[i].settled && after.natural[i].settled,
      };
    });
    const sum = (arr, f) => arr.reduce((a, x, i) => a + f(x, i), 0);
    return {
      label: peer.label,
      connections: cfg.conns,
      connect,
      connectsPerSecond: cfg.conns / (connect.connectMs / 1000),
      gcMethod: peer.gcMethod,
      servers,
      // All server processes together, per connection of the run (what the edge's figure means).
      kibPerConnection: sum(peer.servers, (_, i) => after.gc[i].rssKiB - before.gc[i].rssKiB) / cfg.conns,
      withoutForcedGc: { kibPerConnection: sum(peer.servers, (_, i) => after.natural[i].rssKiB - before.natural[i].rssKiB) / cfg.conns },
      heapBytesPerConnection: servers.every((x) => x.heapBytesPerConnection !== undefined) ? sum(servers, (x) => x.heapBytesPerConnection * x.connections) / cfg.conns : undefined,
      support: Object.fromEntries(Object.keys(peer.support).map((k) => [k, { rssBeforeKiB: support0[k], rssAfterKiB: support1[k], kibPerConnection: (support1[k] - support0[k]) / cfg.conns }])),
      loadgenRssKiB: lgRss,
      loadgenKiBPerSocket: lgRss / cfg.conns,
    };
  } finally {
    await peer.stop();
  }
}

async function phasePushPeer(kind, tmp) {
  const peer = await startPeer(kind, peerCtx(tmp));
  try {
    const users = cfg.pushUsersPerEdge * 2;
    const creditSocket = join(tmp, `credit-${kind}.sock`);
    const lg = loadgenPeer(`loadgen-push-${kind}`, peer, { n: users, reportMs: 100, creditSocket });
    const connect = await loadgenReady(lg, users, 120000);
    const pub = peer.publisher({ users, size: cfg.payloadBytes, seconds: cfg.pushSeconds, warmup: cfg.warmupPushes, window: cfg.window, creditSocket });
    const warmed = await pub.waitFor((m) => m.event === 'warmed', 90000, 'the warm-up to finish');
    if (warmed.received < warmed.published) log(`${kind} warm-up: ${warmed.received} of ${warmed.published} pushes received`);
    const serverPids = Object.fromEntries(peer.servers.map((s) => [s.name, s.pid]));
    const pids = { ...serverPids, ...peer.support, loadgen: lg.pid, publisher: pub.pid };
    const quiet = await quietMachine(pids);
    const loadAverage = readLoadAverage();
    const { base, t0, done, drained, delta, busy } = await measuredRun(lg, pub, pids);
    const lgFinal = lg.latest((m) => m.event === 'stats');
    const figures = pushFigures({ connect, warmed, done, drained, base, t0, delta, busy, quiet });
    const { delivered } = figures;
    const sumOf = (names, f) => names.reduce((a, k) => a + f(delta[k]), 0);
    const names = Object.keys(serverPids);
    pub.send('exit');
    await pub.stop();
    await lg.stop();
    return {
      label: peer.label,
      sockets: users,
      servers: names,
      publisherKind: peer.publisherKind,
      ...figures,
      serverUsPerDelivery: sumOf(names, (d) => d.total) / delivered,
      serverUserUsPerDelivery: sumOf(names, (d) => d.user) / delivered,
      serverSystemUsPerDelivery: sumOf(names, (d) => d.system) / delivered,
      supportUsPerDelivery: sumOf(Object.keys(peer.support), (d) => d.total) / delivered,
      loadAverage,
      loadgenClosed: lgFinal?.closed ?? null,
      loadgenCloses: lgFinal?.closes ?? null,
    };
  } finally {
    await peer.stop();
  }
}

/** Sockets each process may hold here: the 20,000 open-files limit, less room for its other files. */
const SOCKETS_PER_PROCESS = 19500;

/** Edges of the capacity topology: cfg.capacityEdges, more when a share would exceed SOCKETS_PER_PROCESS. */
function capacityServerCount() {
  return Math.max(cfg.capacityEdges, Math.ceil(cfg.capacityConns / SOCKETS_PER_PROCESS));
}

/** Sockets per target session in the edge's propagation phase (holdTargets' default for its edges). */
function edgeSocketsPerSession() {
  return 1 + Math.min(2, capacityServerCount() - 1);
}

/** The capacity topology's servers: one nats-server, one registry replica, enough edges for cfg.capacityConns (and the admin API when asked, started first: it creates the blacklist bucket). */
async function startCapacityServers(tmp, tag, { adminToken } = {}) {
  const edgeCount = capacityServerCount();
  buildRegistry();
  const nats = await startNats(procs, { bin: cfg.natsServer, dir: join(tmp, `nats-${tag}`) });
  const admin = adminToken ? await startAdmin(procs, { root: ROOT, natsUrl: nats.url, token: adminToken, id: `bench-admin-${tag}` }) : undefined;
  const registry = await startRegistry(procs, { root: ROOT, natsUrl: nats.url, id: `bench-registry-${tag}`, inspect: true });
  const edges = [];
  for (let i = 0; i < edgeCount; i++) edges.push(await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: `bench-edge-${tag === 'capacity' ? 'cap' : tag}-${i}`, inspect: true }));
  return { nats, admin, registry, edges, edgeCount };
}

/** One loadgen per edge, contiguous user blocks (-offset): distinct users u0..u(n-1) over all of them; waits until every attempt resolved. */
async function connectCapacityLoadgens(edges, n, tag, { stdin = false, reportMs, extra = [] } = {}) {
  const shares = edges.map((_, i) => Math.floor((n * (i + 1)) / edges.length) - Math.floor((n * i) / edges.length));
  const offsets = shares.map((_, i) => shares.slice(0, i).reduce((a, b) => a + b, 0));
  const t0 = performance.now();
  const lgs = edges.map((e, i) => loadgenConnect(`loadgen-${tag}-${i}`, { urls: [e.url], n: shares[i], raw: false, sources: 4, stdin, reportMs, extra: ['-offset', String(offsets[i]), ...extra] }));
  const readies = await Promise.all(lgs.map((lg) => lg.waitFor((m) => m.event === 'ready', 300000, 'all connection attempts resolved')));
  const connectWallMs = performance.now() - t0;
  const opened = readies.reduce((a, r) => a + r.opened, 0);
  const failed = readies.reduce((a, r) => a + r.failed, 0);
  const failures = readies.map((r) => r.failures).filter((f) => f && Object.keys(f).length > 0);
  log(`${tag}: ${opened} of ${n} sockets open in ${(connectWallMs / 1000).toFixed(1)} s (${failed} failed)`);
  return { shares, offsets, lgs, readies, connectWallMs, opened, failed, failures };
}

/**
 * Idle capacity (issue 12, scenario 1): cfg.capacityConns authenticated sessions (one socket and one
 * user each) held at once over several edges on one nats-server, with one registry replica keeping
 * their presence; one loadgen per edge (each under its own open-files limit, spread over 4 source
 * addresses). Then one fresh edge filled with cfg.capacityFill sockets, close to its limit.
 */
async function phaseCapacity(tmp) {
  const n = cfg.capacityConns;
  const { nats, registry, edges, edgeCount } = await startCapacityServers(tmp, 'capacity');
  const readRegistry = () => readMemory(registry, () => registryMetrics(registry.base));
  const [edgesBefore, registryBefore] = await Promise.all([Promise.all(edges.map((e) => readMemory(e))), readRegistry()]);
  const jetstream = () => jetStreamCounts(nats.monitor);
  const nats0 = { rssKiB: rssKiB(nats.proc.pid), ...(await natsCounts(nats.monitor)), jetstream: await jetstream() };

  const t0 = performance.now();
  const { shares, lgs, readies, connectWallMs, opened, failed, failures } = await connectCapacityLoadgens(edges, n, 'capacity');
  // Presence against the truth: the registry's count once it has processed every connect event.
  let registrySeen;
  const registryCount = await until(
    async () => {
      registrySeen = (await registryMetrics(registry.base)).connections;
      return registrySeen === opened ? registrySeen : undefined;
    },
    { timeoutMs: 60000, intervalMs: 250, what: `the registry to count ${opened} connections`, proc: registry.proc },
  ).catch(() => registrySeen);
  const registryCaughtUpMs = performance.now() - t0;
  const [edgesAfter, registryAfter] = await Promise.all([Promise.all(edges.map((e) => readMemory(e))), readRegistry()]);
  const nats1 = { rssKiB: rssKiB(nats.proc.pid), ...(await natsCounts(nats.monitor)), jetstream: await jetstream() };
  const edgeConnections = edgesAfter.reduce((a, m) => a + m.stats.connections, 0);
  const loadgenKiB = lgs.reduce((a, lg) => a + rssKiB(lg.pid), 0);
  const sum = (list, f) => list.reduce((a, m) => a + f(m), 0);
  const edgeSum = (list) => ({
    natural: { rssKiB: sum(list, (m) => m.natural.rssKiB) },
    naturalHeapUsed: sum(list, (m) => m.naturalHeapUsed),
    gc: { rssKiB: sum(list, (m) => m.gc.rssKiB) },
    gcHeapUsed: sum(list, (m) => m.gcHeapUsed),
  });
  const { settle: _s, ...edgesPer } = perConnection(edgeSum(edgesBefore), edgeSum(edgesAfter), opened);
  const warnings = edges.flatMap((e) => edgeWarnings(e.proc, 3));
  const { settle: registrySettle, ...registryPer } = perConnection(registryBefore, registryAfter, opened);
  await Promise.all(lgs.map((lg) => lg.stop()));
  await Promise.all([...edges.map((e) => e.proc.stop()), registry.proc.stop()]);
  const out = {
    connections: n,
    edges: edgeCount,
    loadgens: lgs.length,
    sourcesPerLoadgen: 4,
    perEdge: shares,
    opened,
    failed,
    failures,
    connectMs: Math.max(...readies.map((r) => r.connectMs)),
    connectWallMs,
    connectsPerSecond: opened / (connectWallMs / 1000),
    edgeConnections,
    edgesMemory: { ...edgesPer, perEdgeKiBAfterGc: edgesAfter.map((m, i) => (m.gc.rssKiB - edgesBefore[i].gc.rssKiB) / shares[i]), settled: edgesAfter.every((m) => m.natural.settled && m.gc.settled) },
    nats: {
      before: nats0,
      after: nats1,
      kibPerConnection: (nats1.rssKiB - nats0.rssKiB) / opened,
      subscriptionsPerConnection: (nats1.subscriptions - nats0.subscriptions) / opened,
    },
    registry: {
      ...registryPer,
      settled: registrySettle.after.natural.settled && registrySettle.after.gc.settled,
      connectionsCounted: registryAfter.stats.connections,
      usersCounted: registryAfter.stats.users,
      sessionsCounted: registryAfter.stats.sessions,
      countMatched: registryCount === opened && registryAfter.stats.connections === opened,
      caughtUpMs: registryCount === opened ? registryCaughtUpMs : undefined,
    },
    loadgenKiBPerSocket: loadgenKiB / opened,
    edgeLogWarnings: warnings,
  };
  if (opened < n) throw new Error(`capacity: only ${opened} of ${n} sockets opened (${failed} failed: ${JSON.stringify(failures).slice(0, 800)})`);

  // One edge filled close to its open-files limit, on the same nats-server.
  const fillN = cfg.capacityFill;
  const full = await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: 'bench-edge-fill', inspect: true });
  const fillBefore = await readMemory(full);
  const lg = loadgenConnect('loadgen-capacity-fill', { urls: [full.url], n: fillN, raw: false, sources: 4, extra: ['-offset', String(n)] });
  const fillConnect = await loadgenReady(lg, fillN, 180000);
  const fillAfter = await readMemory(full);
  const openFiles = readdirSync(`/proc/${full.proc.pid}/fd`).length;
  await lg.stop();
  await full.proc.stop();
  await nats.proc.stop();
  const { settle: _f, ...fillPer } = perConnection(fillBefore, fillAfter, fillN);
  out.fill = { connections: fillAfter.stats.connections, requested: fillN, connect: fillConnect, openFiles, openFilesLimit: openFilesLimit(), ...fillPer };
  return out;
}

/**
 * Target sessions for propagation: the first `perEdge` sessions of each server's block (main: from
 * connectCapacityLoadgens) also connect to the next two servers (client ids c1-<u>, c2-<u>), so each is
 * held by three sockets on three servers; with two servers, two sockets; with one, one (unless `sockets`
 * asks for more: the extra sockets then go to that same server).
 * Returns the targets in call order ({ user, lgs }), interleaved over the servers.
 */
async function holdTargets(servers, main, count, tag, { extra = [], sockets = 1 + Math.min(2, servers.length - 1) } = {}) {
  const E = servers.length;
  const extraSockets = sockets - 1;
  const perEdge = Math.ceil(count / E);
  if (perEdge > Math.min(...main.shares)) throw new Error(`${tag}: ${perEdge} targets per server exceed a server's ${Math.min(...main.shares)} sessions`);
  const extras = servers.map((_, i) =>
    Array.from({ length: extraSockets }, (_, k) => {
      const to = E === 1 ? 0 : (i + k + 1) % E;
      return loadgenConnect(`loadgen-${tag}-${i}-on-${to}-${k + 1}`, {
        urls: [servers[to].url], n: perEdge, raw: false, sources: 1, stdin: true, reportMs: 500,
        // A peer's own arguments come last: they drop the client id, which only the edge reads.
        extra: ['-offset', String(main.offsets[i]), '-client-prefix', `c${k + 1}-`, ...extra],
      });
    }),
  );
  for (const lg of extras.flat()) await loadgenReady(lg, perEdge, 60000);
  const targets = [];
  for (let j = 0; j < perEdge; j++) for (let i = 0; i < E; i++) targets.push({ user: main.offsets[i] + j, lgs: [main.lgs[i], ...extras[i]] });
  return { targets, perEdge, extras, socketsPerSession: sockets };
}

/**
 * Kill and blacklist propagation (issue 12, scenario 5): the capacity topology (cfg.capacityConns
 * sessions over the edges, one socket each) plus the admin API, which creates the blacklist bucket.
 * Target sessions get two more sockets (same session, other client ids) on the next two edges, so
 * each is held by three edges. One target at a time, spaced at cfg.propagationRate per second: the
 * loadgens holding its sockets are marked, the admin call goes out, and the time is until the last
 * of the three sockets has its close frame (loadgen clock from the mark; the bench's clock from the
 * mark's answer to the request, so the figure is an upper bound by at most the mark's round trip).
 */
async function phasePropagation(tmp) {
  buildService('admin');
  const token = randomBytes(24).toString('base64url');
  const n = cfg.capacityConns;
  const { admin, registry, edges } = await startCapacityServers(tmp, 'prop', { adminToken: token });
  const main = await connectCapacityLoadgens(edges, n, 'propagation', { stdin: true, reportMs: 500 });
  if (main.opened < n) throw new Error(`propagation: only ${main.opened} of ${n} sockets opened (${main.failed} failed: ${JSON.stringify(main.failures).slice(0, 800)})`);
  const { targets, perEdge, extras, socketsPerSession } = await holdTargets(edges, main, cfg.propagationKills + cfg.propagationBlacklists, 'prop');
  const E = edges.length;
  const extraEdges = socketsPerSession - 1;
  // Presence settled before measuring: the registry counts every socket.
  const total = n + perEdge * E * extraEdges;
  await until(async () => ((await registryMetrics(registry.base)).connections === total ? true : undefined), { timeoutMs: 60000, intervalMs: 250, what: `the registry to count ${total} connections`, proc: registry.proc });
  const headers = { authorization: `Bearer ${token}` };
  const checked = (kind, status, send) => async (sid) => {
    const res = await send(sid);
    if (res.status !== status) throw new Error(`propagation: ${kind} of ${sid}: HTTP ${res.status} (want ${status}): ${(await res.text()).slice(0, 300)}`);
    await res.arrayBuffer();
  };
  const kinds = [
    { kind: 'kill', count: cfg.propagationKills, call: checked('kill', 202, (sid) => fetch(`${admin.base}/v1/sessions/${sid}/kill`, { method: 'POST', headers, signal: AbortSignal.timeout(10000) })) },
    {
      kind: 'blacklist', count: cfg.propagationBlacklists,
      call: checked('blacklist', 201, (sid) => fetch(`${admin.base}/v1/blacklist/sessions`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ sessionId: sid, ttlSeconds: 3600, reason: 'bench propagation' }), signal: AbortSignal.timeout(10000) })),
    },
  ];
  const out = { sessions: n, edges: E, socketsPerSession, targetsPerEdge: perEdge, ratePerSecond: cfg.propagationRate, connectWallMs: main.connectWallMs };
  const time = propagationTimer(cfg.propagationRate);
  let next = 0;
  for (const { kind, count, call } of kinds) {
    const batch = targets.slice(next, (next += count)).map((t) => ({ id: `s${t.user}`, lgs: t.lgs }));
    out[kind] = await time(batch, call);
    log(`propagation: ${kind}: last socket closed p50 ${out[kind].lastSocketClosedMs.p50?.toFixed(1)} ms, p99 ${out[kind].lastSocketClosedMs.p99?.toFixed(1)} ms, max ${out[kind].lastSocketClosedMs.max?.toFixed(1)} ms; answer p99 ${out[kind].answerMs.p99?.toFixed(1)} ms; ${out[kind].misses} missed`);
  }
  // Close codes as the loadgens counted them (their next stats lines).
  const all = [...main.lgs, ...extras.flat()];
  const closes = await closeReasons(all);
  const byCode = (code) => Object.entries(closes).filter(([r]) => r.startsWith(`close frame ${code}`)).reduce((a, [, c]) => a + c, 0);
  out.closeReasons = closes;
  out.killedCloses = { code: 4005, counted: byCode(4005), expected: cfg.propagationKills * socketsPerSession };
  out.blacklistedCloses = { code: 4004, counted: byCode(4004), expected: cfg.propagationBlacklists * socketsPerSession };
  out.edgeLogWarnings = edges.flatMap((e) => edgeWarnings(e.proc, 3));
  await Promise.all(all.map((lg) => lg.stop()));
  return out;
}

/** scripts/bench.sh builds the edge only; the registry and the admin API are built here (incremental: quick when up to date). */
function buildService(name) {
  try {
    execFileSync('npx', ['--no-install', 'tsc', '-b', `services/${name}`], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`the ${name} service does not build (npx tsc -b services/${name}): ${`${err.stdout ?? ''}${err.stderr ?? ''}`.slice(0, 1500) || err.message}`);
  }
}
const buildRegistry = () => buildService('registry');

/** This process's hard open-files limit (children inherit it). */
function openFilesLimit() {
  const m = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : undefined;
}

function readLoadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

/**
 * Before each phase: the 1-minute load average; above cfg.maxLoad, polls every 5 s until it drops
 * (at most cfg.loadWaitS) and records what it saw either way.
 */
let loadWaitedMs = 0;
async function waitForLoad(name) {
  const t0 = performance.now();
  const limitMs = Math.max(0, Math.min(cfg.loadWaitS * 1000, cfg.loadWaitTotalS * 1000 - loadWaitedMs));
  const first = readLoadAverage();
  let now = first;
  if (now[0] > cfg.maxLoad && limitMs > 0) log(`phase ${name}: load average ${now[0]} > ${cfg.maxLoad}: waiting up to ${Math.round(limitMs / 1000)} s for it to drop`);
  while (now[0] > cfg.maxLoad && performance.now() - t0 < limitMs) {
    await sleep(5000);
    now = readLoadAverage();
  }
  loadWaitedMs += performance.now() - t0;
  const waitedS = Math.round((performance.now() - t0) / 1000);
  if (now[0] > cfg.maxLoad) log(`phase ${name}: load average still ${now[0]} after ${waitedS} s; measuring anyway`);
  return { atCheck: first, atStart: now, waitedS, belowLimit: now[0] <= cfg.maxLoad, limit: cfg.maxLoad };
}

/**
 * Before a measured window: waits (at most maxMs) for a second in which processes this bench did
 * not start keep less than `limit` cores busy. On a shared 2-core machine this keeps a test suite
 * running next door from halving the numbers; when it never gets quiet the run goes on and says so.
 */
async function quietMachine(pids, { limit = 0.25, maxMs = 30000 } = {}) {
  maxMs = Math.min(maxMs, cfg.quietMaxMs);
  const t0 = performance.now();
  let other = Infinity;
  while (performance.now() - t0 < maxMs) {
    const c0 = cpuSnapshot(pids);
    const b0 = machineBusyUs();
    const w0 = performance.now();
    await sleep(1000);
    other = otherCores(machineBusyUs() - b0, cpuDelta(c0, cpuSnapshot(pids)), (performance.now() - w0) / 1000);
    if (other < limit) return { quiet: true, otherCores: other, waitedMs: Math.round(performance.now() - t0) };
  }
  log(`the machine stayed busy: other processes kept ${other.toFixed(2)} cores busy; measuring anyway`);
  return { quiet: false, otherCores: other, waitedMs: Math.round(performance.now() - t0) };
}

/**
 * Cores kept busy by processes this bench did not start (and the kernel's own threads) over a
 * measured window: on a shared 2-core machine, a number that says whether the run was disturbed.
 */
function otherCores(machineUs, delta, seconds) {
  const ours = Object.values(delta).reduce((a, d) => a + d.total, 0);
  return Math.max(0, (machineUs - ours) / 1e6 / seconds);
}

function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT }).trim();
  } catch {
    return undefined;
  }
}

function socketIoVersions() {
  const out = {};
  for (const name of ['socket.io', '@socket.io/redis-adapter', '@socket.io/redis-emitter', 'redis']) {
    try {
      out[name] = JSON.parse(readFileSync(join(ROOT, 'bench/peers/socketio/node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      out[name] = undefined;
    }
  }
  return out;
}

function describeMachine() {
  const cpu = cpus();
  let os = undefined;
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    // not Linux
  }
  return { cpuModel: cpu[0]?.model, cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), os };
}

function describeVersions() {
  let uws;
  try {
    uws = JSON.parse(readFileSync(join(ROOT, 'node_modules/uWebSockets.js/package.json'), 'utf8'));
  } catch {
    uws = undefined;
  }
  const status = tryExec('git', ['status', '--porcelain', '--', 'services', 'libs']);
  return {
    node: process.version,
    uWebSocketsJs: uws ? `${uws.name}@${uws.version}` : undefined,
    natsServer: tryExec(cfg.natsServer, ['--version'])?.replace(/^nats-server:\s*/, ''),
    go: tryExec('go', ['version']),
    loadgen: cfg.loadgen.split('/').pop(),
    commit: tryExec('git', ['rev-parse', '--short', 'HEAD']),
    workTreeChanges: status === undefined ? undefined : status.length > 0,
  };
}

async function main() {
  const t0 = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'session-mesh-bench-run-'));
  const results = {
    schema: 1,
    startedAt: new Date(t0).toISOString(),
    machine: describeMachine(),
    versions: describeVersions(),
    config: {
      conns: cfg.conns,
      pushUsersPerEdge: cfg.pushUsersPerEdge,
      pushSeconds: cfg.pushSeconds,
      rawPushSeconds: cfg.rawPushSeconds,
      payloadBytes: cfg.payloadBytes,
      warmupPushes: cfg.warmupPushes,
      window: cfg.window,
      phases: cfg.phases,
      short: cfg.short,
    },
    memory: {},
    push: {},
    connect: {},
    latency: {},
    broadcast: {},
    // capacity-<peer>: the peers' capacity and kill propagation, by peer kind.
    capacityPeers: {},
    errors: [],
    loadAverageAtStart: readLoadAverage(),
    // Per phase: the load average before it, and how long the bench waited for it to drop.
    loadAverages: {},
    peers: {
      labels: PEERS,
      centrifugo: cfg.centrifugo ? { binary: cfg.centrifugo } : { missing: cfg.centrifugoMissing ?? 'not installed' },
      redisServer: cfg.redisServer ? { binary: cfg.redisServer, version: tryExec(cfg.redisServer, ['--version']) } : { missing: cfg.redisMissing ?? 'not installed' },
      socketIo: socketIoVersions(),
    },
    logDir,
  };
  if (cfg.merge && existsSync(cfg.resultsPath)) {
    // Keep what the previous run measured for the phases not selected now (each phase records when it ran).
    const prev = JSON.parse(readFileSync(cfg.resultsPath, 'utf8'));
    for (const k of ['memory', 'push', 'connect', 'latency', 'broadcast', 'capacityPeers', 'loadAverages', 'phaseStartedAt', 'phaseSeconds']) results[k] = { ...(prev[k] ?? {}) };
    if (prev.capacity && !cfg.phases.includes('capacity')) results.capacity = prev.capacity;
    if (prev.propagation && !cfg.phases.includes('propagation')) results.propagation = prev.propagation;
    if (prev.churn && !cfg.phases.includes('churn')) results.churn = prev.churn;
    results.errors = (prev.errors ?? []).filter((e) => !cfg.phases.includes(e.phase));
    results.config.phases = [...new Set([...(prev.config?.phases ?? []), ...cfg.phases])];
    // The kept phases ran on the previous run's machine (which may be another machine of this kind).
    results.mergedFrom = { startedAt: prev.startedAt, durationS: prev.durationS, phases: (prev.config?.phases ?? []).filter((p) => !cfg.phases.includes(p)), machine: prev.mergedFrom?.machine ?? prev.machine, commit: prev.mergedFrom?.commit ?? prev.versions?.commit };
  }
  results.phaseStartedAt ??= {};
  results.phaseSeconds ??= {};
  const phases = {
    'memory-raw': async () => (results.memory.raw = await phaseMemoryRaw(tmp)),
    'memory-edge': async () => (results.memory.edge = await phaseMemoryEdge(tmp)),
    'push-edge': async () => (results.push.edge = await phasePushEdge(tmp)),
    'push-raw': async () => (results.push.raw = await phasePushRaw(tmp)),
  };
  for (const k of PEER_KINDS) {
    phases[`memory-${k}`] = async () => (results.memory[k] = await phaseMemoryPeer(k, tmp));
    phases[`push-${k}`] = async () => (results.push[k] = await phasePushPeer(k, tmp));
  }
  phases['memory-mesh'] = async () => (results.memory.mesh = await phaseMemoryMesh());
  phases['connect-edge'] = async () => (results.connect.edge = await phaseConnectEdge(tmp));
  phases['connect-raw'] = async () => (results.connect.raw = await phaseConnectRaw(tmp));
  phases['latency-edge'] = async () => (results.latency.edge = await phaseLatencyEdge(tmp));
  phases['broadcast-edge'] = async () => (results.broadcast.edge = await phaseBroadcastEdge(tmp));
  phases['broadcast-raw'] = async () => (results.broadcast.raw = await phaseBroadcastRaw(tmp));
  phases.capacity = async () => (results.capacity = await phaseCapacity(tmp));
  phases.propagation = async () => (results.propagation = await phasePropagation(tmp));
  const churnCtx = { cfg, procs, root: ROOT, secret, log, loadgenConnect, loadgenReady, edgeWarnings, natsCounts, buildRegistry };
  phases.churn = async () => (results.churn = await phaseChurn(tmp, churnCtx));
  // The peers' connect storm, latency and broadcast (bench/phases/peer-scenarios.mjs), with this file's helpers.
  const peerPhases = peerScenarioPhases(PEER_KINDS, {
    cfg, procs, log, startPeer, peerCtx, loadgenPeer, loadgenReady, storm, latencyLadder, broadcastRuns, broadcastPublisher, lgCommand, readLoadAverage,
    peerRates: peerLatencyRates(envValue),
  });
  for (const [name, run] of Object.entries(peerPhases)) {
    const [scenario, ...kind] = name.split('-');
    phases[name] = async () => (results[scenario][kind.join('-')] = await run(tmp));
  }
  // The peers' capacity and kill propagation (bench/phases/peer-capacity.mjs), in the edges' capacity topology's sizes.
  const capacityPhases = peerCapacityPhases(PEER_KINDS, {
    cfg, log, startPeer, peerCtx, capacityServerCount, edgeSocketsPerSession, connectCapacityLoadgens, holdTargets, readPeerMemory, readLoadAverage,
  });
  for (const [name, run] of Object.entries(capacityPhases)) phases[name] = async () => (results.capacityPeers[name.slice('capacity-'.length)] = await run(tmp));
  try {
    for (const name of cfg.phases) {
      if (stopping) break;
      if (cfg.skipEdge && (name.endsWith('-edge') || ['capacity', 'propagation', 'churn'].includes(name))) {
        results.errors.push({ phase: name, error: env.BENCH_EDGE_UNAVAILABLE || 'skipped (BENCH_SKIP_EDGE=1)' });
        continue;
      }
      results.loadAverages[name] = await waitForLoad(name);
      const p0 = Date.now();
      results.phaseStartedAt[name] = new Date(p0).toISOString();
      log(`phase ${name}: start (load average ${results.loadAverages[name].atStart.join(' ')})`);
      try {
        await phases[name]();
        log(`phase ${name}: done in ${((Date.now() - p0) / 1000).toFixed(1)} s`);
        results.phaseSeconds[name] = Math.round((Date.now() - p0) / 1000);
      } catch (err) {
        log(`phase ${name}: ${err.unavailable ? 'NOT RUN' : 'FAILED'}: ${err.message}`);
        results.errors.push({ phase: name, error: err.message, ...(err.unavailable ? { unavailable: true } : {}) });
      } finally {
        // Whatever the phase left running (on failure) stops before the next one starts.
        await procs.stopAll(3000);
      }
    }
  } finally {
    await procs.stopAll(3000);
    rmSync(tmp, { recursive: true, force: true });
  }
  results.durationS = Math.round((Date.now() - t0) / 1000);
  mkdirSync(dirname(cfg.resultsPath), { recursive: true });
  writeFileSync(cfg.resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${cfg.resultsPath} (process logs: ${logDir})`);
  if (env.BENCH_RENDER !== '0') {
    const written = render(results, { root: ROOT, docsDir: cfg.outDir });
    for (const f of written) log(`wrote ${f}`);
  }
  printSummary(results);
  if (results.errors.length > 0) {
    for (const e of results.errors) process.stderr.write(`\n${e.unavailable ? 'NOT RUN' : 'FAILED'} ${e.phase}:\n${e.error}\n`);
    // A peer that cannot be installed here is named in the doc, not a failed bench.
    if (results.errors.some((e) => !e.unavailable)) process.exitCode = 1;
  }
}

function printSummary(r) {
  const f = (v, d = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const lines = ['', 'summary:'];
  const mem = (x) => `${f(x.kibPerConnection)} KiB/conn RSS after GC (${f(x.withoutForcedGc?.kibPerConnection)} left alone), ${f(x.heapBytesPerConnection, 0)} B/conn live heap`;
  if (r.memory.raw) lines.push(`  memory raw uWS : ${mem(r.memory.raw)}`);
  if (r.memory.edge) lines.push(`  memory edge    : ${mem(r.memory.edge)}`);
  if (r.memory.mesh) lines.push(`  memory mesh    : ${mem(r.memory.mesh)} (single process, in-process bus)`);
  const pe = r.push.edge;
  const pr = r.push.raw;
  if (pe) lines.push(`  push edge      : ${f(pe.deliveriesPerSecond, 0)} deliveries/s, ${f(pe.edgeUsPerDelivery)} us edge CPU/delivery (user ${f(pe.edgeUserUsPerDelivery)} + system ${f(pe.edgeSystemUsPerDelivery)}), nats ${f(pe.cpu.nats.usPerDelivery)} us`);
  const k = r.capacity;
  if (k) lines.push(`  capacity       : ${k.opened}/${k.connections} sessions in ${f(k.connectWallMs / 1000, 1)} s; KiB/conn after GC: edges ${f(k.edgesMemory.kibPerConnection)}, nats ${f(k.nats.kibPerConnection)}, registry ${f(k.registry.kibPerConnection)} (counts ${k.registry.connectionsCounted}); full edge ${f(k.fill?.kibPerConnection)} at ${k.fill?.connections}`);
  const pg = r.propagation;
  if (pg) lines.push(`  propagation    : last socket closed p50/p99/max: kill ${f(pg.kill.lastSocketClosedMs.p50, 1)}/${f(pg.kill.lastSocketClosedMs.p99, 1)}/${f(pg.kill.lastSocketClosedMs.max, 1)} ms, blacklist ${f(pg.blacklist.lastSocketClosedMs.p50, 1)}/${f(pg.blacklist.lastSocketClosedMs.p99, 1)}/${f(pg.blacklist.lastSocketClosedMs.max, 1)} ms (201 p99 ${f(pg.blacklist.answerMs.p99, 1)} ms) with ${pg.sessions} sessions`);
  for (const [kind, c] of Object.entries(r.capacityPeers ?? {})) {
    const pk = c.propagation?.kill.lastSocketClosedMs;
    lines.push(`  capacity ${kind.padEnd(17)}: ${c.opened}/${c.requested} sessions on ${c.servers} server(s) in ${f(c.connectWallMs / 1000, 1)} s; ${f(c.memory.kibPerConnection)} KiB/conn after GC${pk ? `; kill last socket closed p50/p99/max ${f(pk.p50, 1)}/${f(pk.p99, 1)}/${f(pk.max, 1)} ms` : ''}`);
  }
  const ch = r.churn;
  if (ch) lines.push(`  churn          : ${ch.disconnects} disconnects / ${ch.connects} reconnects in ${ch.seconds} s, ${ch.failures.reconnectsFailed} failed; presence ${ch.presence.exact ? 'exact' : 'NOT EXACT'} (registry ${ch.presence.registry.connections}, edges ${ch.presence.edges.connections}, truth ${ch.presence.truth}); edges RSS growth after GC ${f(ch.edgesGrowthRatio, 3)}`);
  if (pr) lines.push(`  push raw uWS   : ${f(pr.deliveriesPerSecond, 0)} deliveries/s, ${f(pr.serverUsPerDelivery)} us server CPU/delivery (user ${f(pr.serverUserUsPerDelivery)} + system ${f(pr.serverSystemUsPerDelivery)})`);
  const verdict = (v, limit) => (typeof v !== 'number' || !Number.isFinite(v) ? 'not measured' : v <= limit ? 'met' : 'NOT MET');
  // The two headline ratio targets of issue 12 (every target is in docs/benchmarks.md, "Targets").
  const memRaw = r.memory.raw?.kibPerConnection;
  lines.push(`  target edge memory <= 2x raw uWS: ${verdict(r.memory.edge?.kibPerConnection / memRaw, 2)} (${f(r.memory.edge?.kibPerConnection / memRaw)}x)`);
  lines.push(`  target edge CPU/delivery at saturation <= 1.25x raw uWS: ${verdict(pe?.edgeUsPerDelivery / pr?.serverUsPerDelivery, 1.25)} (${f(pe?.edgeUsPerDelivery / pr?.serverUsPerDelivery)}x)`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

await main();
