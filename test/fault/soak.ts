/**
 * The soak: the fault topology (3-node NATS cluster, two edges, two registry replicas, the admin
 * API, all real processes) held under a steady load for minutes, with no fault: thousands of
 * sessions, numbered pushes to the half that stays connected, churn (close and reconnect) on the
 * other half, and every process's memory sampled. At the end: pushes exact for the steady half,
 * presence equal to the sockets connection by connection, no presence status told twice in a row,
 * no connection id handed out twice, and each process's memory after the warm-up compared with
 * its memory at the end.
 */
import { readFileSync } from 'node:fs';
import { Observer } from './measure.js';
import { Population } from './population.js';
import { startTopology, type Topology } from './topology.js';

export interface SoakOptions {
  /** Sessions in all; half steady (receive pushes), half churning. */
  readonly sessions: number;
  readonly durationMs: number;
  /** Pushes per 20 ms tick, round robin over the steady half. */
  readonly pushesPerTick: number;
  /** Share of the churning half closed (and reconnected) every second. */
  readonly churnPerSecond: number;
  /** Memory is sampled this often; samples before `warmupShare` of the run are the warm-up. */
  readonly sampleMs: number;
  readonly warmupShare: number;
  readonly log?: (line: string) => void;
}

export interface MemoryRow {
  readonly process: string;
  /** VmRSS, KiB: the first sample after the warm-up, the peak after it, the last one. */
  readonly warmKiB: number;
  readonly peakKiB: number;
  readonly endKiB: number;
}

export interface SoakReport {
  readonly sessions: number;
  readonly durationMs: number;
  readonly pushes: { sent: number; delivered: number; lost: number; duplicated: number; outOfOrder: number };
  /** Sockets opened by the churning half during the run (each a connect and, later, a disconnect). */
  readonly churnConnects: number;
  readonly presenceMismatches: number;
  readonly duplicateTransitions: number;
  readonly finalWrong: number;
  readonly collisions: number;
  readonly memory: readonly MemoryRow[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of a process, KiB (0 when it is gone). */
function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? 0 : Number(line.replace(/\D+/g, ''));
  } catch {
    return 0;
  }
}

function processes(topology: Topology): Array<{ name: string; pid: number | undefined }> {
  return [
    ...topology.edges.map((p, i) => ({ name: `edge-${i}`, pid: p.child.pid })),
    ...topology.registries.map((p, i) => ({ name: `registry-${i}`, pid: p.child.pid })),
    { name: 'admin', pid: topology.admin.child.pid },
    ...topology.nats.servers.map((s, i) => ({ name: `nats-${i}`, pid: s.pid })),
  ];
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const topology = await startTopology({ heartbeatMs: 1_000, edgeLostAfterMs: 30_000 });
  const edgeUrls = (): string[] => topology.edges.map((_, i) => topology.edgeUrl(i));
  const steady = new Population(edgeUrls, Math.ceil(options.sessions / 2), 's');
  const churning = new Population(edgeUrls, Math.floor(options.sessions / 2), 'c');
  const steadyView = new Observer(topology, steady);
  const churnView = new Observer(topology, churning);
  const procs = processes(topology);
  const samples: number[][] = [];
  let churnTimer: NodeJS.Timeout | undefined;
  let sampleTimer: NodeJS.Timeout | undefined;
  try {
    const connectStart = Date.now();
    await Promise.all([steady.connectAll(), churning.connectAll()]);
    log(`${options.sessions} sessions connected in ${Date.now() - connectStart} ms`);
    steadyView.startPushes(options.pushesPerTick);
    const perSecond = Math.max(1, Math.round(churning.clients.length * options.churnPerSecond));
    churnTimer = setInterval(() => churning.churn(perSecond), 1000);
    const started = Date.now();
    sampleTimer = setInterval(() => samples.push(procs.map((p) => rssKiB(p.pid))), options.sampleMs);
    while (Date.now() - started < options.durationMs) {
      await sleep(Math.min(10_000, options.durationMs - (Date.now() - started)));
      const last = samples.at(-1) ?? [];
      log(`${Math.round((Date.now() - started) / 1000)} s: open ${steady.openCount() + churning.openCount()}/${options.sessions}, RSS MiB ${procs.map((p, i) => `${p.name} ${Math.round((last[i] ?? 0) / 1024)}`).join(', ')}`);
    }
    clearInterval(churnTimer);
    clearInterval(sampleTimer);
    samples.push(procs.map((p) => rssKiB(p.pid)));
    steadyView.stopPushes();
    const stoppedAt = Date.now();

    // Everything published must arrive; the churning half must be back and presence must agree.
    await settle(() => steady.clients.every((c) => c.received.size >= (steadyView.sent.get(c.user)?.length ?? 0)), 15_000);
    await settle(async () => churning.openCount() === churning.clients.length && (await steadyView.presenceMismatches()) === 0 && (await churnView.presenceMismatches()) === 0, 60_000);
    await settle(() => [...steady.clients, ...churning.clients].every((c) => lastStatus(c.user) === (c.sock !== undefined ? 'online' : 'offline')), 10_000);
    log(`settled ${Date.now() - stoppedAt} ms after the load stopped`);

    function lastStatus(user: string): string | undefined {
      return (steadyView.presence.get(user) ?? []).at(-1)?.status;
    }
    const pushes = { sent: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
    for (const c of steady.clients) {
      pushes.outOfOrder += c.outOfOrder;
      for (const [seq] of steadyView.sent.get(c.user) ?? []) {
        pushes.sent++;
        const n = c.received.get(seq) ?? 0;
        if (n > 0) pushes.delivered++;
        else pushes.lost++;
        if (n > 1) pushes.duplicated++;
      }
    }
    let duplicateTransitions = 0;
    let finalWrong = 0;
    for (const c of [...steady.clients, ...churning.clients]) {
      let previous: string | undefined;
      for (const e of steadyView.presence.get(c.user) ?? []) {
        if (e.status === previous) duplicateTransitions++;
        previous = e.status;
      }
      if ((previous === 'online') !== (c.sock !== undefined)) finalWrong++;
    }
    const warm = samples[Math.min(samples.length - 1, Math.floor(samples.length * options.warmupShare))] ?? [];
    const after = samples.slice(Math.floor(samples.length * options.warmupShare));
    const memory = procs.map((p, i) => ({
      process: p.name,
      warmKiB: warm[i] ?? 0,
      peakKiB: Math.max(...after.map((s) => s[i] ?? 0)),
      endKiB: samples.at(-1)?.[i] ?? 0,
    }));
    return {
      sessions: options.sessions,
      durationMs: options.durationMs,
      pushes,
      churnConnects: churning.connIds.size - churning.clients.length,
      presenceMismatches: (await steadyView.presenceMismatches()) + (await churnView.presenceMismatches()),
      duplicateTransitions,
      finalWrong,
      collisions: steady.collisions + churning.collisions + [...steady.connIds.keys()].filter((id) => churning.connIds.has(id)).length,
      memory,
    };
  } finally {
    clearInterval(churnTimer);
    clearInterval(sampleTimer);
    steadyView.stopPushes();
    await Promise.all([steady.stop(), churning.stop()]);
    await topology.stop();
  }
}

/** Waits until `done` holds, up to `timeoutMs` (then the report shows what did not settle). */
async function settle(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !(await done())) await sleep(200);
}

export function formatSoak(r: SoakReport): string {
  const p = r.pushes;
  const lines = [
    `soak: ${r.sessions} sessions for ${Math.round(r.durationMs / 1000)} s; churn connects ${r.churnConnects}`,
    `pushes sent ${p.sent} / delivered ${p.delivered} / lost ${p.lost} / duplicated ${p.duplicated} / out of order ${p.outOfOrder}`,
    `presence: mismatches ${r.presenceMismatches}, duplicate transitions ${r.duplicateTransitions}, last event wrong ${r.finalWrong}; connection-id collisions ${r.collisions}`,
    '',
    '| process | RSS after warm-up | peak after it | at the end | end / warm |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...r.memory.map((m) => `| ${m.process} | ${(m.warmKiB / 1024).toFixed(1)} MiB | ${(m.peakKiB / 1024).toFixed(1)} MiB | ${(m.endKiB / 1024).toFixed(1)} MiB | ${(m.endKiB / Math.max(1, m.warmKiB)).toFixed(2)} |`),
  ];
  return lines.join('\n');
}
