/**
 * CI form of `npm run bench:durable` (bench/durable.mjs): the same script at small scale (100
 * clients, 5 pushes each while away, 1 s per cost mode) on a real nats-server and real edge
 * processes. Asserts exact counts only: after edge A is SIGKILLed and every client resumes on the
 * survivors, each got exactly its missed durable pushes (0 lost, 0 duplicated, all recovered), and
 * no cost mode lost a push. Timings are the benchmark's business, not this test's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchRun } from '../support/bench-run.js';
import { natsServerBinary } from '../support/nats-server.js';

const dir = mkdtempSync(join(tmpdir(), 'durable-smoke-'));
const bench = new BenchRun();

afterAll(() => {
  bench.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Percentiles {
  n: number;
}
interface DurableReport {
  errors: { phase: string; error: string }[];
  storm: {
    clients: number;
    sent: number;
    delivered: number;
    lost: number;
    duplicated: number;
    unexpected: number;
    outOfOrderClients: number;
    liveAfterReplay: number;
    replayEndShort: number;
    recovered: number;
    failed: number;
    publishedWhileAway: { streamMessages: number };
    welcomeMs: Percentiles;
    replayCompleteMs: Percentiles;
  };
  stormVariants: { missedPerClient: number; sent: number; delivered: number; lost: number; duplicated: number; recovered: number; failed: number }[];
  cost: { mode: string; published: number; delivered: number; lost: number; wrongKind: number; acked?: number; nats: { syncAlways: boolean }; oneAtATime: { sent: number; delivered: number } }[];
}

const runBench = (env: Record<string, string>) => bench.run(process.execPath, ['bench/durable.mjs'], { ...process.env, ...env });

describe('bench:durable at small scale', () => {
  it('replays exactly the missed durable pushes to every client after edge A is SIGKILLed, and loses none in any cost mode', async () => {
    const out = join(dir, 'durable.json');
    const clients = 100;
    const missed = 5;
    const { code, output } = await runBench({
      BENCH_NATS_SERVER: natsServerBinary(),
      BENCH_DURABLE_CLIENTS: String(clients),
      BENCH_DURABLE_MISSED: String(missed),
      BENCH_DURABLE_MISSED_VARIANTS: '2',
      BENCH_DURABLE_COST_USERS: '100',
      BENCH_DURABLE_COST_SECONDS: '1',
      BENCH_DURABLE_SERIAL_SECONDS: '1',
      BENCH_DURABLE_OUT: out,
      BENCH_RENDER: '0',
    });
    expect(code, output).toBe(0);
    const r = JSON.parse(readFileSync(out, 'utf8')) as DurableReport;
    expect(r.errors).toEqual([]);

    const s = r.storm;
    expect(s).toMatchObject({
      clients,
      sent: clients * missed,
      delivered: clients * missed,
      lost: 0,
      duplicated: 0,
      unexpected: 0,
      outOfOrderClients: 0,
      liveAfterReplay: 0,
      replayEndShort: 0,
      recovered: clients,
      failed: 0,
    });
    // One push each before the kill, `missed` each while away.
    expect(s.publishedWhileAway.streamMessages).toBe(clients * (missed + 1));
    expect(s.welcomeMs.n).toBe(clients);
    expect(s.replayCompleteMs.n).toBe(clients);

    // The extra storm (2 missed each by default) holds to the same counts.
    expect(r.stormVariants).toEqual([expect.objectContaining({ missedPerClient: 2, sent: clients * 2, delivered: clients * 2, lost: 0, duplicated: 0, recovered: clients, failed: 0 })]);

    expect(r.cost.map((m) => m.mode)).toEqual(['at-most-once', 'durable', 'durable, sync_interval: always']);
    expect(r.cost.map((m) => m.nats.syncAlways)).toEqual([false, false, true]);
    for (const m of r.cost) {
      expect(m.published, m.mode).toBeGreaterThan(0);
      expect({ mode: m.mode, delivered: m.delivered, lost: m.lost, wrongKind: m.wrongKind }).toEqual({ mode: m.mode, delivered: m.published, lost: 0, wrongKind: 0 });
      if (m.acked !== undefined) expect(m.acked, m.mode).toBe(m.published);
      expect(m.oneAtATime.delivered, m.mode).toBe(m.oneAtATime.sent);
    }
  }, 180_000);
});
