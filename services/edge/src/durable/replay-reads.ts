import type { BusStream, StoredMessage } from '@session-mesh/bus';
import { encodeId, Header, type Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { ReplayLimiter } from './replay-limiter.js';

/** Who is resuming, as the read needs it. */
export interface ReplayTarget {
  readonly user: string;
  readonly session: string;
  readonly client: string;
}

export interface ReplayReadConfig {
  /** Durable pushes replayed to one client at most; past it the read answers undefined. */
  readonly replayMax: number;
  /** Largest range of stream positions read once for a group of resuming clients (0: never merge). */
  readonly mergeMax: number;
}

export interface ReplayReadStats {
  /** Reads of one client's subjects. */
  single: number;
  /** Reads of one range for a group of resuming clients, and the clients they served. */
  merged: number;
  mergedClients: number;
}

/** A merged read is used when its range is at most this many positions per client it serves. */
const MERGE_SPAN_PER_CLIENT = 1000;
/** Positions read at a time when the stream is scanned by pattern (memory stays bounded by one chunk). */
const SCAN_CHUNK = 16_384;

/** Every durable push stored in [from, to], in position order, read by pattern one chunk at a time. */
export async function scanDurable(stream: BusStream, subjects: Subjects, from: number, to: number, visit: (m: StoredMessage) => void): Promise<void> {
  for (let start = from; start <= to; start += SCAN_CHUNK) {
    for (const m of await stream.read(subjects.durableAll(), start, Math.min(to, start + SCAN_CHUNK - 1), SCAN_CHUNK)) visit(m);
  }
}

interface Pending {
  readonly target: ReplayTarget;
  readonly from: number;
  readonly to: number;
  resolve(messages: StoredMessage[] | undefined): void;
  reject(err: unknown): void;
}

/**
 * Reads what resuming clients missed. One client: its user and session subjects, read by subject
 * from its position (JetStream direct gets). Many clients at once (a reconnect storm after an edge
 * died): nats-server's cost of a subject-filtered read grows with everything stored after the
 * position, so thousands of them cost far more than reading the union of their ranges ONCE and
 * handing each message to the clients it belongs to. Resumes that arrive together (they share one
 * stream-state read, so they do) are grouped; a group is merged when its range is small enough.
 * Narrowing (Mesh-Session, Mesh-Client) holds either way: a tab never gets another tab's push.
 */
export class ReplayReads {
  readonly stats: ReplayReadStats = { single: 0, merged: 0, mergedClients: 0 };
  private waiting: Pending[] = [];
  private scheduled = false;
  /** One merged read at a time: resumes arriving meanwhile form the next group (fewer, larger scans). */
  private merging = false;

  constructor(
    private readonly stream: () => BusStream,
    private readonly subjects: Subjects,
    private readonly config: ReplayReadConfig,
    private readonly limiter: ReplayLimiter,
    private readonly logger: Logger,
  ) {}

  /** The client's pushes in [from, to], in order and narrowed; undefined past the per-client cap. */
  read(target: ReplayTarget, from: number, to: number): Promise<StoredMessage[] | undefined> {
    if (this.config.mergeMax === 0) return this.limiter.run(() => this.readOne(target, from, to));
    return new Promise((resolve, reject) => {
      this.waiting.push({ target, from, to, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.merging || this.waiting.length === 0) return;
    this.scheduled = true;
    // Resumes released by the same stream-state answer arrive in this turn of the event loop.
    setImmediate(() => this.dispatch());
  }

  private dispatch(): void {
    this.scheduled = false;
    const group = this.waiting;
    this.waiting = [];
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = 0;
    for (const p of group) {
      lo = Math.min(lo, p.from);
      hi = Math.max(hi, p.to);
    }
    const span = hi - lo + 1;
    if (group.length > 1 && span <= this.config.mergeMax && span <= group.length * MERGE_SPAN_PER_CLIENT) {
      this.merging = true;
      this.limiter
        .run(() => this.readMerged(group, lo, hi))
        .catch((err: unknown) => {
          for (const p of group) p.reject(err);
        })
        .finally(() => {
          this.merging = false;
          this.schedule();
        });
      return;
    }
    for (const p of group) this.limiter.run(() => this.readOne(p.target, p.from, p.to)).then(p.resolve, p.reject);
  }

  private async readMerged(group: readonly Pending[], lo: number, hi: number): Promise<void> {
    const started = Date.now();
    this.stats.merged++;
    this.stats.mergedClients += group.length;
    const max = this.config.replayMax;
    // Each client under both of its subjects; `viaUser` tells which narrowing applies.
    const bySubject = new Map<string, Array<{ readonly entry: Collecting; readonly viaUser: boolean }>>();
    const collecting = group.map((p) => new Collecting(p, encodeId(p.target.session), encodeId(p.target.client)));
    for (const entry of collecting) {
      for (const [subject, viaUser] of [
        [this.subjects.durableUser(entry.pending.target.user), true],
        [this.subjects.durableSession(entry.pending.target.session), false],
      ] as const) {
        let list = bySubject.get(subject);
        if (list === undefined) bySubject.set(subject, (list = []));
        list.push({ entry, viaUser });
      }
    }
    await scanDurable(this.stream(), this.subjects, lo, hi, (m) => {
      for (const { entry, viaUser } of bySubject.get(m.subject) ?? []) {
        if (m.seq < entry.pending.from || m.seq > entry.pending.to || entry.over) continue;
        if (!narrowedTo(m, viaUser, entry.session, entry.client)) continue;
        entry.out.push(m);
        if (entry.out.length > max) entry.over = true;
      }
    });
    for (const entry of collecting) entry.pending.resolve(entry.over ? undefined : entry.out);
    // One line per merged read: they happen in reconnect storms, which operators want to see.
    this.logger.info({ clients: group.length, from: lo, to: hi, ms: Date.now() - started }, 'merged replay read');
  }

  /** One client's user and session subjects, merged in position order. */
  private async readOne(target: ReplayTarget, from: number, to: number): Promise<StoredMessage[] | undefined> {
    this.stats.single++;
    const stream = this.stream();
    const max = this.config.replayMax;
    const [byUser, bySession] = await Promise.all([
      stream.read(this.subjects.durableUser(target.user), from, to, max + 1),
      stream.read(this.subjects.durableSession(target.session), from, to, max + 1),
    ]);
    const session = encodeId(target.session);
    const client = encodeId(target.client);
    const out: StoredMessage[] = [];
    let i = 0;
    let j = 0;
    while (i < byUser.length || j < bySession.length) {
      const u = byUser[i];
      const s = bySession[j];
      const viaUser = s === undefined || (u !== undefined && u.seq < s.seq);
      const m = (viaUser ? u : s) as StoredMessage;
      if (viaUser) i++;
      else j++;
      if (!narrowedTo(m, viaUser, session, client)) continue;
      out.push(m);
      if (out.length > max) return undefined;
    }
    return out;
  }
}

class Collecting {
  readonly out: StoredMessage[] = [];
  over = false;
  constructor(
    readonly pending: Pending,
    readonly session: string,
    readonly client: string,
  ) {}
}

/** Narrowing in replays exactly as live: Mesh-Session (user pushes only) and Mesh-Client, encoded ids. */
function narrowedTo(m: StoredMessage, viaUser: boolean, session: string, client: string): boolean {
  const h = m.headers;
  if (h === undefined) return true;
  const toSession = viaUser ? h.get(Header.Session) : '';
  const toClient = h.get(Header.Client);
  return (toSession === '' || toSession === session) && (toClient === '' || toClient === client);
}
