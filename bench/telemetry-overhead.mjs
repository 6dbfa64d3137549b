// Telemetry overhead: runs the memory-edge and push-edge phases of `npm run bench` (scripts/bench.sh,
// bench/run.mjs unchanged) with telemetry OFF and ON, alternating rounds, and prints edge CPU per
// delivery and memory per connection for each, and the ratio on/off.
//
//   off: MESH_METRICS=false and no OTEL_* exporter (no /metrics route, no process metrics, no SDK)
//   on:  MESH_METRICS=true, every edge's /metrics scraped once a second (Prometheus usually scrapes
//        every 15-30 s: this is the pessimistic case), and OpenTelemetry tracing on with an OTLP/HTTP
//        exporter to a local sink this script runs (OTEL_TRACES_SAMPLER=parentbased_traceidratio,
//        OTEL_TRACES_SAMPLER_ARG from BENCH_TRACE_RATIO, default 0.01).
//
// Memory per connection is an RSS difference (after GC) divided by the connection count: anything
// else the process allocates between its two readings (lazy module loads, JIT code, the tracing
// SDK's first timers) lands in it too, and weighs more the fewer sockets there are. So
// BENCH_TELEMETRY_CONNS can list several counts (e.g. 4000,16000): each is run in both modes, and the
// summary fits RSS growth = fixed + per-connection x n for each mode, separating the two.
//
// The pushes of the push phase carry what a traced backend (or the admin API) sends, in both modes:
// Mesh-Published-At and a traceparent, sampled at BENCH_TRACE_RATIO (BENCH_TELEMETRY_PUSH_HEADERS=0:
// bare pushes). So "on" pays for its delivery spans and latency histogram on the same traffic.
//
// Environment: BENCH_TELEMETRY_ROUNDS (2 per mode); BENCH_TELEMETRY_SCRAPE_MS (1000; 0 = no scrapes);
// BENCH_TELEMETRY_CONNS (connection counts, comma-separated; default BENCH_CONNS or 5000);
// BENCH_PHASES (memory-edge,push-edge); BENCH_LOADGEN with BENCH_NATS_SERVER runs
// bench/run.mjs directly instead of scripts/bench.sh; and bench/run.mjs's own (BENCH_CONNS, ...;
// defaults here are smaller than the full bench: 5000 connections, 2000 push users per edge, 10 s).
// Usage: node bench/telemetry-overhead.mjs   (per-run results and telemetry-overhead.json go to
// BENCH_TELEMETRY_OUT, default a fresh temporary folder, printed at the end; BENCH_TELEMETRY_SAVE=1
// also writes the summary to bench/results/telemetry-overhead.json, which bench/render.mjs shows
// in docs/benchmarks.md)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.env.BENCH_TELEMETRY_ROUNDS ?? 2);
// How often "on" scrapes /metrics (0: never, to tell the scrapes' cost from the rest).
const scrapeMs = Number(process.env.BENCH_TELEMETRY_SCRAPE_MS ?? 1000);
// BENCH_TELEMETRY_TRACING=0: "on" keeps tracing off (metrics alone).
const tracingOn = process.env.BENCH_TELEMETRY_TRACING !== '0';
const traceRatio = process.env.BENCH_TRACE_RATIO ?? '0.01';
const pushHeaders = process.env.BENCH_TELEMETRY_PUSH_HEADERS !== '0';
const startedAt = new Date().toISOString();
const outDir = process.env.BENCH_TELEMETRY_OUT ?? mkdtempSync(join(tmpdir(), 'session-mesh-telemetry-bench-'));
mkdirSync(outDir, { recursive: true });
const log = (msg) => process.stderr.write(`[telemetry-bench] ${msg}\n`);

// A stand-in OTLP/HTTP collector: accepts and counts export requests.
let exports = 0;
const sink = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const sinkUrl = `http://127.0.0.1:${sink.address().port}`;

/** Ops ports of the edges started by this run (found by the marker in their environment). */
function edgeOpsPorts(marker) {
  const ports = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let environ;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!environ.includes(`BENCH_TELEMETRY_MARKER=${marker}`) || !environ.some((e) => e.startsWith('MESH_EDGE_ID='))) continue;
    const port = environ.find((e) => e.startsWith('MESH_OPS_PORT='))?.slice('MESH_OPS_PORT='.length);
    if (port) ports.push(port);
  }
  return ports;
}

const connCounts = (process.env.BENCH_TELEMETRY_CONNS ?? process.env.BENCH_CONNS ?? '5000').split(',').map((s) => Number(s.trim()));

async function runBench(mode, round, conns) {
  const marker = randomUUID();
  const results = join(outDir, `telemetry-${mode}-${conns}-${round}.json`);
  const env = {
    ...process.env,
    BENCH_TELEMETRY_MARKER: marker,
    BENCH_PHASES: process.env.BENCH_PHASES ?? 'memory-edge,push-edge',
    BENCH_RENDER: '0',
    BENCH_RESULTS: results,
    BENCH_CONNS: String(conns),
    BENCH_PUSH_USERS_PER_EDGE: process.env.BENCH_PUSH_USERS_PER_EDGE ?? '2000',
    BENCH_PUSH_SECONDS: process.env.BENCH_PUSH_SECONDS ?? '10',
    MESH_METRICS: mode === 'on' ? 'true' : 'false',
    ...(pushHeaders ? { BENCH_PUSH_PUBLISHED_AT: '1', BENCH_PUSH_TRACEPARENT: traceRatio } : {}),
    ...(mode === 'on' && tracingOn
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: traceRatio }
      : { OTEL_SDK_DISABLED: 'true' }),
  };
  let scrapes = 0;
  let scrapeBytes = 0;
  const scraper =
    mode === 'on' && scrapeMs > 0
      ? setInterval(() => {
          for (const port of edgeOpsPorts(marker)) {
            fetch(`http://127.0.0.1:${port}/metrics`)
              .then((r) => r.text())
              .then((t) => {
                scrapes++;
                scrapeBytes += t.length;
              })
              .catch(() => undefined);
          }
        }, scrapeMs)
      : undefined;
  // With BENCH_LOADGEN and BENCH_NATS_SERVER given, run the orchestrator directly (a load generator
  // built elsewhere); otherwise scripts/bench.sh builds both and sweeps leftover processes.
  const direct = process.env.BENCH_LOADGEN && process.env.BENCH_NATS_SERVER;
  const child = direct
    ? spawn(process.execPath, ['bench/run.mjs'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
    : spawn('bash', ['scripts/bench.sh'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise((r) => child.on('exit', r));
  if (scraper) clearInterval(scraper);
  if (code !== 0) throw new Error(`scripts/bench.sh (${mode}, round ${round}) exited with ${code}`);
  const r = JSON.parse(readFileSync(results, 'utf8'));
  const m = r.memory?.edge;
  const row = {
    mode,
    round,
    conns,
    kibPerConnection: m?.kibPerConnection ?? NaN,
    kibPerConnectionLeftAlone: m?.withoutForcedGc?.kibPerConnection ?? NaN,
    heapBytesPerConnection: m?.heapBytesPerConnection ?? NaN,
    // The baseline (edge started, no socket yet, after GC): where a fixed cost of tracing shows.
    rssBeforeKiB: m?.rssBeforeKiB ?? NaN,
    rssGrowthKiB: (m?.rssAfterKiB ?? NaN) - (m?.rssBeforeKiB ?? NaN),
    edgeUsPerDelivery: r.push?.edge?.edgeUsPerDelivery ?? NaN,
    deliveriesPerSecond: r.push?.edge?.deliveriesPerSecond ?? NaN,
    scrapes,
    avgScrapeBytes: scrapes ? Math.round(scrapeBytes / scrapes) : 0,
  };
  log(JSON.stringify(row));
  return row;
}

const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
const rows = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const conns of connCounts) for (const mode of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) rows.push(await runBench(mode, round, conns));
  }
} finally {
  sink.close();
}
const mean = (list, key) => list.reduce((s, r) => s + r[key], 0) / list.length;
const summary = {};
for (const conns of connCounts) {
  const of = (mode) => rows.filter((r) => r.mode === mode && r.conns === conns);
  for (const key of ['edgeUsPerDelivery', 'deliveriesPerSecond', 'kibPerConnection', 'kibPerConnectionLeftAlone', 'heapBytesPerConnection', 'rssBeforeKiB']) {
    const [off, on] = [mean(of('off'), key), mean(of('on'), key)];
    summary[`${key} @${conns}`] = { off, on, ratio: on / off };
  }
}
// RSS growth = fixed + perConnection x n, least squares over every run of a mode.
const fit = (mode) => {
  const pts = rows.filter((r) => r.mode === mode).map((r) => [r.conns, r.rssGrowthKiB]);
  const mx = mean(pts.map(([x]) => ({ x })), 'x');
  const my = mean(pts.map(([, y]) => ({ y })), 'y');
  const sxx = pts.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? NaN : pts.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return { kibPerConnection: slope, fixedKiB: my - slope * mx };
};
const fits = connCounts.length > 1 ? { off: fit('off'), on: fit('on') } : undefined;
if (fits) summary['fitted kibPerConnection'] = { off: fits.off.kibPerConnection, on: fits.on.kibPerConnection, ratio: fits.on.kibPerConnection / fits.off.kibPerConnection };
const config = { rounds, connCounts, scrapeMs, tracing: tracingOn, traceRatio: Number(traceRatio), pushHeaders, phases: process.env.BENCH_PHASES ?? 'memory-edge,push-edge' };
const report = { startedAt, durationS: Math.round((Date.now() - Date.parse(startedAt)) / 1000), loadAverageAtStart: loadAtStart, config, rows, summary, fits, otlpExportRequests: exports };
writeFileSync(join(outDir, 'telemetry-overhead.json'), JSON.stringify(report, null, 2) + '\n');
if (process.env.BENCH_TELEMETRY_SAVE === '1') writeFileSync(join(ROOT, 'bench/results/telemetry-overhead.json'), JSON.stringify(report, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(rows, null, 1)}\n\n`);
process.stdout.write(`results in ${outDir}\n`);
for (const [key, v] of Object.entries(summary)) process.stdout.write(`${key.padEnd(34)} off ${v.off.toFixed(3)}  on ${v.on.toFixed(3)}  on/off ${v.ratio.toFixed(3)}\n`);
if (fits) for (const mode of ['off', 'on']) process.stdout.write(`fit ${mode}: ${fits[mode].kibPerConnection.toFixed(3)} KiB per connection + ${fits[mode].fixedKiB.toFixed(0)} KiB fixed\n`);
