import { randomBytes } from 'node:crypto';
import { NoRespondersError, RequestTimeoutError, type Bus } from '@session-mesh/bus';
import { parseBlacklistAck, parseStatsReply, type BlacklistEntry, type BlacklistSync, type Subjects } from '@session-mesh/protocol';

/**
 * The blacklist promise (docs/reliability.md): after the entry is stored, the admin API sends it
 * to every edge over core NATS and waits until every LIVE edge (the edges the registry hears
 * heartbeats from) has applied it and closed the matching connections, for at most
 * ENFORCEMENT_BOUND_MS. The answer says which edges confirmed and which did not.
 */
export const ENFORCEMENT_BOUND_MS = 2_000;
/** The registry's list of live edges is asked for at most this long (inside the bound). */
const REGISTRY_TIMEOUT_MS = 500;

export interface Enforcement {
  /**
   * `complete`: every live edge confirmed; `partial`: some did not within the bound; `unknown`: no
   * registry answered, so the live edges are unknown (answered at once when no replica exists,
   * after the bound when replicas exist but none answered).
   */
  readonly state: 'complete' | 'partial' | 'unknown';
  readonly acked: readonly string[];
  readonly pending: readonly string[];
  /** Live connections closed by the entry, summed over the edges that confirmed. */
  readonly closed: number;
  readonly ms: number;
}

export async function enforceOnEdges(
  deps: { readonly bus: Bus; readonly subjects: Subjects; readonly now?: () => number },
  entry: BlacklistEntry,
  revision: number,
  boundMs = ENFORCEMENT_BOUND_MS,
): Promise<Enforcement> {
  const { bus, subjects } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const acked = new Set<string>();
  let closed = 0;
  let expected: Set<string> | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const check = (): void => {
    if (expected !== undefined && [...expected].every((e) => acked.has(e))) done();
  };
  const ack = subjects.blacklistAck(randomBytes(8).toString('hex'));
  const sub = bus.subscribe(ack, (msg) => {
    const a = parseBlacklistAck(msg.data);
    if (a === undefined || a.revision !== revision || acked.has(a.edge)) return;
    acked.add(a.edge);
    closed += a.closed;
    check();
  });
  const timer = setTimeout(done, boundMs);
  try {
    await bus.flush();
    const sync: BlacklistSync = { entry, revision, ack };
    bus.publish(subjects.blacklistSync(), new TextEncoder().encode(JSON.stringify(sync)));
    const live = await liveEdges(bus, subjects, started + boundMs, now);
    expected = live === 'none' ? undefined : live;
    // Without any registry nobody knows which edges are live: answer with the acks so far. (A
    // registry that exists but does not answer in time leaves `expected` unknown until the bound.)
    if (live === 'none') done();
    check();
    await finished;
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
  const pending = expected === undefined ? [] : [...expected].filter((e) => !acked.has(e)).sort();
  const state = expected === undefined ? 'unknown' : pending.length === 0 ? 'complete' : 'partial';
  return { state, acked: [...acked].sort(), pending, closed, ms: now() - started };
}

/**
 * The edges the registry hears from; 'none' when no registry replica exists (no responders);
 * undefined when replicas exist but none answered before `deadline` (asked again meanwhile: a
 * request can land on a replica behind a frozen NATS node).
 */
async function liveEdges(bus: Bus, subjects: Subjects, deadline: number, now: () => number): Promise<Set<string> | 'none' | undefined> {
  for (;;) {
    const timeoutMs = Math.min(REGISTRY_TIMEOUT_MS, deadline - now());
    if (timeoutMs <= 0) return undefined;
    try {
      const reply = await bus.request(subjects.registryStats(), new Uint8Array(0), { timeoutMs });
      const stats = parseStatsReply(reply.data);
      return stats.ok ? new Set(stats.value.edges.map((e) => e.edge)) : undefined;
    } catch (err) {
      if (err instanceof NoRespondersError) return 'none';
      if (!(err instanceof RequestTimeoutError)) return undefined;
    }
  }
}
