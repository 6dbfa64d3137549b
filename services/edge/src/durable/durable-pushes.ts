import { openStreamWhenReady, StreamUnavailableError, type Bus, type BusStream, type StoredMessage, type StreamConfig, type StreamState } from '@session-mesh/bus';
import { CloseCode, createSubjectParser, type ResumePoint, type Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import { HeldPushes, type Connection } from '../connection/connection.js';
import type { Group, Hub } from '../hub/hub.js';
import { ReplayLimiter } from './replay-limiter.js';
import { ReplayReads, scanDurable, type ReplayReadStats, type ReplayTarget } from './replay-reads.js';

/** What the operator sets for durable pushes (MESH_DURABLE_*). */
export interface DurableConfig {
  readonly stream: string;
  readonly maxAgeS: number;
  readonly maxMsgs: number;
  readonly maxBytes: number;
  readonly replicas: number;
  /** Durable pushes replayed to one client at most; past it the client is told recovered: false. */
  readonly replayMax: number;
  /** Replays reading the stream at once on this edge; the others wait their turn (reconnect storms). */
  readonly replayConcurrency: number;
  /** Durable pushes held per connection while it is welcomed and replayed; past it, it must resume again. */
  readonly pendingMax: number;
  /** Largest range of positions read once for clients resuming together (reconnect storms; 0: never). */
  readonly mergeMax: number;
}

/** Who is resuming: the connection's identity as the replay needs it, and its resume point. */
export interface ResumeTarget extends ReplayTarget {
  readonly resume: ResumePoint | undefined;
}

/** What welcome says, and what follows it. */
export interface ResumeOutcome {
  readonly epoch: string;
  /** recovered: the client's own position; else where it starts now (the stream's last position). */
  readonly position: number;
  readonly recovered: boolean;
  /** Durable pushes to send after welcome (recovered only), in order, already narrowed. */
  readonly replay: readonly StoredMessage[];
  /** The connection has everything up to here once the replay is sent: live pushes at or below it are skipped. */
  readonly top: number;
}

export interface DurableStats {
  resumes: number;
  recovered: number;
  notRecovered: number;
  replayed: number;
  /** Live durable pushes that arrived out of chain (a push lost on the way): affected connections told to resume. */
  gaps: number;
}

const DUPLICATE_WINDOW_MS = 120_000;

/**
 * The push stream: every durable subject, the operator's retention, and republish to the push
 * subjects with the positions (how edges receive durable pushes live).
 */
export function pushStreamConfig(subjects: Subjects, retention: Pick<DurableConfig, 'maxAgeS' | 'maxMsgs' | 'maxBytes' | 'replicas'>): StreamConfig {
  return {
    subjects: [subjects.durableAll()],
    maxAgeMs: retention.maxAgeS * 1000,
    maxMsgs: retention.maxMsgs,
    maxBytes: retention.maxBytes,
    replicas: retention.replicas,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    republish: { src: subjects.durableAll(), dest: subjects.durableRepublish() },
  };
}

/**
 * Durable pushes on this edge: the push stream (created or updated to the operator's retention at
 * start), the stream state shared by every connection waiting for it, and the replay of what a
 * resuming client missed. Storage is JetStream's (or the memory bus's stream): nothing is kept here
 * beyond one state read in flight.
 */
export class DurablePushes {
  readonly stats: DurableStats = { resumes: 0, recovered: 0, notRecovered: 0, replayed: 0, gaps: 0 };
  private stream: BusStream | undefined;
  private failure: string | undefined = 'push stream not opened yet';
  private inflight: Promise<StreamState> | undefined;
  private queued: Promise<StreamState> | undefined;
  private readonly limiter: ReplayLimiter;
  private readonly reads: ReplayReads;
  private reopening = false;
  /** The highest position this edge received live (or the stream's last at start): where a reconnect check starts. */
  private lastSeen = 0;

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    readonly config: DurableConfig,
    private readonly logger: Logger,
  ) {
    this.limiter = new ReplayLimiter(config.replayConcurrency);
    this.reads = new ReplayReads(() => this.stream as BusStream, subjects, config, this.limiter, logger);
  }

  /** Replay reads so far: per client, and merged for clients resuming together. */
  get readStats(): ReplayReadStats {
    return this.reads.stats;
  }

  /** Resumes waiting for a replay slot (MESH_DURABLE_REPLAY_CONCURRENCY). */
  get replaysWaiting(): number {
    return this.limiter.queued;
  }

  get streamName(): string {
    return this.config.stream;
  }

  /** The stream's configuration as this edge (one of its owners) wants it. */
  streamConfig(): StreamConfig {
    return pushStreamConfig(this.subjects, this.config);
  }

  seen(seq: number): void {
    if (seq > this.lastSeen) this.lastSeen = seq;
  }

  /**
   * After the edge's NATS connection came back: the groups of this edge that durable pushes were
   * stored for meanwhile (positions after the last one this edge received, and after what each
   * group already has). Read by pattern once; past MESH_DURABLE_MERGE_MAX positions every durable
   * group is returned (too much to check, all resume). A push that arrived live after the
   * reconnect may be counted too: its tabs resume for nothing, never miss it.
   */
  async missedWhileAway(hub: Hub): Promise<Group[]> {
    const state = await this.stateAfterNow();
    const from = this.lastSeen + 1;
    const to = state.last;
    this.seen(to);
    if (to < from || hub.size === 0) return [];
    const all = (): Group[] => [...hub.users.values(), ...hub.sessions.values()].filter((g) => g.conns.length > 0);
    if (to - from + 1 > this.config.mergeMax) return all();
    const missed = new Set<Group>();
    const parse = createSubjectParser(this.subjects.prefix);
    await scanDurable(this.stream as BusStream, this.subjects, from, to, (m) => {
      const target = parse(m.subject);
      const group = target?.kind === 'durable-user' ? hub.users.get(target.user) : target?.kind === 'durable-session' ? hub.sessions.get(target.session) : undefined;
      if (group !== undefined && group.conns.length > 0 && m.seq > group.lastSeq) missed.add(group);
    });
    return [...missed];
  }

  /** Creates or updates the stream, retrying while JetStream cannot answer (the edge stays unready). */
  async start(signal: AbortSignal): Promise<void> {
    this.stream = await openStreamWhenReady(this.bus, this.config.stream, this.streamConfig(), {
      signal,
      onWait: ({ attempt, delayMs, error }) => {
        this.failure = `push stream ${this.config.stream}: ${error.message}`;
        if (attempt === 1 || attempt % 10 === 0) this.logger.warn({ err: error, delayMs }, 'durable push stream not available yet: retrying');
      },
    });
    this.failure = undefined;
    // Where a check after a NATS reconnect starts (unknown: the first check resumes every tab).
    await this.stream.state().then(
      (state) => this.seen(state.last),
      (err: unknown) => this.logger.warn({ err }, 'could not read the push stream state at start'),
    );
    this.logger.info({ stream: this.config.stream, maxAgeS: this.config.maxAgeS, maxMsgs: this.config.maxMsgs, replicas: this.config.replicas }, 'durable push stream ready');
  }

  /**
   * The stream could not be read: deleted by an operator, or JetStream lost it. Create it again
   * (once at a time): its new epoch tells resuming clients `recovered: false`. Until then the edge
   * is unready and connects are closed with SERVER_OVERLOADED (clients retry).
   */
  private reopen(err: unknown): void {
    if (!(err instanceof StreamUnavailableError) || this.reopening) return;
    this.reopening = true;
    this.failure = `push stream ${this.config.stream}: ${err.message}`;
    this.logger.warn({ err }, 'durable push stream unreadable: opening it again');
    this.bus.stream(this.config.stream, this.streamConfig()).then(
      (stream) => {
        this.stream = stream;
        this.failure = undefined;
        this.reopening = false;
        this.logger.info({ stream: this.config.stream }, 'durable push stream open again');
      },
      (again: unknown) => {
        this.reopening = false;
        this.logger.warn({ err: again }, 'durable push stream still unavailable: next read retries');
      },
    );
  }

  readiness(): true | string {
    return this.failure ?? true;
  }

  /**
   * The stream's state, read by a request sent AFTER this call (one read in flight; callers
   * arriving meanwhile share the next one): a state read after a connection's subscriptions were
   * confirmed covers every push the live path may have missed.
   */
  stateAfterNow(): Promise<StreamState> {
    if (this.inflight === undefined) {
      const stream = this.stream;
      if (stream === undefined) return Promise.reject(new StreamUnavailableError('push stream not opened yet'));
      const read = stream.state().finally(() => {
        if (this.inflight === read) this.inflight = undefined;
      });
      read.catch((err: unknown) => this.reopen(err));
      this.inflight = read;
      return read;
    }
    this.queued ??= this.inflight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.stateAfterNow();
      });
    return this.queued;
  }

  /**
   * Called once the connection's live subscriptions are confirmed (durable pushes arriving from
   * now on are buffered for it): decides what welcome says and reads what the client missed.
   */
  async prepare(target: ResumeTarget): Promise<ResumeOutcome> {
    const state = await this.stateAfterNow();
    const resume = target.resume;
    if (resume === undefined) return this.fresh(state);
    this.stats.resumes++;
    const { position, epoch } = resume;
    // Older than retention (the stream dropped pushes after it), ahead of the stream, or another incarnation.
    if (epoch !== state.epoch || position > state.last || position < state.first - 1) return this.notRecovered(state);
    if (position === state.last) return this.recovered(state, position, []);
    const replay = await this.reads.read(target, position + 1, state.last);
    if (replay === undefined) return this.notRecovered(state);
    return this.recovered(state, position, replay);
  }

  /** The holding buffer of a connection that just joined the hub. */
  hold(): HeldPushes {
    return new HeldPushes(this.config.pendingMax);
  }

  /**
   * Right after welcome: the replay and the pushes held meanwhile, merged by position (each once,
   * in order: a push both read from the stream and received live is sent once), then
   * `position top` when recovered, then the held pushes past it. From then on the connection is live.
   */
  afterWelcome(conn: Connection, outcome: ResumeOutcome, hub: Hub): void {
    const held = conn.held;
    conn.held = undefined;
    const replay = outcome.replay;
    const seqs = held?.seqs ?? [];
    const payloads = held?.payloads ?? [];
    // The client has everything up to its own position (recovered) or starts at the top (not).
    let floor = outcome.recovered ? outcome.position : outcome.top;
    let i = 0;
    let j = 0;
    const sendUpTo = (limit: number): void => {
      while (i < replay.length || j < seqs.length) {
        const r = replay[i];
        const p = seqs[j];
        const fromReplay = p === undefined || (r !== undefined && r.seq <= p);
        const seq = fromReplay ? (r as StoredMessage).seq : (p as number);
        if (seq > limit) return;
        const data = fromReplay ? (r as StoredMessage).data : (payloads[j] as Uint8Array);
        if (fromReplay) i++;
        else j++;
        if (seq <= floor) continue;
        conn.send(hub.durableFrame(data, seq), true);
        floor = seq;
      }
    };
    sendUpTo(outcome.top);
    if (outcome.recovered) {
      conn.send(JSON.stringify({ type: 'position', position: outcome.top }), false);
      floor = Math.max(floor, outcome.top);
    }
    conn.floor = floor;
    sendUpTo(Number.MAX_SAFE_INTEGER);
    conn.floor = floor;
    if (held?.overflow === true) conn.close(CloseCode.RESUME_REQUIRED, 'too many durable pushes during the replay: resume');
  }

  private fresh(state: StreamState): ResumeOutcome {
    return { epoch: state.epoch, position: state.last, recovered: false, replay: [], top: state.last };
  }

  private notRecovered(state: StreamState): ResumeOutcome {
    this.stats.notRecovered++;
    return this.fresh(state);
  }

  private recovered(state: StreamState, position: number, replay: readonly StoredMessage[]): ResumeOutcome {
    this.stats.recovered++;
    this.stats.replayed += replay.length;
    return { epoch: state.epoch, position, recovered: true, replay, top: state.last };
  }
}
