// Phase `churn` of npm run bench (issue 12, scenario 6): sessions connect and disconnect at a steady
// rate for minutes; memory must stay flat and presence must be exact at the end.
//
// Topology: one nats-server, two edges, one registry replica (no admin API: nothing here needs it).
// Two Go load generators spread their users over both edges: one holds cfg.churnHeld sessions for
// the whole phase, the other holds cfg.churnSockets sessions and, from its ready line on, closes
// cfg.churnRate random open sockets per second (close frame 1000) and reconnects each at once
// (loadgen -churn-rate, -churn-for). Every socket is its own user and session.
//
// Memory: RSS of every server process is sampled through the phase; after-GC readings (forced full
// GCs through the inspector in the edges and the registry; nats-server is Go and read as it is)
// are taken once churn is warm (start of the steady state) and again shortly before churn ends,
// under the same load: their ratio is the growth. A last reading follows once churn has stopped.
// Presence: when every reconnect has resolved, the registry's users/sessions/connections and the
// edges' own counts must equal the sockets the load generators hold (the truth), and the
// subscriptions on nats-server must equal what the held population alone predicts.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rssKiB } from '../lib/procstat.mjs';
import { forceGc, getJson, jetStreamCounts, registryMetrics, settleRss, startEdge, startNats, startRegistry, until } from '../lib/services.mjs';

/** Seconds of churn before the first after-GC reading, and the time a reading may take under churn. */
const warmupSeconds = (total) => Math.min(30, Math.max(2, Math.round(total * 0.15)));
const READING_BUDGET_S = 5;

/**
 * ctx: { cfg, procs, root, secret, log, loadgenConnect, loadgenReady, edgeWarnings, natsCounts, buildRegistry }
 * (run.mjs's helpers, so this phase starts and reads processes the way every other phase does).
 */
export async function phaseChurn(tmp, ctx) {
  const { cfg, procs, root, secret, log, loadgenConnect, loadgenReady, edgeWarnings, natsCounts } = ctx;
  const total = cfg.churnSeconds;
  const warmup = warmupSeconds(total);
  if (total < warmup + READING_BUDGET_S + 1) throw new Error(`churn: BENCH_CHURN_SECONDS ${total} is too short for a warm-up of ${warmup} s and two readings`);
  ctx.buildRegistry();
  const nats = await startNats(procs, { bin: cfg.natsServer, dir: join(tmp, 'nats-churn') });
  const registry = await startRegistry(procs, { root, natsUrl: nats.url, id: 'bench-registry-churn', inspect: true });
  const edges = [];
  for (const tag of ['a', 'b']) edges.push(await startEdge(procs, { root, natsUrl: nats.url, secret, id: `bench-edge-churn-${tag}`, inspect: true }));
  const urls = edges.map((e) => e.url);
  const servers = [
    ...edges.map((e) => ({ name: e.proc.name, pid: e.proc.pid, inspectPort: e.inspectPort, heapUsed: async () => (await getJson(`${e.base}/stats`)).heapUsed })),
    { name: registry.proc.name, pid: registry.proc.pid, inspectPort: registry.inspectPort, heapUsed: async () => (await registryMetrics(registry.base)).heapUsed },
    { name: 'nats-server', pid: nats.proc.pid },
  ];
  const nats0 = await natsCounts(nats.monitor);

  const held = loadgenConnect('loadgen-churn-held', { urls, n: cfg.churnHeld, raw: false, sources: 2, reportMs: 500 });
  const heldReady = await loadgenReady(held, cfg.churnHeld, 120000);
  // Subscriptions per held session, measured before churn starts: what the end state must match.
  await until(async () => ((await registryMetrics(registry.base)).connections === heldReady.opened ? true : undefined), { timeoutMs: 30000, what: `the registry to count ${heldReady.opened} held connections`, proc: registry.proc });
  const natsHeld = await natsCounts(nats.monitor);
  const subsPerSession = (natsHeld.subscriptions - nats0.subscriptions) / heldReady.opened;
  const js0 = await jetStreamCounts(nats.monitor);

  const churner = loadgenConnect('loadgen-churn', {
    urls, n: cfg.churnSockets, raw: false, sources: 2, reportMs: 500,
    extra: ['-offset', String(cfg.churnHeld), '-churn-rate', String(cfg.churnRate), '-churn-for', `${total}s`],
  });
  const churnReady = await loadgenReady(churner, cfg.churnSockets, 120000);
  // The load generator starts churning right after its ready line.
  const t0 = performance.now();
  const at = (s) => sleep(Math.max(0, t0 + s * 1000 - performance.now()));
  const samples = [];
  let sampling = true;
  const sampler = (async () => {
    const everyMs = Math.max(1000, Math.round((total * 1000) / 150));
    while (sampling) {
      const s = { t: (performance.now() - t0) / 1000 };
      for (const p of servers) s[p.name] = rssKiB(p.pid);
      s.churned = churner.latest((m) => m.event === 'stats')?.churned ?? 0;
      samples.push(s);
      await sleep(everyMs);
    }
  })();

  await at(warmup);
  const start = await gcReading(servers);
  const startChurned = churner.latest((m) => m.event === 'stats')?.churned ?? 0;
  await at(total - READING_BUDGET_S);
  const end = await gcReading(servers);
  const endChurned = churner.latest((m) => m.event === 'stats')?.churned ?? 0;
  await at(total);

  // Churn over: every reconnect resolved (opened or failed) once attempts = initial sockets + churned.
  const expectChurned = Math.floor(cfg.churnRate * total);
  const finalStats = await until(
    () => {
      const s = churner.latest((m) => m.event === 'stats');
      return s && s.churned >= expectChurned && s.opened + s.failed === cfg.churnSockets + s.churned ? s : undefined;
    },
    { timeoutMs: 30000, intervalMs: 200, what: `the churning load generator to finish ${expectChurned} disconnects and their reconnects`, proc: churner },
  );
  const heldStats = await held.waitFor((m) => m.event === 'stats', 5000, 'a stats line', held.messages.length);
  const truth = heldStats.open + finalStats.open;

  // Presence against the truth, once the registry has processed every lifecycle event.
  const t1 = performance.now();
  let reg;
  const presenceExact = await until(
    async () => {
      reg = await registryMetrics(registry.base);
      return reg.connections === truth && reg.users === truth && reg.sessions === truth ? true : undefined;
    },
    { timeoutMs: 30000, intervalMs: 200, what: `the registry to count ${truth} connections, users and sessions`, proc: registry.proc },
  ).catch(() => false);
  const registrySettledMs = presenceExact ? performance.now() - t1 : undefined;
  const edgeStats = await Promise.all(edges.map((e) => getJson(`${e.base}/stats`)));
  const sumOf = (k) => edgeStats.reduce((a, s) => a + s[k], 0);
  const edgeCounts = { connections: sumOf('connections'), users: sumOf('users'), sessions: sumOf('sessions'), perEdge: edgeStats.map((s) => s.connections) };
  const natsEnd = await natsCounts(nats.monitor);
  const js1 = await jetStreamCounts(nats.monitor);
  const afterStop = await gcReading(servers, { settleMaxMs: 30000 });
  sampling = false;
  await sampler;
  const warnings = edges.flatMap((e) => edgeWarnings(e.proc, 3));
  await Promise.all([held.stop(), churner.stop()]);
  await Promise.all([...edges.map((e) => e.proc.stop()), registry.proc.stop()]);
  await nats.proc.stop();

  const connects = finalStats.opened - churnReady.opened;
  const reconnectFailureReasons = diffCounts(churnReady.failures, finalStats.failures);
  const failures = {
    reconnectsFailed: finalStats.failed - churnReady.failed,
    reconnectFailureReasons,
    // The first answer seen with each reason (an HTTP refusal's body says why).
    reconnectFailureSamples: Object.fromEntries(Object.keys(reconnectFailureReasons).map((k) => [k, (finalStats.samples?.[k] ?? '').split('\r\n\r\n').pop().slice(0, 240)])),
    heldClosedByServer: heldStats.closed,
    churnClosedByServer: finalStats.closed,
    closeReasons: { ...heldStats.closes, ...finalStats.closes },
  };
  const memory = Object.fromEntries(
    servers.map((p) => {
      const s = start[p.name];
      const e = end[p.name];
      const trend = rssTrend(samples, p.name, warmup, (end.atMs - t0) / 1000);
      return [p.name, { startKiB: s.rssKiB, endKiB: e.rssKiB, afterStopKiB: afterStop[p.name].rssKiB, growthRatio: e.rssKiB / s.rssKiB, heapStart: s.heapUsed, heapEnd: e.heapUsed, forcedGc: Boolean(p.inspectPort), settled: s.settled && e.settled, trend }];
    }),
  );
  const edgeNames = edges.map((e) => e.proc.name);
  const edgeSum = (k) => edgeNames.reduce((a, n) => a + memory[n][k], 0);
  const out = {
    edges: edges.length,
    heldSessions: cfg.churnHeld,
    churningSessions: cfg.churnSockets,
    ratePerSecond: cfg.churnRate,
    seconds: total,
    warmupSeconds: warmup,
    heldConnect: heldReady,
    disconnects: finalStats.churned,
    connects,
    achievedPerSecond: finalStats.churned / total,
    failures,
    cyclesBetweenReadings: endChurned - startChurned,
    readingsAtS: { start: (start.atMs - t0) / 1000, end: (end.atMs - t0) / 1000 },
    memory,
    edgesGrowthRatio: edgeSum('endKiB') / edgeSum('startKiB'),
    presence: {
      truth,
      held: heldStats.open,
      churning: finalStats.open,
      registry: { connections: reg?.connections, users: reg?.users, sessions: reg?.sessions, edges: reg?.edges },
      edges: edgeCounts,
      exact: presenceExact && edgeCounts.connections === truth && edgeCounts.users === truth && edgeCounts.sessions === truth,
      registryExact: presenceExact,
      registrySettledMs,
    },
    nats: {
      subscriptionsPerSession: subsPerSession,
      subscriptionsExpected: nats0.subscriptions + Math.round(subsPerSession * truth),
      subscriptionsAtEnd: natsEnd.subscriptions,
      connections: natsEnd.connections,
      slowConsumers: natsEnd.slowConsumers - nats0.slowConsumers,
      jetStream: { before: js0, after: js1 },
    },
    samples,
    edgeLogWarnings: warnings,
  };
  const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  log(
    `churn: ${out.disconnects} disconnects, ${connects} reconnects in ${total} s (${f(out.achievedPerSecond, 0)}/s), ${failures.reconnectsFailed} failed, ` +
      `${failures.heldClosedByServer + failures.churnClosedByServer} closed by the server; presence registry ${reg?.connections}/${reg?.users}/${reg?.sessions} ` +
      `(connections/users/sessions), edges ${edgeCounts.connections}, truth ${truth}: ${out.presence.exact ? 'exact' : 'NOT EXACT'}; ` +
      `RSS growth after GC: ${Object.entries(memory).map(([k, m]) => `${k} ${f(m.growthRatio, 3)}`).join(', ')}`,
  );
  return out;
}

/**
 * RSS left alone, as sampled: the mean over the middle third and over the last third of the steady
 * window (fromS..toS, under churn, up to the last reading) and their ratio. The first third is left out: the forced GCs of
 * the first reading shrink the Node processes, which then grow back to their working size. Two
 * single readings of a process whose GC runs in cycles (nats-server is Go and is not collected from
 * outside) can fall anywhere in a cycle; means over a third of the window show a trend.
 */
export function rssTrend(samples, name, fromS, toS) {
  const third = (toS - fromS) / 3;
  const mean = (a, b) => {
    const v = samples.filter((s) => s.t >= a && s.t <= b).map((s) => s[name]);
    return v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN;
  };
  const middleKiB = mean(fromS + third, fromS + 2 * third);
  const lastKiB = mean(toS - third, toS);
  return { middleThirdKiB: middleKiB, lastThirdKiB: lastKiB, ratio: lastKiB / middleKiB };
}

/** Counts in b not already in a (the load generator's failure reasons since its ready line). */
function diffCounts(a = {}, b = {}) {
  const out = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

/**
 * RSS of every server process, in parallel: forced full GCs first where there is an inspector
 * (Node processes), then RSS once it stops moving (bounded: under churn it never quite does).
 */
async function gcReading(servers, { settleMaxMs = 3000 } = {}) {
  const atMs = performance.now();
  const entries = await Promise.all(
    servers.map(async (p) => {
      if (p.inspectPort) await forceGc(p.inspectPort);
      const rss = await settleRss(() => rssKiB(p.pid), { maxMs: settleMaxMs, samples: 3 });
      const heapUsed = p.heapUsed ? await p.heapUsed() : undefined;
      return [p.name, { rssKiB: rss.rssKiB, settled: rss.settled, heapUsed }];
    }),
  );
  return { ...Object.fromEntries(entries), atMs };
}
