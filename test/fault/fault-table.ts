/**
 * Runs faults one after the other on one topology and counts, per fault, what issue 9 asks for.
 * Between faults the mesh must be back to normal: every client open and the registry's presence
 * equal to the open sockets, connection by connection.
 */
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';
import type { Fault } from './faults.js';
import { Observer, probeBlacklist, type BlacklistProbe } from './measure.js';
import { Population } from './population.js';
import { startTopology, type Topology } from './topology.js';

export interface FaultTableOptions {
  readonly clients: number;
  readonly faults: readonly Fault[];
  /** Full durations (the script) or the short CI form. */
  readonly long: boolean;
  /** Users pushed to every 20 ms. */
  readonly pushesPerTick: number;
  readonly heartbeatMs: number;
  readonly edgeLostAfterMs: number;
  readonly log?: (line: string) => void;
}

export interface FaultRow {
  readonly fault: string;
  readonly pushes: { sent: number; delivered: number; lost: number; duplicated: number; outOfOrder: number };
  readonly sockets: { kept: number; dropped: number };
  /** Registry presence vs open sockets after recovery, connection by connection. */
  readonly presenceMismatches: number;
  readonly events: { truth: number; announced: number; duplicates: number; coalesced: number; extra: number; finalWrong: number };
  /** Disconnect events the registry made itself (code 0), by reason. */
  readonly registryDisconnects: Record<string, number>;
  readonly blacklist: BlacklistProbe | undefined;
  readonly recoveryMs: number;
  readonly collisions: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runFaultTable(options: FaultTableOptions, onRow?: (row: FaultRow) => void): Promise<{ rows: FaultRow[]; collisions: number }> {
  const log = options.log ?? (() => undefined);
  const topology = await startTopology({ heartbeatMs: options.heartbeatMs, edgeLostAfterMs: options.edgeLostAfterMs });
  const edgeUrls = (): string[] => topology.edges.map((_, i) => topology.edgeUrl(i));
  const population = new Population(edgeUrls, options.clients);
  const observer = new Observer(topology, population);
  const rows: FaultRow[] = [];
  try {
    await population.connectAll();
    observer.startPushes(options.pushesPerTick);
    await converge(observer, population, 60_000);
    for (const fault of options.faults) {
      log(`fault: ${fault.name}`);
      const row = await runOne(topology, population, observer, fault, options);
      rows.push(row);
      onRow?.(row);
    }
    return { rows, collisions: population.collisions };
  } finally {
    observer.stopPushes();
    await population.stop();
    await topology.stop();
  }
}

/**
 * Waits until every client is open, none is between a client-side close and its reconnect (a
 * rebalance or churn still in flight would otherwise land in the next fault's counts), and presence
 * matches; returns how long it took.
 */
async function converge(observer: Observer, population: Population, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const settled = () => population.openCount() === population.clients.length && population.clients.every((c) => !c.paused);
    if (settled() && (await observer.presenceMismatches()) === 0 && settled()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) return -1;
    await sleep(200);
  }
}

async function runOne(topology: Topology, population: Population, observer: Observer, fault: Fault, options: FaultTableOptions): Promise<FaultRow> {
  const clients = population.clients;
  if (population.rebalance() > 0) await converge(observer, population, 30_000);
  await waitQuiet(observer, population, 5_000);
  const startSocks = clients.map((c) => c.sock);
  const startDrops = clients.map((c) => c.drops);
  const startOoo = clients.map((c) => c.outOfOrder);
  const startTransitions = clients.map((c) => c.transitions.length);
  const startEvents = clients.map((c) => observer.presence.get(c.user)?.length ?? 0);
  const startDisconnects = new Map(observer.registryDisconnects);
  const t0 = Date.now();
  const victim = await Victim.connect(topology, fault.name);
  let probe: Promise<BlacklistProbe> | undefined;
  const churn = fault.churn === true ? setInterval(() => population.churn(Math.max(1, Math.round(clients.length / 50))), 100) : undefined;
  try {
    await fault.inject({ topology, long: options.long, during: () => (probe ??= probeBlacklist(topology, victim.api)) });
  } finally {
    clearInterval(churn);
  }
  let recoveryMs = await converge(observer, population, 90_000);
  if (recoveryMs < 0) recoveryMs = Number.POSITIVE_INFINITY;
  // Presence events still in flight: wait (bounded) until each user's last event says what is true.
  await waitQuiet(observer, population, 5_000);
  const blacklist = probe === undefined ? undefined : await probe;
  victim.close();
  // A measurement window of at least 3 s, so short faults still count pushes.
  while (Date.now() - t0 < 3_000) await sleep(100);
  const end = Date.now();

  let sent = 0;
  let delivered = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (let i = 0; i < clients.length; i++) {
    const c = clients[i]!;
    outOfOrder += c.outOfOrder - startOoo[i]!;
    for (const [seq, at] of observer.sent.get(c.user) ?? []) {
      // Pushes of the last second may still be on their way.
      if (at < t0 || at > end - 1000) continue;
      sent++;
      const n = c.received.get(seq) ?? 0;
      if (n > 0) delivered++;
      if (n > 1) duplicated++;
    }
  }
  const events = { truth: 0, announced: 0, duplicates: 0, coalesced: 0, extra: 0, finalWrong: 0 };
  for (let i = 0; i < clients.length; i++) {
    const c = clients[i]!;
    const truth = collapse(c.transitions.slice(startTransitions[i]!).map((t) => t.status), c.transitions[startTransitions[i]! - 1]?.status);
    const all = observer.presence.get(c.user) ?? [];
    const before = all[startEvents[i]! - 1]?.status;
    const announced = all.slice(startEvents[i]!).map((e) => e.status);
    let previous = before;
    let dups = 0;
    for (const s of announced) {
      if (s === previous) dups++;
      previous = s;
    }
    events.truth += truth;
    events.announced += announced.length;
    events.duplicates += dups;
    const distinct = announced.length - dups;
    if (distinct < truth) events.coalesced += truth - distinct;
    else events.extra += distinct - truth;
    const isOnline = c.sock !== undefined;
    if ((previous === 'online') !== isOnline) events.finalWrong++;
  }
  const registryDisconnects: Record<string, number> = {};
  for (const [reason, n] of observer.registryDisconnects) {
    const d = n - (startDisconnects.get(reason) ?? 0);
    if (d > 0) registryDisconnects[reason] = d;
  }
  return {
    fault: fault.name,
    pushes: { sent, delivered, lost: sent - delivered, duplicated, outOfOrder },
    sockets: {
      kept: clients.filter((c, i) => startSocks[i] !== undefined && c.sock === startSocks[i]).length,
      dropped: clients.reduce((n, c, i) => n + c.drops - startDrops[i]!, 0),
    },
    presenceMismatches: await observer.presenceMismatches(),
    events,
    registryDisconnects,
    blacklist,
    recoveryMs,
    collisions: population.collisions,
  };
}

/** True transitions of a user's status: changes, counted from its status before the window. */
function collapse(statuses: Array<'online' | 'offline'>, before: 'online' | 'offline' | undefined): number {
  let n = 0;
  let previous = before;
  for (const s of statuses) {
    if (s !== previous) n++;
    previous = s;
  }
  return n;
}

async function waitQuiet(observer: Observer, population: Population, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const wrong = population.clients.some((c) => {
      const last = observer.presence.get(c.user)?.at(-1)?.status;
      return (last === 'online') !== (c.sock !== undefined);
    });
    if (!wrong) return;
    await sleep(100);
  }
}

/** A session of its own, blacklisted while the fault is in effect. */
class Victim {
  private closedAt: number | undefined;
  private readonly extra: MeshClient[] = [];

  private constructor(
    readonly session: string,
    private readonly token: string,
    private readonly client: MeshClient | undefined,
  ) {
    client?.ws.on('close', () => (this.closedAt ??= Date.now()));
  }

  static async connect(topology: Topology, fault: string): Promise<Victim> {
    const session = `victim-${fault.replace(/[^A-Za-z0-9]+/g, '-')}-${Date.now().toString(36)}`;
    const token = await mintToken({ sub: `victim-user-${session}`, jti: session });
    // Live on edge 0, the edge most faults hit.
    const client = await connectClient({ url: topology.edgeUrl(0), token }).catch(() => undefined);
    return new Victim(session, token, client?.welcome === undefined ? undefined : client);
  }

  get api(): { session: string; closedAt(): number | undefined; reconnect(url: string): Promise<boolean> } {
    return {
      session: this.session,
      closedAt: () => (this.client === undefined ? 0 : this.closedAt),
      reconnect: async (url) => {
        const c = await connectClient({ url, token: this.token, timeoutMs: 3000 }).catch(() => undefined);
        if (c !== undefined) this.extra.push(c);
        return c?.welcome !== undefined && c.closed === undefined;
      },
    };
  }

  close(): void {
    this.client?.ws.terminate();
    for (const c of this.extra) c.ws.terminate();
  }
}

/** The table as Markdown (docs/reliability.md takes it as printed). */
export function formatTable(rows: readonly FaultRow[]): string {
  const head = [
    'fault',
    'pushes sent / delivered / lost / dup / out of order',
    'sockets kept / dropped',
    'presence mismatches',
    'presence events: true / announced / dup / coalesced / extra / final wrong',
    'registry-made disconnects',
    'blacklist: status, enforcement, ack ms, closed after ack ms, reconnects welcomed',
    'recovery ms',
  ];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const p = r.pushes;
    const e = r.events;
    const b = r.blacklist;
    const bl = b === undefined ? '-' : `${b.status}${b.attempts > 1 ? ` (${b.attempts} tries)` : ''}, ${b.enforcement || '-'}, ${b.ackMs}, ${b.closedAfterAckMs < 0 ? 'still open' : b.closedAfterAckMs}, ${b.welcomedAfterAck}/${b.reconnectAttempts}`;
    const rd = Object.entries(r.registryDisconnects).map(([k, v]) => `${k} ${v}`).join(', ') || '0';
    lines.push(
      `| ${r.fault} | ${p.sent} / ${p.delivered} / ${p.lost} / ${p.duplicated} / ${p.outOfOrder} | ${r.sockets.kept} / ${r.sockets.dropped} | ${r.presenceMismatches} | ${e.truth} / ${e.announced} / ${e.duplicates} / ${e.coalesced} / ${e.extra} / ${e.finalWrong} | ${rd} | ${bl} | ${Number.isFinite(r.recoveryMs) ? r.recoveryMs : 'not recovered'} |`,
    );
  }
  return lines.join('\n');
}
