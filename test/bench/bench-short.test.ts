/**
 * CI form of `npm run bench` (scripts/bench.sh --short): every default phase at tiny sizes
 * (bench/lib/short-mode.mjs) on real processes: nats-server, edges, the registry, the admin API,
 * raw uWebSockets.js, the peers and the Go load generator. Asserts that every scenario produced
 * figures (a peer that cannot be installed here may instead be NOT RUN, with its reason), that the
 * figures are plausible (deliveries counted, presence exact after churn, every kill propagated),
 * that the markdown names every scenario, and that the real results and docs were not touched.
 * Speeds are the benchmark's business, not this test's.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchRun } from '../support/bench-run.js';
import { natsServerBinary } from '../support/nats-server.js';

const repoRoot = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'bench-short-'));
const bench = new BenchRun();

afterAll(() => {
  // SIGTERM: bench.sh forwards it and the bench stops every process it started.
  bench.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Figures are read loosely: the JSON is the bench's, and each check names the field it needs.
type Figures = Record<string, any>;
interface Results {
  config: { phases: string[]; short: boolean; conns: number };
  errors: { phase: string; error: string; unavailable?: boolean }[];
  peers: { labels: Record<string, string> };
  memory: Record<string, Figures>;
  push: Record<string, Figures>;
  connect: Record<string, Figures>;
  latency: Record<string, Figures>;
  broadcast: Record<string, Figures>;
  capacity?: Figures;
  capacityPeers: Record<string, Figures>;
  propagation?: Figures;
  churn?: Figures;
  phaseSeconds: Record<string, number>;
  durationS: number;
}

/** A phase's figures: `<scenario>-<server>` phases live under results[<scenario>][<server>] (capacity-<peer>: results.capacityPeers[<peer>]), the others under results[<phase>]. */
function figuresOf(r: Results, phase: string): Figures | undefined {
  if (phase.startsWith('capacity-')) return r.capacityPeers[phase.slice('capacity-'.length)];
  const dash = phase.indexOf('-');
  const group = dash > 0 ? (r as unknown as Record<string, Record<string, Figures> | undefined>)[phase.slice(0, dash)] : undefined;
  if (group && typeof group === 'object' && ['memory', 'push', 'connect', 'latency', 'broadcast'].includes(phase.slice(0, dash))) return group[phase.slice(dash + 1)];
  return (r as unknown as Record<string, Figures | undefined>)[phase];
}

const fileHash = (path: string) => (existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'absent');

function runBench(env: Record<string, string>) {
  // Every default phase at the short mode's sizes, whatever the caller's environment selects.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^BENCH_(PHASES|MERGE|RESULTS|RENDER|SKIP_EDGE|SHORT)$|^BENCH_(CONNS|PUSH|STORM|LATENCY|BROADCAST|CAPACITY|PROPAGATION|CHURN|LOAD|QUIET)/.test(k)));
  return bench.run('bash', ['scripts/bench.sh', '--short'], { ...inherited, ...env });
}

describe('npm run bench in its short mode', () => {
  it('runs every default phase at tiny sizes into a temporary folder, with plausible figures for every scenario', async () => {
    const kept = ['bench/results/latest.json', 'docs/benchmarks.md'].map((p) => join(repoRoot, p));
    const before = kept.map(fileHash);
    const { code, output } = await runBench({ BENCH_NATS_SERVER: natsServerBinary(), BENCH_OUT_DIR: dir, BENCH_LOG_DIR: join(dir, 'logs') });
    const tail = output.slice(-6000);
    expect(code, tail).toBe(0);
    expect(kept.map(fileHash), 'the real results and docs are left alone').toEqual(before);
    const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
    expect(r.config.short).toBe(true);
    expect(r.config.conns).toBe(300);

    // Every default phase: figures, or (a peer only) NOT RUN with its reason.
    const peers = Object.keys(r.peers.labels);
    expect(r.config.phases).toEqual(expect.arrayContaining(['memory-edge', 'push-edge', 'connect-edge', 'latency-edge', 'broadcast-edge', 'capacity', 'propagation', 'churn']));
    const notRun: string[] = [];
    for (const phase of r.config.phases) {
      const error = r.errors.find((e) => e.phase === phase);
      if (figuresOf(r, phase) !== undefined) continue;
      expect(error, `${phase} produced no figures and no reason`).toBeDefined();
      expect({ phase, unavailable: error?.unavailable, peer: peers.some((p) => phase.endsWith(`-${p}`)) }, error?.error).toEqual({ phase, unavailable: true, peer: true });
      expect(error?.error.length, phase).toBeGreaterThan(10);
      notRun.push(phase);
    }
    expect(r.errors.filter((e) => !e.unavailable), tail).toEqual([]);

    // Plausibility, scenario by scenario.
    for (const [k, m] of Object.entries(r.memory)) {
      expect(m.connections, `memory-${k}`).toBe(300);
      expect(Number.isFinite(m.kibPerConnection), `memory-${k}`).toBe(true);
    }
    for (const [k, p] of Object.entries(r.push)) {
      expect(p.delivered, `push-${k}`).toBeGreaterThan(0);
      expect(p.deliveriesPerSecond, `push-${k}`).toBeGreaterThan(0);
    }
    expect(r.push.edge?.lost).toBe(0);
    for (const [k, c] of Object.entries(r.connect)) {
      for (const round of [c, c.hs256, c.es256].filter((x) => x?.connectsPerSecond !== undefined)) {
        expect(round.connects, `connect-${k}`).toBe(300);
        expect(round.connectsPerSecond, `connect-${k}`).toBeGreaterThan(0);
      }
    }
    for (const [k, l] of Object.entries(r.latency)) {
      expect(l.steps.length, `latency-${k}`).toBeGreaterThan(0);
      for (const s of l.steps) expect(s.delivered, `latency-${k} at ${s.offeredPerSecond}/s`).toBeGreaterThan(0);
      expect(l.steps[0].latencyMs.p50, `latency-${k}`).toBeGreaterThan(0);
    }
    for (const [k, b] of Object.entries(r.broadcast)) {
      expect({ k, delivered: b.burst.delivered }).toEqual({ k, delivered: b.burst.expected });
      expect(b.single.runs.every((x: Figures) => x.delivered === b.sockets), `broadcast-${k}`).toBe(true);
    }
    const cap = r.capacity!;
    expect({ opened: cap.opened, edgeConnections: cap.edgeConnections, countMatched: cap.registry.countMatched }).toEqual({ opened: cap.connections, edgeConnections: cap.connections, countMatched: true });
    expect(cap.fill.connections).toBe(cap.fill.requested);
    const prop = r.propagation!;
    for (const kind of ['kill', 'blacklist']) expect({ kind, misses: prop[kind].misses, closed: prop[kind].lastSocketClosedMs.count }).toEqual({ kind, misses: 0, closed: prop[kind].requests });
    expect(prop.killedCloses.counted).toBe(prop.killedCloses.expected);
    expect(prop.blacklistedCloses.counted).toBe(prop.blacklistedCloses.expected);
    // The peers' capacity and kill propagation: every session held, every kill closed every socket of its user.
    for (const [k, c] of Object.entries(r.capacityPeers)) {
      expect({ k, opened: c.opened }).toEqual({ k, opened: c.sessions });
      expect(Number.isFinite(c.memory.kibPerConnection), `capacity-${k}`).toBe(true);
      const kill = c.propagation.kill;
      expect({ k, misses: kill.misses, closed: kill.lastSocketClosedMs.count }).toEqual({ k, misses: 0, closed: kill.requests });
      expect({ k, closes: c.propagation.closes.counted }).toEqual({ k, closes: c.propagation.closes.expected });
    }
    const churn = r.churn!;
    expect(churn.disconnects).toBeGreaterThanOrEqual(churn.ratePerSecond * churn.seconds);
    expect(churn.connects + churn.failures.reconnectsFailed).toBe(churn.disconnects);
    const p = churn.presence;
    expect({ exact: p.exact, connections: p.registry.connections, users: p.registry.users, sessions: p.registry.sessions, edges: p.edges.connections }).toEqual({ exact: true, connections: p.truth, users: p.truth, sessions: p.truth, edges: p.truth });
    expect(p.truth).toBe(churn.heldSessions + churn.churningSessions - churn.failures.reconnectsFailed);
    expect(churn.nats.subscriptionsAtEnd).toBe(churn.nats.subscriptionsExpected);
    expect(churn.samples.length).toBeGreaterThan(3);
    for (const m of Object.values(churn.memory) as Figures[]) expect(m.growthRatio).toBeGreaterThan(0);

    // The markdown names every scenario, and every phase that did not run with its reason.
    const md = readFileSync(join(dir, 'benchmarks.md'), 'utf8');
    for (const heading of ['### Memory per idle connection', '### Targeted pushes', '### Connect storm', '### Targeted-push latency at rising rates', '### Broadcast', '### Capacity', '### Kill and blacklist propagation', '### Churn', '### Peers in the same run']) {
      expect(md, heading).toContain(heading);
    }
    expect(md).toContain('**Short mode**');
    expect(md).toMatch(/Presence was \*\*exact\*\*/);
    expect(existsSync(join(dir, 'img/bench-churn.svg'))).toBe(true);
    for (const phase of notRun) {
      const reason = (r.errors.find((e) => e.phase === phase)?.error ?? '').split('\n')[0]?.slice(0, 60) ?? '';
      expect(md, `${phase} is named as not run, with its reason`).toContain(reason);
    }
    // The run's counts, for the log.
    process.stdout.write(`bench short mode: ${r.durationS} s; not run: ${notRun.join(', ') || 'none'}; churn ${churn.disconnects} disconnects, presence ${p.registry.connections}/${p.truth}\n`);
  }, 600_000);
});
