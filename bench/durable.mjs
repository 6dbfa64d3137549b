// Durable pushes under load (issue 8): `npm run bench:durable`.
//
// storm: N clients (distinct users, one tab each) connect to edge A and each receives one durable
//   push (so it holds an epoch and a position). Edge A is SIGKILLed; while the clients are away the
//   publisher stores K durable pushes per user (N x K, K rounds of one push per user, acks awaited);
//   then all N clients reconnect AT ONCE to the surviving edges (round robin) with ?position=&epoch=.
//   Per client: reconnect start -> welcome, and -> the `position` frame that ends the replay; the
//   replayed positions are compared with the publisher's acks (sent / delivered / lost / duplicated).
// cost: the same publisher and load against U connected users on 2 edges, once per mode:
//   at-most-once (core publish to <prefix>.push.user.<tok>, at most W pushes not yet received),
//   durable (JetStream publish to <prefix>.durable.user.<tok>, at most W acks outstanding), and
//   durable on a nats-server with `jetstream { sync_interval: always }`. Throughput (published or
//   acked/s, delivered/s) and publish -> client receipt latency, under that window and with one push
//   at a time (no queueing).
//
// Every process runs for real: nats-server (JetStream, store on this machine's disk), edges from
// services/edge/dist/main.js, clients on `ws` in this process. Everything started is stopped on exit
// (bench/lib/procs.mjs), also on an error or Ctrl-C.
//
// Environment (defaults): BENCH_DURABLE_CLIENTS (5000), BENCH_DURABLE_MISSED (10 pushes per client
// while away), BENCH_DURABLE_MISSED_VARIANTS (2: extra storms with these numbers, comma-separated;
// empty for none), BENCH_DURABLE_SURVIVORS (2 edges left after the kill), BENCH_DURABLE_COST_USERS (2000),
// BENCH_DURABLE_COST_SECONDS (10), BENCH_DURABLE_WINDOW (256), BENCH_DURABLE_PAYLOAD_BYTES (100),
// BENCH_DURABLE_PHASES (storm,cost), MESH_DURABLE_REPLAY_CONCURRENCY (64), MESH_DURABLE_REPLAY_MAX
// (1000) and MESH_DURABLE_MERGE_MAX (100000; 0: every resume reads its own subjects) passed to the edges, BENCH_NATS_SERVER (else scripts/install-nats-server.sh),
// BENCH_DURABLE_OUT (bench/results/durable.json; writing there also re-renders docs/benchmarks.md
// unless BENCH_RENDER=0).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connectAll, DurableClient, encodePayload, mintTokens, OP_DURABLE_PUSH, OP_PUSH, percentiles, waitUntil } from './lib/durable-clients.mjs';
import { startNatsJs, streamMessages, windowed } from './lib/durable-topology.mjs';
import { cpuDelta, cpuSnapshot } from './lib/procstat.mjs';
import { Procs } from './lib/procs.mjs';
import { benchNatsServer, startEdge } from './lib/services.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = join(ROOT, 'bench/results/durable.json');

function intEnv(name, dflt, min = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name}=${JSON.stringify(raw)}: must be an integer from ${min}`);
  return v;
}

const config = {
  clients: intEnv('BENCH_DURABLE_CLIENTS', 5000),
  missedPerClient: intEnv('BENCH_DURABLE_MISSED', 10),
  // Extra storms with other numbers of missed pushes: how the storm scales with what is stored.
  missedVariants: (process.env.BENCH_DURABLE_MISSED_VARIANTS ?? '2')
    .split(',')
    .filter((x) => x.trim() !== '')
    .map((x) => {
      const v = Number(x);
      if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_DURABLE_MISSED_VARIANTS: ${x} is not an integer from 1`);
      return v;
    }),
  survivors: intEnv('BENCH_DURABLE_SURVIVORS', 2),
  costUsers: intEnv('BENCH_DURABLE_COST_USERS', 2000),
  costSeconds: intEnv('BENCH_DURABLE_COST_SECONDS', 10),
  serialSeconds: intEnv('BENCH_DURABLE_SERIAL_SECONDS', 3),
  window: intEnv('BENCH_DURABLE_WINDOW', 256),
  payloadBytes: intEnv('BENCH_DURABLE_PAYLOAD_BYTES', 100, 16),
  replayConcurrency: intEnv('MESH_DURABLE_REPLAY_CONCURRENCY', 64),
  replayMax: intEnv('MESH_DURABLE_REPLAY_MAX', 1000),
  mergeMax: intEnv('MESH_DURABLE_MERGE_MAX', 100000, 0),
  phases: (process.env.BENCH_DURABLE_PHASES ?? 'storm,cost').split(',').map((s) => s.trim()),
};
for (const p of config.phases) if (!['storm', 'cost'].includes(p)) throw new Error(`BENCH_DURABLE_PHASES: unknown phase ${p} (storm, cost)`);
const outFile = resolve(process.env.BENCH_DURABLE_OUT ?? DEFAULT_OUT);
const log = (msg) => process.stderr.write(`[durable-bench] ${msg}\n`);

const { connectNatsBus } = await import(pathToFileURL(join(ROOT, 'libs/bus/dist/index.js')).href);
const { createSubjects } = await import(pathToFileURL(join(ROOT, 'libs/protocol/dist/index.js')).href);
const subjects = createSubjects('mesh');
const secret = randomBytes(24).toString('hex');
const edgeEnv = {
  MESH_DURABLE_REPLAY_CONCURRENCY: String(config.replayConcurrency),
  MESH_DURABLE_REPLAY_MAX: String(config.replayMax),
  MESH_DURABLE_MERGE_MAX: String(config.mergeMax),
  MESH_KV_REPLICAS: '1',
  // BENCH_EDGE_LOG_LEVEL=info shows the edges' merged replay reads in the process logs.
  ...(process.env.BENCH_EDGE_LOG_LEVEL ? { MESH_LOG_LEVEL: process.env.BENCH_EDGE_LOG_LEVEL } : {}),
};
const logDir = mkdtempSync(join(tmpdir(), 'session-mesh-durable-bench-'));
const procs = new Procs(logDir, process.env.BENCH_PIDFILE);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping every process this bench started`);
    procs.stopAll(2000).finally(() => process.exit(130));
  });
}

const clientCpuUs = () => {
  const u = process.cpuUsage();
  return { user: u.user, system: u.system, total: u.user + u.system };
};

/** nats + edges for one phase; `stop()` ends them all (the bench's own bus first). */
async function topology(name, { syncInterval, edges }) {
  const dir = join(logDir, name);
  mkdirSync(dir, { recursive: true });
  const nats = await startNatsJs(procs, { bin: benchNatsServer(), dir, name: `${name}-nats`, syncInterval });
  const started = [];
  for (const id of edges) started.push(await startEdge(procs, { root: ROOT, natsUrl: nats.url, secret, id: `${name}-${id}`, extraEnv: edgeEnv }));
  const bus = await connectNatsBus({ servers: nats.url, name: `${name}-publisher` });
  return {
    nats,
    edges: started,
    bus,
    stop: async () => {
      await bus.close().catch(() => undefined);
      await Promise.all([...started.map((e) => e.proc.stop(3000)), nats.proc.stop(3000)]);
    },
  };
}

let stormRuns = 0;
async function stormPhase(K = config.missedPerClient) {
  const N = config.clients;
  const W = config.window;
  const edgeIds = ['a', ...Array.from({ length: config.survivors }, (_, i) => String.fromCharCode(98 + i))];
  log(`storm: nats + edges ${edgeIds.join(', ')}; ${N} clients, ${K} pushes each while away`);
  // A fresh store per storm: the name picks the folder.
  const t = await topology(`storm-${++stormRuns}`, { edges: edgeIds });
  const [edgeA, ...survivors] = t.edges;
  const clients = (await mintTokens(N, secret)).map((tok, i) => new DurableClient(i, tok));
  try {
    const tc = performance.now();
    await connectAll(clients, [edgeA.url]);
    const connectMs = performance.now() - tc;
    const epoch = clients[0].epoch;
    const badWelcome = clients.filter((c) => c.welcome.epoch !== epoch || c.welcome.recovered !== false).length;
    if (badWelcome > 0) throw new Error(`${badWelcome} first welcomes without the common epoch or with recovered !== false`);
    log(`storm: ${N} clients on edge A in ${Math.round(connectMs)} ms (epoch ${epoch}); one durable push each`);

    const firstAcks = await windowed(N, W, (i) => t.bus.publishStored(subjects.durableUser(`u${i}`), encodePayload(config.payloadBytes, i, 0)));
    await waitUntil(() => clients.every((c, i) => c.position === firstAcks[i].seq), {
      timeoutMs: 60_000,
      what: 'every client to hold its first durable push',
      describe: () => `${clients.filter((c, i) => c.position !== firstAcks[i].seq).length} still waiting`,
    });
    const resumeFrom = clients.map((c) => c.position);

    const pids = () => ({ nats: t.nats.proc.pid, ...Object.fromEntries(survivors.map((e, j) => [`edge ${edgeIds[j + 1]}`, e.proc.pid])) });
    log('storm: SIGKILL edge A');
    const tKill = performance.now();
    edgeA.proc.child.kill('SIGKILL');
    await waitUntil(() => clients.every((c) => c.ws === undefined), {
      timeoutMs: 30_000,
      what: 'every client to see edge A gone',
      describe: () => `${clients.filter((c) => c.ws !== undefined).length} still open`,
    });
    const allClosedMs = performance.now() - tKill;
    await edgeA.proc.exited;

    // K rounds of one push per user: a user's pushes are stored in k order, so position order and k order agree.
    const acks = clients.map(() => []);
    const tp = performance.now();
    for (let k = 1; k <= K; k++) {
      const round = await windowed(N, W, (i) => t.bus.publishStored(subjects.durableUser(`u${i}`), encodePayload(config.payloadBytes, i, k)));
      round.forEach((a, i) => acks[i].push(a.seq));
    }
    const publishMs = performance.now() - tp;
    const stored = await streamMessages(t.nats.monitor, 'MESH_PUSH');
    log(`storm: ${N * K} durable pushes stored in ${Math.round(publishMs)} ms (stream holds ${stored}); all ${N} clients reconnect now`);

    const cpu0 = { ...cpuSnapshot(pids()), client: clientCpuUs() };
    const tStorm = performance.now();
    const failures = [];
    let replaysDone = 0;
    for (const c of clients) c.onReplayEnd = () => replaysDone++;
    const connects = clients.map((c, i) =>
      c.connect(survivors[i % survivors.length].url, { resume: true, deadlineMs: 600_000 }).catch((err) => failures.push({ client: c.user, error: err.message })),
    );
    const startLoopMs = performance.now() - tStorm;
    await Promise.all(connects);
    const resumed = clients.filter((c) => c.welcome?.recovered === true).length;
    await waitUntil(() => replaysDone >= resumed, {
      timeoutMs: 600_000,
      what: 'every resumed client to get its position frame',
      intervalMs: 50,
      describe: () => `${resumed - replaysDone} without one`,
    });
    const tDone = Math.max(...clients.map((c) => c.tPosition ?? c.tWelcome ?? 0));
    const cpu1 = { ...cpuSnapshot(pids()), client: clientCpuUs() };
    const stormMs = tDone - tStorm;

    // Exactness, client by client: the replay must be exactly the acks of its user, in order.
    let delivered = 0;
    let lost = 0;
    let duplicated = 0;
    let unexpected = 0;
    let outOfOrder = 0;
    let recovered = 0;
    let replayEndShort = 0;
    let liveAfterReplay = 0;
    const examples = [];
    clients.forEach((c, i) => {
      if (c.welcome?.recovered === true) recovered++;
      if (c.welcome?.position !== undefined && c.welcome.recovered && c.welcome.position !== resumeFrom[i]) unexpected++;
      const replay = c.received.filter((r) => r.replay);
      liveAfterReplay += c.received.length - replay.length;
      const got = new Set(replay.map((r) => r.position));
      const want = new Set(acks[i]);
      delivered += replay.length;
      duplicated += c.duplicates + (replay.length - got.size);
      for (const p of want) if (!got.has(p)) lost++;
      for (const p of got) if (!want.has(p)) unexpected++;
      const ks = replay.map((r) => r.k);
      if (ks.some((k, j) => j > 0 && k <= ks[j - 1]) || replay.some((r) => r.user !== i)) outOfOrder++;
      if (c.replayEnd === undefined || c.replayEnd < acks[i][acks[i].length - 1]) replayEndShort++;
      if (examples.length < 5 && (replay.length !== K || c.duplicates > 0)) examples.push({ client: c.user, want: acks[i], got: replay.map((r) => r.position), duplicates: c.duplicates, welcome: c.welcome });
    });
    const refusals = {};
    let retried = 0;
    for (const c of clients) {
      if (c.attempts > 1) retried++;
      for (const r of c.refusals) refusals[r] = (refusals[r] ?? 0) + 1;
    }
    const welcomeMs = clients.filter((c) => c.tWelcome !== undefined).map((c) => c.tWelcome - c.t0);
    const replayDoneMs = clients.filter((c) => c.tPosition !== undefined).map((c) => c.tPosition - c.t0);
    const replayOnlyMs = clients.filter((c) => c.tPosition !== undefined).map((c) => c.tPosition - c.tWelcome);
    const cpu = cpuDelta(cpu0, cpu1);
    const result = {
      missedPerClient: K,
      clients: N,
      survivors: survivors.length,
      initialConnectMs: Math.round(connectMs),
      epoch,
      killToAllClosedMs: Math.round(allClosedMs),
      publishedWhileAway: { pushes: N * K, ms: Math.round(publishMs), ackedPerSecond: Math.round((N * K) / (publishMs / 1000)), streamMessages: stored },
      sent: N * K,
      delivered,
      lost,
      duplicated,
      unexpected,
      outOfOrderClients: outOfOrder,
      liveAfterReplay,
      replayEndShort,
      recovered,
      notRecovered: N - recovered - failures.length,
      failed: failures.length,
      failures: failures.slice(0, 5),
      clientsRetried: retried,
      refusals,
      examples,
      startLoopMs: Math.round(startLoopMs),
      stormMs: Math.round(stormMs),
      welcomeMs: percentiles(welcomeMs),
      replayCompleteMs: percentiles(replayDoneMs),
      welcomeToPositionMs: percentiles(replayOnlyMs),
      cpuSeconds: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(v.total / 1e4) / 100])),
    };
    log(`storm: ${JSON.stringify({ sent: result.sent, delivered, lost, duplicated, recovered, stormMs: result.stormMs, welcomeMs: result.welcomeMs, replayCompleteMs: result.replayCompleteMs })}`);
    return result;
  } finally {
    for (const c of clients) c.close();
    await t.stop();
  }
}

const COST_MODES = [
  { mode: 'at-most-once', durable: false },
  { mode: 'durable', durable: true },
  { mode: 'durable, sync_interval: always', durable: true, syncInterval: 'always' },
];

async function costPhase({ mode, durable, syncInterval }) {
  const U = config.costUsers;
  const W = config.window;
  const name = `cost-${durable ? (syncInterval ? 'always' : 'durable') : 'amo'}`;
  log(`cost (${mode}): nats + 2 edges, ${U} users`);
  const t = await topology(name, { syncInterval, edges: ['a', 'b'] });
  let measuring = false;
  let delivered = 0;
  let wrongKind = 0;
  let tLastDelivery = 0;
  let latencies = new Float64Array(1 << 16);
  let wakeup;
  const serialLatencies = [];
  let serialWait;
  const onPush = (_c, op, _position, p, now) => {
    if (op !== (durable ? OP_DURABLE_PUSH : OP_PUSH)) {
      wrongKind++;
      return;
    }
    if (p.k === 2) {
      serialLatencies.push(now - p.at);
      serialWait?.();
      return;
    }
    if (p.k !== 1) return; // warm-up pushes carry k = 0
    delivered++;
    tLastDelivery = now;
    if (delivered > latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[delivered - 1] = now - p.at;
    if (wakeup) {
      const w = wakeup;
      wakeup = undefined;
      w();
    }
  };
  const clients = (await mintTokens(U, secret)).map((tok, i) => new DurableClient(i, tok, onPush));
  try {
    await connectAll(clients, t.edges.map((e) => e.url));
    const subject = (i) => (durable ? subjects.durableUser(`u${i}`) : subjects.pushUser(`u${i}`));
    const rnd = () => Math.floor(Math.random() * U);
    // Warm-up (k = 0, not counted): JIT, stream creation on first write, connections.
    await windowed(Math.min(2000, U * 2), W, async (j) => {
      const i = j % U;
      if (durable) await t.bus.publishStored(subject(i), encodePayload(config.payloadBytes, i, 0));
      else t.bus.publish(subject(i), encodePayload(config.payloadBytes, i, 0));
    });
    await t.bus.flush();

    const pids = { nats: t.nats.proc.pid, edgeA: t.edges[0].proc.pid, edgeB: t.edges[1].proc.pid };
    const cpu0 = { ...cpuSnapshot(pids), bench: clientCpuUs() };
    measuring = true;
    let published = 0;
    let acked = 0;
    const ackLatencies = [];
    const tStart = performance.now();
    const tEnd = tStart + config.costSeconds * 1000;
    const waitForDeliveries = () => new Promise((r) => (wakeup = r));
    if (!durable) {
      // At most W pushes published and not yet received (without it the publisher outruns the
      // edges and NATS cuts them as slow consumers: an overload, not a throughput).
      while (performance.now() < tEnd) {
        if (published - delivered >= W) {
          await Promise.race([waitForDeliveries(), new Promise((r) => setTimeout(r, 50))]);
          continue;
        }
        const i = rnd();
        t.bus.publish(subject(i), encodePayload(config.payloadBytes, i, 1));
        published++;
        if (published % 64 === 0) await yieldToLoop();
      }
    } else {
      // W publishes awaiting their ack at any time.
      const worker = async () => {
        while (performance.now() < tEnd) {
          const i = rnd();
          const t0 = performance.now();
          published++;
          await t.bus.publishStored(subject(i), encodePayload(config.payloadBytes, i, 1, t0));
          acked++;
          ackLatencies.push(performance.now() - t0);
        }
      };
      await Promise.all(Array.from({ length: W }, worker));
    }
    const publishSeconds = (performance.now() - tStart) / 1000;
    await waitUntil(() => delivered >= published, { timeoutMs: 15_000, what: 'the last deliveries', describe: () => `${published - delivered} missing` }).catch((err) => log(`cost (${mode}): ${err.message}`));
    const cpu = cpuDelta(cpu0, { ...cpuSnapshot(pids), bench: clientCpuUs() });
    // Latency without queueing: one push at a time, the next after the previous one arrived.
    const tSerialEnd = performance.now() + config.serialSeconds * 1000;
    let serialSent = 0;
    while (performance.now() < tSerialEnd) {
      const i = rnd();
      const arrived = new Promise((r) => (serialWait = r));
      const payload = encodePayload(config.payloadBytes, i, 2);
      serialSent++;
      if (durable) await t.bus.publishStored(subject(i), payload);
      else t.bus.publish(subject(i), payload);
      await Promise.race([arrived, new Promise((r) => setTimeout(r, 2000))]);
    }
    const deliverSeconds = (tLastDelivery - tStart) / 1000;
    const usPerDelivery = (x) => Math.round((x.total / Math.max(1, delivered)) * 100) / 100;
    const result = {
      mode,
      syncInterval: syncInterval ?? 'default',
      nats: t.nats.jetstream,
      users: U,
      window: W,
      published,
      acked: durable ? acked : undefined,
      delivered,
      lost: published - delivered,
      wrongKind,
      publishSeconds: Math.round(publishSeconds * 100) / 100,
      publishedPerSecond: Math.round(published / publishSeconds),
      ackedPerSecond: durable ? Math.round(acked / publishSeconds) : undefined,
      deliveredPerSecond: Math.round(delivered / deliverSeconds),
      latencyMs: percentiles(latencies.subarray(0, delivered)),
      ackLatencyMs: durable ? percentiles(ackLatencies) : undefined,
      oneAtATime: { sent: serialSent, delivered: serialLatencies.length, latencyMs: percentiles(serialLatencies) },
      cpuUsPerDelivery: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, usPerDelivery(v)])),
    };
    log(`cost (${mode}): ${JSON.stringify({ published, delivered, perS: result.deliveredPerSecond, latencyMs: result.latencyMs })}`);
    return result;
  } finally {
    measuring = false;
    for (const c of clients) c.close();
    await t.stop();
  }
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

const startedAt = new Date().toISOString();
const report = {
  startedAt,
  config: { ...config, clients: 'ws (Node) in the bench process, which also publishes' },
  machine: { cpuModel: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
  loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  versions: { node: process.version, commit: gitCommit() },
  errors: [],
};
let exitCode = 0;
try {
  if (config.phases.includes('storm')) {
    try {
      report.storm = await stormPhase();
    } catch (err) {
      report.errors.push({ phase: 'storm', error: err.stack ?? String(err) });
      log(`storm failed: ${err.stack ?? err}`);
    }
    report.stormVariants = [];
    for (const k of config.missedVariants) {
      try {
        const v = await stormPhase(k);
        report.stormVariants.push({
          missedPerClient: k,
          ...Object.fromEntries(['clients', 'sent', 'delivered', 'lost', 'duplicated', 'recovered', 'failed', 'stormMs', 'welcomeMs', 'replayCompleteMs', 'cpuSeconds'].map((f) => [f, v[f]])),
          streamMessages: v.publishedWhileAway.streamMessages,
        });
      } catch (err) {
        report.errors.push({ phase: `storm (${k} missed)`, error: err.stack ?? String(err) });
        log(`storm (${k} missed) failed: ${err.stack ?? err}`);
      }
    }
  }
  if (config.phases.includes('cost')) {
    report.cost = [];
    for (const m of COST_MODES) {
      try {
        report.cost.push(await costPhase(m));
      } catch (err) {
        report.errors.push({ phase: `cost ${m.mode}`, error: err.stack ?? String(err) });
        log(`cost (${m.mode}) failed: ${err.stack ?? err}`);
      }
    }
  }
} finally {
  await procs.stopAll(3000);
}
report.durationS = Math.round((Date.now() - Date.parse(startedAt)) / 1000);
try {
  report.versions.natsServer = execFileSync(benchNatsServer(), ['--version'], { encoding: 'utf8' }).trim();
} catch {
  // not fatal
}
if (report.errors.length > 0) exitCode = 1;
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
log(`wrote ${outFile} (process logs in ${logDir})`);
const say = (line) => process.stdout.write(`${line}\n`);
const pct = (p) => `p50 ${p.p50} / p90 ${p.p90} / p99 ${p.p99} / max ${p.max} ms`;
for (const s of [report.storm, ...(report.stormVariants ?? [])].filter(Boolean)) {
  say(`storm, ${s.clients} clients, ${s.missedPerClient} missed each: sent ${s.sent}, delivered ${s.delivered}, lost ${s.lost}, duplicated ${s.duplicated}, recovered ${s.recovered}, storm ${s.stormMs} ms`);
  say(`  reconnect -> welcome   ${pct(s.welcomeMs)}`);
  say(`  reconnect -> position  ${pct(s.replayCompleteMs)}`);
}
for (const m of report.cost ?? []) {
  say(`${m.mode}: ${m.ackedPerSecond ?? m.publishedPerSecond}/s ${m.acked === undefined ? 'published' : 'acked'}, ${m.deliveredPerSecond}/s delivered, lost ${m.lost}; latency p50 ${m.latencyMs.p50} / p99 ${m.latencyMs.p99} ms (window ${m.window}), one at a time p50 ${m.oneAtATime.latencyMs.p50} / p99 ${m.oneAtATime.latencyMs.p99} ms`);
}
if (outFile === DEFAULT_OUT && process.env.BENCH_RENDER !== '0' && existsSync(join(ROOT, 'bench/results/latest.json'))) {
  const { render } = await import('./render.mjs');
  for (const f of render(JSON.parse(readFileSync(join(ROOT, 'bench/results/latest.json'), 'utf8')), { root: ROOT })) log(`wrote ${f}`);
}
process.exit(exitCode);
