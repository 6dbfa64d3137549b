import { JetStreamApiCodes } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import {
  ClosedConnectionError,
  connect,
  createInbox,
  DrainingConnectionError,
  headers as natsHeaders,
  NoRespondersError as NatsNoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type QueuedIterator,
  type Status,
  type Subscription,
} from '@nats-io/transport-node';
import {
  KvConflictError,
  NoRespondersError,
  RequestTimeoutError,
  type Bus,
  type BusEvent,
  type BusMessage,
  type BusSubscription,
  type HeaderValues,
  type KvEntry,
  type KvOptions,
  type KvStore,
  type MessageHandler,
  type RequestOptions,
  type SubscribeOptions,
} from './bus.js';
import { reportHandlerError, type BusLogger } from './logger.js';
import { natsProtocol, type NatsProtocol, type ProtocolSubscription } from './nats-internals.js';
import { assertBucketName, assertHistory, assertKvKey } from './rules.js';
import { assertPublishSubject, assertQueueName, assertSubscribeSubject } from './subject.js';

export interface NatsBusOptions {
  readonly servers: string | string[];
  readonly name?: string | undefined;
  readonly logger?: BusLogger | undefined;
  /** -1 = forever (the default: an edge must come back rather than die). */
  readonly maxReconnectAttempts?: number | undefined;
}

/** What the server answers when a connection exceeds `max_subs` (nats-server's ErrTooManySubs). */
const MAX_SUBS_RE = /maximum subscriptions exceeded/i;

/**
 * Refused-subscription tracking.
 *
 * nats.js 3 surfaces `-ERR 'Maximum Subscriptions Exceeded'` only as a ProtocolError on the
 * status iterator (nats-io/nats.js core/src/protocol.ts, `ProtocolHandler.processError` ->
 * `toError` -> `dispatchStatus({ type: "error", error })`); unlike a permissions violation
 * (`PermissionViolationError`, which `Subscriptions.handleError` hands to the subscription's
 * callback as its err argument), it names no subject and reaches no callback, and the connection
 * stays open (nats.js 2 closed it). The server handles one connection's protocol in order, so we bracket subscriptions into
 * windows: each window ends with a marker message published to our own inbox. Every -ERR caused
 * by a SUB of window w is pushed to the status iterator before w's marker arrives; the marker's
 * callback runs synchronously inside the parser and records how many status items were pushed so
 * far. Once the status consumer has processed that many, w's error count is exact.
 *
 * Which SUBs of the window failed: between two UNSUBs the server's subscription count only grows,
 * so the failures within such a segment are its LAST ones. Across segments the split of the count
 * is unknown, so each segment reports its last min(errors, length) subscriptions: a refused
 * subscription is never missed; with unsubscribes interleaved, a few live ones may be reported too
 * (the edge then closes those users, who reconnect elsewhere: safe). Refusals of nats.js's own
 * subscriptions (request mux, KV watchers) only add to the count (over-reporting, never under).
 */
interface Window {
  readonly id: number;
  /** SUBs in wire order; null marks an UNSUB of one of ours between them. */
  readonly ops: (NatsSubscription | null)[];
  errors: number;
  lastError: Error | undefined;
  /** Status items pushed before this window's marker arrived; -1 until it arrives. */
  boundary: number;
}

/** Windows whose marker did not come back (e.g. publish denied): cap, so they cannot pile up. */
const MAX_WINDOWS_IN_FLIGHT = 256;

/**
 * One object per subscription: the BusSubscription handed out AND what nats.js's protocol handler
 * keeps in its sid table (see nats-internals.ts), so no nats.js SubscriptionImpl and no closure.
 */
class NatsSubscription implements BusSubscription, ProtocolSubscription {
  // Written by nats.js: sid (Subscriptions.add), received (processMsg), max (unsub).
  sid = 0;
  received = 0;
  max: number | undefined = undefined;
  active = true;
  constructor(
    readonly subject: string,
    readonly queue: string | undefined,
    private readonly handler: MessageHandler,
    private readonly bus: NatsBus,
  ) {}
  /** Called by nats.js as a method: per message from its parser, or (err, {}) when the server refused it. */
  callback(err: Error | null, msg: Msg): void {
    if (err !== null) {
      this.bus.onSubscriptionError(this, err);
      return;
    }
    // nats.js's own Msg satisfies BusMessage as is: no wrapper per message.
    try {
      this.handler(msg);
    } catch (e) {
      reportHandlerError(this.bus.logger, this.subject, e);
    }
  }
  /** nats.js: after its UNSUB, on a refusal and when the connection closes. Nothing to release. */
  close(): void {}
  /** nats.js: connection drain (not used by the bus itself). */
  drain(): Promise<void> {
    return this.bus.drainSubscription(this);
  }
  unsubscribe(): void {
    this.drop(true);
  }
  /** `record`: false when the server never had it (refused), so no slot is freed there. */
  drop(record: boolean): void {
    if (!this.active) return;
    this.active = false;
    this.bus.noteUnsubscribe(this, record);
    this.bus.unsubscribeFromServer(this);
  }
}

function toNatsHeaders(values: HeaderValues | undefined): MsgHdrs | undefined {
  if (values === undefined) return undefined;
  const h = natsHeaders();
  for (const name of Object.keys(values)) h.set(name, values[name] ?? '');
  return h;
}

/**
 * nats.js keeps a reference to the payload until its outbound buffer is written (a microtask or
 * more later), so a caller reusing its buffer (uWebSockets.js does for every message) would send
 * garbage. One copy per publish; receiving, the hot path, copies nothing.
 */
function copy(data: Uint8Array): Uint8Array {
  return data.length === 0 ? data : data.slice();
}

function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown) {
    return true;
  }
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private readonly listeners = new Set<(event: BusEvent) => void>();
  private readonly live = new Set<NatsSubscription>();
  /** nats.js's protocol handler, used directly for subscriptions; undefined: nats.js changed, use nc.subscribe. */
  private readonly protocol: NatsProtocol | undefined;
  /** Only without `protocol`: the nats.js subscription behind each of ours. */
  private readonly fallback = new Map<NatsSubscription, Subscription>();
  private connected = true;
  private closing: Promise<void> | undefined;
  private kvm: Kvm | undefined;
  private readonly stops = new Set<() => void>();

  // flush(): at most one PING in flight; callers arriving meanwhile share the next one.
  private flushInFlight = false;
  private flushNext: Deferred | undefined;

  // Refused-subscription tracking (see Window).
  private readonly status: AsyncIterable<Status>;
  /** Status items pushed so far; undefined if a future nats.js hides its iterator's counters. */
  private readonly statusPushed: (() => number) | undefined;
  private statusSeen = 0;
  private readonly markerPrefix: string;
  private windowSeq = 0;
  private current: Window;
  private readonly inFlight: Window[] = [];
  private closeScheduled = false;

  constructor(
    private readonly nc: NatsConnection,
    /** @internal */
    readonly logger: BusLogger | undefined,
  ) {
    this.current = this.newWindow();
    this.protocol = natsProtocol(nc);
    if (this.protocol === undefined) {
      this.logger?.warn({}, 'nats.js internals changed: subscriptions use nc.subscribe (more heap per subscription)');
    }
    const status = nc.status() as AsyncIterable<Status> & Partial<Pick<QueuedIterator<Status>, 'getProcessed' | 'getPending'>>;
    this.status = status;
    // nats.js's status() hands out a QueuedIterator typed as a plain AsyncIterable.
    if (typeof status.getProcessed === 'function' && typeof status.getPending === 'function') {
      const { getProcessed, getPending } = status;
      this.statusPushed = () => getProcessed.call(status) + getPending.call(status);
    } else {
      this.statusPushed = undefined;
      this.logger?.warn({}, 'nats.js status iterator has no counters: refused subscriptions will not be named');
    }
    this.consumeStatus().catch((err: unknown) => {
      this.logger?.error({ err }, 'NATS status iterator failed: disconnects and refusals go unreported');
    });
    this.markerPrefix = createInbox();
    // Created first, so it has the lowest sid: on a resubscribe after reconnect it is sent first
    // and is the last to be refused.
    nc.subscribe(`${this.markerPrefix}.*`, {
      callback: (err, msg) => {
        if (err === null) this.onMarker(msg.subject);
      },
    });
  }

  private newWindow(): Window {
    return { id: ++this.windowSeq, ops: [], errors: 0, lastError: undefined, boundary: -1 };
  }

  publish(subject: string, data: Uint8Array, headers?: HeaderValues): void {
    assertPublishSubject(subject);
    const h = toNatsHeaders(headers);
    this.nc.publish(subject, copy(data), h === undefined ? undefined : { headers: h });
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): BusSubscription {
    assertSubscribeSubject(subject);
    const queue = options?.queue;
    if (queue !== undefined) assertQueueName(queue);
    const s = new NatsSubscription(subject, queue, handler, this);
    const protocol = this.protocol;
    if (protocol !== undefined) {
      // What nc.subscribe checks first (NatsConnectionImpl._check); the subject is checked above.
      if (this.nc.isClosed()) throw new ClosedConnectionError();
      if (this.nc.isDraining()) throw new DrainingConnectionError();
      // Assigns the sid, sends SUB now (or on connect), re-sends it after every reconnect.
      protocol.subscribe(s);
    } else {
      // Callback form: nats.js calls it synchronously from its parser.
      const sub = this.nc.subscribe(subject, {
        ...(queue === undefined ? {} : { queue }),
        callback: (err: Error | null, msg: Msg): void => s.callback(err, msg),
      });
      s.sid = sub.getID();
      this.fallback.set(s, sub);
    }
    this.live.add(s);
    this.current.ops.push(s);
    this.scheduleWindowClose();
    return s;
  }

  /** @internal Whether subscriptions skip nats.js's SubscriptionImpl (see nats-internals.ts). */
  get lightSubscriptions(): boolean {
    return this.protocol !== undefined;
  }

  /** @internal */
  unsubscribeFromServer(s: NatsSubscription): void {
    try {
      if (this.protocol !== undefined) {
        // Sends UNSUB (nothing once closed) and drops the sid from nats.js's table.
        this.protocol.unsubscribe(s);
      } else {
        const sub = this.fallback.get(s);
        this.fallback.delete(s);
        sub?.unsubscribe();
      }
    } catch {
      // The connection is closed: nothing left to undo.
    }
  }

  /** @internal What SubscriptionImpl.drain does: UNSUB, then forget the sid once the server has it. */
  drainSubscription(s: NatsSubscription): Promise<void> {
    const protocol = this.protocol;
    if (protocol === undefined || protocol.isClosed()) return Promise.reject(new ClosedConnectionError());
    protocol.unsub(s);
    const forget = (): void => protocol.subscriptions.cancel(s);
    return protocol.flush().then(forget, forget);
  }

  /** @internal */
  noteUnsubscribe(s: NatsSubscription, record: boolean): void {
    this.live.delete(s);
    if (record && this.current.ops.length > 0) this.current.ops.push(null);
  }

  respond(msg: BusMessage, data: Uint8Array, headers?: HeaderValues): boolean {
    if (!msg.reply) return false;
    const h = toNatsHeaders(headers);
    this.nc.publish(msg.reply, copy(data), h === undefined ? undefined : { headers: h });
    return true;
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    assertPublishSubject(subject);
    const h = toNatsHeaders(options.headers);
    try {
      return await this.nc.request(subject, copy(data), {
        timeout: options.timeoutMs,
        ...(h === undefined ? {} : { headers: h }),
      });
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new RequestTimeoutError(`request to '${subject}' timed out after ${options.timeoutMs} ms`, { cause: err });
      }
      if ((err instanceof RequestError && err.isNoResponders()) || err instanceof NatsNoRespondersError) {
        throw new NoRespondersError(`no responders: '${subject}'`, { cause: err });
      }
      throw err;
    }
  }

  flush(): Promise<void> {
    if (this.nc.isClosed()) return Promise.reject(new Error('bus is closed'));
    if (this.flushNext !== undefined) return this.flushNext.promise;
    const next = deferred();
    this.flushNext = next;
    // Sent on the next microtask, so callers in the same synchronous stretch share it. While a
    // PING is in flight, the next one waits for it: that PING was sent before these callers
    // called, so its PONG proves nothing about what they sent.
    if (!this.flushInFlight) queueMicrotask(() => this.sendFlush());
    return next.promise;
  }

  private sendFlush(): void {
    const d = this.flushNext;
    if (d === undefined || this.flushInFlight) return;
    this.flushNext = undefined;
    let pong: Promise<void>;
    try {
      pong = this.nc.flush();
    } catch (err) {
      d.reject(err);
      return;
    }
    this.flushInFlight = true;
    pong.then(d.resolve, d.reject).finally(() => {
      this.flushInFlight = false;
      if (this.flushNext !== undefined) this.sendFlush();
    });
  }

  async kv(bucket: string, options?: KvOptions): Promise<KvStore> {
    assertBucketName(bucket);
    const history = options?.history ?? 1;
    assertHistory(history);
    this.kvm ??= new Kvm(this.nc);
    const kv = await this.kvm.create(bucket, { replicas: options?.replicas ?? 1, history });
    return new NatsKvStore(bucket, kv, this.logger, this.stops);
  }

  onEvent(listener: (event: BusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const stop of this.stops) stop();
      this.stops.clear();
      if (!this.nc.isClosed()) {
        // A PONG proves the server has every publish made before this point.
        await this.nc.flush().catch(() => undefined);
        await this.nc.close();
      }
    })();
    return this.closing;
  }

  private emit(event: BusEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        reportHandlerError(this.logger, `bus-event:${event.type}`, err);
      }
    }
  }

  private async consumeStatus(): Promise<void> {
    for await (const s of this.status) {
      this.statusSeen++;
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          this.resetWindows();
          this.logger?.warn({ server: s.server }, 'NATS disconnected');
          this.emit({ type: 'disconnected' });
          break;
        case 'reconnect':
          this.connected = true;
          this.openResubscribeWindow();
          this.logger?.info({ server: s.server }, 'NATS reconnected');
          this.emit({ type: 'reconnected' });
          break;
        case 'error':
          this.onServerError(s.error);
          break;
        case 'close':
          // Closed for good (close() or reconnect attempts exhausted).
          this.connected = false;
          break;
        case 'ldm':
          this.logger?.warn({ server: s.server }, 'NATS server entering lame duck mode');
          break;
        default:
          break;
      }
      this.finalizeWindows();
    }
  }

  private onServerError(error: Error): void {
    if (MAX_SUBS_RE.test(error.message)) {
      // The oldest window whose marker had not arrived when this error was pushed (older ones
      // are already finalized), or the open one.
      const target = this.inFlight[0] ?? this.current;
      target.errors++;
      target.lastError = error;
    }
    this.logger?.error({ err: error }, 'NATS server refused an operation');
    this.emit({ type: 'error', error });
  }

  /** @internal A permissions violation on SUB: nats.js names the subscription and drops it itself. */
  onSubscriptionError(s: NatsSubscription, err: Error): void {
    if (!s.active) return;
    s.active = false;
    this.live.delete(s);
    this.fallback.delete(s);
    if (!(err instanceof PermissionViolationError)) {
      this.logger?.error({ err, subject: s.subject }, 'NATS subscription failed');
    }
    this.emit({ type: 'subscription-error', subject: s.subject, error: err });
  }

  private scheduleWindowClose(): void {
    if (this.closeScheduled) return;
    this.closeScheduled = true;
    setImmediate(() => {
      this.closeScheduled = false;
      this.closeWindow();
    });
  }

  private closeWindow(): void {
    const w = this.current;
    if (w.ops.length === 0 || !this.connected || this.nc.isClosed()) return;
    this.current = this.newWindow();
    if (this.inFlight.length >= MAX_WINDOWS_IN_FLIGHT) {
      this.inFlight.shift();
      this.logger?.warn({}, 'NATS bus: subscription markers are not coming back; refused subscriptions cannot be named');
    }
    this.inFlight.push(w);
    try {
      this.nc.publish(`${this.markerPrefix}.${w.id}`);
    } catch {
      // Closing or draining: the window will never be answered, and does not matter any more.
    }
  }

  /** Runs synchronously inside nats.js's parser: the status items pushed so far are exactly those before it. */
  private onMarker(subject: string): void {
    const id = Number(subject.slice(this.markerPrefix.length + 1));
    const idx = this.inFlight.findIndex((w) => w.id === id);
    if (idx < 0) return;
    // Markers come back in order; older unanswered windows lost theirs to a disconnect.
    if (idx > 0) this.inFlight.splice(0, idx);
    const w = this.inFlight[0] as Window;
    if (this.statusPushed === undefined) {
      this.inFlight.shift();
      return;
    }
    w.boundary = this.statusPushed();
    this.finalizeWindows();
  }

  private finalizeWindows(): void {
    for (;;) {
      const w = this.inFlight[0];
      if (w === undefined || w.boundary < 0 || this.statusSeen < w.boundary) return;
      this.inFlight.shift();
      if (w.errors > 0) this.attribute(w);
    }
  }

  private attribute(w: Window): void {
    const error = w.lastError ?? new Error('maximum subscriptions exceeded');
    const refused: NatsSubscription[] = [];
    let segStart = 0;
    const ops = w.ops;
    for (let i = 0; i <= ops.length; i++) {
      if (i < ops.length && ops[i] !== null) continue;
      const from = Math.max(segStart, i - w.errors);
      for (let j = from; j < i; j++) refused.push(ops[j] as NatsSubscription);
      segStart = i + 1;
    }
    for (const s of refused) {
      if (!s.active) continue;
      // Make it final on our side too: a later reconnect must not quietly revive it.
      s.drop(false);
      this.logger?.warn({ subject: s.subject }, 'NATS server refused a subscription (maximum subscriptions exceeded)');
      this.emit({ type: 'subscription-error', subject: s.subject, error });
    }
  }

  private resetWindows(): void {
    // Markers published on the lost connection will not come back; after reconnect one window
    // covers every subscription nats.js sends again.
    this.inFlight.length = 0;
    const errors = this.current.errors;
    this.current = this.newWindow();
    this.current.errors = errors;
  }

  private openResubscribeWindow(): void {
    // nats.js re-sends its subscriptions in sid order (Subscriptions.all(): Map insertion order).
    const subs = [...this.live].sort((a, b) => a.sid - b.sid);
    const w = this.current;
    w.ops.length = 0;
    for (const s of subs) w.ops.push(s);
    this.closeWindow();
  }
}

function toEntry(e: NatsKvEntry): KvEntry {
  const live = e.operation === 'PUT';
  return { key: e.key, value: live ? e.value : undefined, revision: e.revision, operation: live ? 'PUT' : 'DEL' };
}

/**
 * The initial values of a last-value-per-key watcher, kept robust to consumer replays: the newest
 * revision per key wins, and the set is complete at the first entry with nothing pending.
 */
class InitialValues {
  private readonly latest = new Map<string, KvEntry>();
  /** Returns true when the initial values are complete. */
  add(e: NatsKvEntry): boolean {
    const prev = this.latest.get(e.key);
    if (prev === undefined || prev.revision < e.revision) this.latest.set(e.key, toEntry(e));
    return e.delta === 0;
  }
  /** Every key's newest entry (deletes included), in revision order. */
  take(): KvEntry[] {
    const out = [...this.latest.values()].sort((x, y) => x.revision - y.revision);
    this.latest.clear();
    return out;
  }
}

class NatsKvStore implements KvStore {
  constructor(
    readonly bucket: string,
    private readonly kv: KV,
    private readonly logger: BusLogger | undefined,
    private readonly stops: Set<() => void>,
  ) {}

  async get(key: string): Promise<KvEntry | undefined> {
    assertKvKey(key);
    const e = await this.kv.get(key);
    if (e === null || e.operation !== 'PUT') return undefined;
    return { key, value: e.value, revision: e.revision, operation: 'PUT' };
  }

  put(key: string, value: Uint8Array): Promise<number> {
    assertKvKey(key);
    return this.kv.put(key, copy(value));
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    assertKvKey(key);
    try {
      return await this.kv.create(key, copy(value));
    } catch (err) {
      if (isConflict(err)) throw new KvConflictError(`key ${key} exists`, { cause: err });
      throw err;
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    assertKvKey(key);
    if (!Number.isInteger(revision) || revision <= 0) throw new Error(`invalid revision ${revision}: must be > 0`);
    try {
      return await this.kv.update(key, copy(value), revision);
    } catch (err) {
      if (isConflict(err)) throw new KvConflictError(`wrong last revision for ${key}: expected ${revision}`, { cause: err });
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertKvKey(key);
    await this.kv.delete(key);
  }

  async keys(): Promise<string[]> {
    // Not nats.js's kv.keys(): its consumer, once recreated (see watch), replays history and then
    // lists deleted keys, or stops early and lists none (both seen here under CPU load).
    const status = await this.kv.status();
    if (status.values === 0) return [];
    const iter = await this.kv.watch({ headers_only: true });
    const initial = new InitialValues();
    const timer = setTimeout(() => iter.stop(new Error(`listing the keys of KV bucket ${this.bucket} timed out`)), 30_000);
    try {
      for await (const e of iter) {
        if (initial.add(e)) break;
      }
    } finally {
      clearTimeout(timer);
      iter.stop();
    }
    return initial
      .take()
      .filter((e) => e.operation === 'PUT')
      .map((e) => e.key);
  }

  async watch(onEntry: (entry: KvEntry) => void, onReady?: () => void): Promise<() => void> {
    let ready = false;
    const markReady = (): void => {
      ready = true;
      if (onReady === undefined) return;
      try {
        onReady();
      } catch (err) {
        reportHandlerError(this.logger, `kv:${this.bucket}:ready`, err);
      }
    };
    // nats.js 3.4 has no "initial values done" callback. The watcher is an ordered consumer on
    // the last value per key; each entry carries `delta`, the messages still pending after it,
    // so the first entry with delta 0 ends the initial values. An empty bucket sends nothing at
    // all, hence the status check first (a write racing it is then simply a live change).
    // The initial values are collected per key and handed over in revision order once complete:
    // nats.js recreates an ordered consumer on a delivery-sequence gap or missed heartbeats
    // (jetstream pushconsumer `reset()`), with DeliverPolicy StartSequence from the last stream
    // sequence it saw + 1, i.e. from 1 if it saw nothing yet. That replays the whole history
    // (seen here under CPU load), which must not leak out as "current entries".
    const status = await this.kv.status();
    const iter = await this.kv.watch();
    if (status.values === 0) markReady();
    const deliver = (e: KvEntry): void => {
      try {
        onEntry(e);
      } catch (err) {
        reportHandlerError(this.logger, `kv:${e.key}`, err);
      }
    };
    void (async () => {
      const initial = new InitialValues();
      let lastRevision = 0;
      try {
        for await (const e of iter) {
          if (!ready) {
            if (!initial.add(e)) continue;
            for (const entry of initial.take()) {
              lastRevision = Math.max(lastRevision, entry.revision);
              // Deleted keys are not "current entries".
              if (entry.operation === 'PUT') deliver(entry);
            }
            markReady();
            continue;
          }
          // A recreated consumer resumes after the last sequence it saw; never go backwards.
          if (e.revision <= lastRevision) continue;
          lastRevision = e.revision;
          deliver(toEntry(e));
        }
      } catch (err) {
        this.logger?.error({ err, bucket: this.bucket }, 'KV watch ended with an error');
      }
    })();
    const stop = (): void => {
      this.stops.delete(stop);
      iter.stop();
    };
    this.stops.add(stop);
    return stop;
  }
}

export async function connectNatsBus(options: NatsBusOptions): Promise<Bus> {
  const nc = await connect({
    servers: options.servers,
    ...(options.name === undefined ? {} : { name: options.name }),
    maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
    // nats.js waits 2 s between attempts on the same server by default; an edge's users are deaf
    // meanwhile, and the other cluster nodes are tried in between anyway.
    reconnectTimeWait: 500,
  });
  return new NatsBus(nc, options.logger);
}

export type { NatsBus };
