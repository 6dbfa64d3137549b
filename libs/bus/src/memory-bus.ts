import { randomBytes } from 'node:crypto';
import {
  KvBucketMissingError,
  KvConflictError,
  NoRespondersError,
  RequestTimeoutError,
  SubscriptionLimitError,
  type Bus,
  type BusEvent,
  type BusHeaders,
  type BusMessage,
  type BusSubscription,
  type HeaderValues,
  type KvBucket,
  type KvEntry,
  type KvOptions,
  type KvSettings,
  type MessageHandler,
  type RequestOptions,
  type SubscribeOptions,
  NoStreamError,
  StreamUnavailableError,
  type BusStream,
  type StoredMessage,
  type StreamConfig,
  type StreamPublishAck,
  type StreamPublishOptions,
  type StreamState,
} from './bus.js';
import { MemoryHeaders, MemoryStream } from './memory-stream.js';
import { reportHandlerError, type BusLogger } from './logger.js';
import {
  assertBucketName,
  assertHeaderName,
  assertHistory,
  assertKvKey,
  assertKvSettings,
  assertReplicas,
  kvSettingsExpected,
  kvSettingsWanted,
  normalizeHeaderValue,
} from './rules.js';
import { assertPublishSubject, assertQueueName, assertSubscribeSubject, patternMatches } from './subject.js';

/**
 * The in-process bus: a MemoryBroker is the hub (the "server"), each connect() a client. It follows
 * core NATS semantics closely enough that the conformance suite runs unchanged against both:
 * interest is decided at publish time, delivery is asynchronous through ONE FIFO per broker (so
 * every subscriber sees messages in publish order), payloads are copied at publish (as if they
 * crossed a socket), and flush() resolves once everything queued before it was delivered.
 */


function toHeaders(values: HeaderValues | undefined): MemoryHeaders | undefined {
  if (values === undefined) return undefined;
  const map = new Map<string, string>();
  for (const name of Object.keys(values)) {
    assertHeaderName(name);
    map.set(name, normalizeHeaderValue(name, values[name] ?? ''));
  }
  return new MemoryHeaders(map);
}

class MemoryMessage implements BusMessage {
  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    readonly headers: BusHeaders | undefined,
    readonly reply: string | undefined,
  ) {}
}

interface MemorySub {
  readonly subject: string;
  /** Tokens of a wildcard subject; undefined for exact subjects (kept in a map instead). */
  readonly tokens: readonly string[] | undefined;
  readonly queue: string | undefined;
  readonly handler: MessageHandler;
  readonly client: MemoryBus;
  active: boolean;
}

interface Delivery {
  sub: MemorySub | undefined;
  msg: BusMessage | undefined;
  /** A flush marker: resolved when the FIFO reaches it. */
  done: (() => void) | undefined;
}

export interface MemoryClientOptions {
  /** Where handler exceptions are reported (default: process warnings). */
  readonly logger?: BusLogger | undefined;
  /** Subscriptions this client may hold at once (SubscriptionLimitError beyond); default none. */
  readonly maxSubscriptions?: number | undefined;
}

export class MemoryBroker {
  private readonly exact = new Map<string, Set<MemorySub>>();
  private readonly wildcard = new Set<MemorySub>();
  private fifo: Delivery[] = [];
  private head = 0;
  private drainScheduled = false;
  /** @internal KV buckets, shared by every client of this broker. */
  readonly buckets = new Map<string, MemoryBucket>();
  /** @internal Streams, shared by every client of this broker. */
  readonly streams = new Map<string, MemoryStream>();

  /** @internal The stream that stores `subject`, if any (JetStream: at most one). */
  streamFor(subject: string): MemoryStream | undefined {
    if (this.streams.size === 0) return undefined;
    for (const stream of this.streams.values()) if (stream.captures(subject)) return stream;
    return undefined;
  }
  private clientCount = 0;

  connect(name?: string, options: MemoryClientOptions = {}): Bus {
    this.clientCount++;
    const limit = options.maxSubscriptions;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw new Error(`invalid maxSubscriptions ${limit}: an integer from 1`);
    }
    return new MemoryBus(this, name ?? `memory-${this.clientCount}`, options.logger, limit);
  }

  /** @internal */
  addSub(sub: MemorySub): void {
    if (sub.tokens !== undefined) {
      this.wildcard.add(sub);
      return;
    }
    let set = this.exact.get(sub.subject);
    if (set === undefined) {
      set = new Set();
      this.exact.set(sub.subject, set);
    }
    set.add(sub);
  }

  /** @internal */
  removeSub(sub: MemorySub): void {
    sub.active = false;
    if (sub.tokens !== undefined) {
      this.wildcard.delete(sub);
      return;
    }
    const set = this.exact.get(sub.subject);
    if (set !== undefined) {
      set.delete(sub);
      if (set.size === 0) this.exact.delete(sub.subject);
    }
  }

  /** @internal Queues the message for every interested subscriber; returns how many. */
  route(msg: BusMessage): number {
    let groups: Map<string, MemorySub[]> | undefined;
    let count = 0;
    const consider = (sub: MemorySub): void => {
      if (sub.queue === undefined) {
        this.enqueue(sub, msg);
        count++;
        return;
      }
      groups ??= new Map();
      const members = groups.get(sub.queue);
      if (members === undefined) groups.set(sub.queue, [sub]);
      else members.push(sub);
    };
    const exact = this.exact.get(msg.subject);
    if (exact !== undefined) for (const sub of exact) consider(sub);
    if (this.wildcard.size > 0) {
      const tokens = msg.subject.split('.');
      for (const sub of this.wildcard) {
        if (patternMatches(sub.tokens as readonly string[], tokens)) consider(sub);
      }
    }
    if (groups !== undefined) {
      // As NATS does: one member of each queue group, picked at random.
      for (const members of groups.values()) {
        const pick = members[Math.floor(Math.random() * members.length)] as MemorySub;
        this.enqueue(pick, msg);
        count++;
      }
    }
    return count;
  }

  /** @internal Resolves once every delivery queued before this call has been made. */
  flush(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.fifo.push({ sub: undefined, msg: undefined, done: resolve });
      this.scheduleDrain();
    });
  }

  private enqueue(sub: MemorySub, msg: BusMessage): void {
    this.fifo.push({ sub, msg, done: undefined });
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    // Deliveries queued by handlers during the drain are appended and handled in this same loop.
    while (this.head < this.fifo.length) {
      const d = this.fifo[this.head] as Delivery;
      this.fifo[this.head] = undefined as unknown as Delivery;
      this.head++;
      if (d.done !== undefined) {
        d.done();
        continue;
      }
      const sub = d.sub as MemorySub;
      if (!sub.active) continue;
      try {
        sub.handler(d.msg as BusMessage);
      } catch (err) {
        reportHandlerError(sub.client.logger, sub.subject, err);
      }
    }
    this.fifo = [];
    this.head = 0;
    this.drainScheduled = false;
  }
}

function newInbox(): string {
  return `_INBOX.${randomBytes(12).toString('hex')}`;
}

class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly subs = new Set<MemorySub>();
  private readonly listeners = new Set<(event: BusEvent) => void>();
  private readonly stops = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly broker: MemoryBroker,
    readonly name: string,
    readonly logger: BusLogger | undefined,
    private readonly limit: number | undefined,
  ) {}

  private assertOpen(): void {
    if (this.closed) throw new Error(`bus ${this.name} is closed`);
  }

  publish(subject: string, data: Uint8Array, headers?: HeaderValues): void {
    this.assertOpen();
    this.send(subject, data, headers, undefined);
  }

  private send(subject: string, data: Uint8Array, headers: HeaderValues | undefined, reply: string | undefined): number {
    assertPublishSubject(subject);
    // Copy, as a socket would: the publisher may reuse its buffer once publish returns.
    const msg = new MemoryMessage(subject, data.slice(), toHeaders(headers), reply);
    const stream = this.broker.streamFor(subject);
    if (stream !== undefined) this.storeIn(stream, msg.data, headers, subject);
    return this.broker.route(msg);
  }

  /** Stores as JetStream does (then republishes, if the stream does). */
  private storeIn(stream: MemoryStream, data: Uint8Array, headers: HeaderValues | undefined, subject: string): { seq: number; duplicate: boolean } {
    const stored = stream.store(subject, data, headers);
    if (stored.republish !== undefined) {
      this.broker.route(new MemoryMessage(stored.republish.subject, data, toHeaders(stored.republish.headers), undefined));
    }
    return stored;
  }

  stream(name: string, config?: StreamConfig): Promise<BusStream> {
    try {
      this.assertOpen();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`invalid stream name ${JSON.stringify(name)}`);
      let stream = this.broker.streams.get(name);
      if (config !== undefined) {
        for (const subject of config.subjects) assertSubscribeSubject(subject);
        if (stream === undefined) {
          stream = new MemoryStream(name, config);
          this.broker.streams.set(name, stream);
        } else {
          stream.configure(config);
        }
      }
      if (stream === undefined) throw new StreamUnavailableError(`stream ${name} does not exist`);
      return Promise.resolve(new MemoryStreamHandle(this.broker, name, this));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  publishStored(subject: string, data: Uint8Array, options?: StreamPublishOptions): Promise<StreamPublishAck> {
    try {
      this.assertOpen();
      assertPublishSubject(subject);
      const stream = this.broker.streamFor(subject);
      if (stream === undefined) throw new NoStreamError(`no stream stores ${subject}`);
      const headers = options?.msgId === undefined ? options?.headers : { ...options.headers, 'Nats-Msg-Id': options.msgId };
      const msg = new MemoryMessage(subject, data.slice(), toHeaders(headers), undefined);
      const stored = this.storeIn(stream, msg.data, headers, subject);
      // Core subscribers of the stored subject get it too (JetStream publishes are NATS messages).
      if (!stored.duplicate) this.broker.route(msg);
      return Promise.resolve({ stream: stream.name, seq: stored.seq, duplicate: stored.duplicate });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): BusSubscription {
    this.assertOpen();
    const wildcard = assertSubscribeSubject(subject);
    const queue = options?.queue;
    if (queue !== undefined) assertQueueName(queue);
    // The request inbox below is not counted, as nats.js's shared request inbox is not.
    if (this.limit !== undefined && this.counted >= this.limit) throw new SubscriptionLimitError(subject, this.limit);
    return this.addSub(subject, wildcard, queue, handler, true);
  }

  private counted = 0;

  private addSub(subject: string, wildcard: boolean, queue: string | undefined, handler: MessageHandler, counted: boolean): BusSubscription {
    const sub: MemorySub = {
      subject,
      tokens: wildcard ? subject.split('.') : undefined,
      queue,
      handler,
      client: this,
      active: true,
    };
    this.broker.addSub(sub);
    this.subs.add(sub);
    if (counted) this.counted++;
    return {
      subject,
      unsubscribe: () => {
        if (!sub.active) return;
        this.broker.removeSub(sub);
        this.subs.delete(sub);
        if (counted) this.counted--;
      },
    };
  }

  respond(msg: BusMessage, data: Uint8Array, headers?: HeaderValues): boolean {
    this.assertOpen();
    if (!msg.reply) return false;
    this.send(msg.reply, data, headers, undefined);
    return true;
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    try {
      this.assertOpen();
      assertPublishSubject(subject);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<BusMessage>((resolve, reject) => {
      const inbox = newInbox();
      let timer: NodeJS.Timeout | undefined;
      const sub = this.addSub(
        inbox,
        false,
        undefined,
        (reply) => {
          finish();
          resolve(reply);
        },
        false,
      );
      const finish = (): void => {
        sub.unsubscribe();
        if (timer !== undefined) clearTimeout(timer);
      };
      let recipients: number;
      try {
        recipients = this.send(subject, data, options.headers, inbox);
      } catch (err) {
        finish();
        reject(err);
        return;
      }
      if (recipients === 0) {
        finish();
        // Asynchronous, as the NATS server's no-responders status is.
        queueMicrotask(() => reject(new NoRespondersError(`no responders: '${subject}'`)));
        return;
      }
      timer = setTimeout(() => {
        finish();
        reject(new RequestTimeoutError(`request to '${subject}' timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    });
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`bus ${this.name} is closed`));
    return this.broker.flush();
  }

  kv(bucket: string, options?: KvOptions): Promise<KvBucket> {
    try {
      this.assertOpen();
      assertBucketName(bucket);
      if (options?.history !== undefined) assertHistory(options.history);
      if (options?.replicas !== undefined) assertReplicas(options.replicas);
      return Promise.resolve(new MemoryKvStore(bucket, this.bucket(bucket, options), this));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The same rules as the NATS bus (KvOptions.create): the creator's settings stay; owners and openers are checked. */
  private bucket(name: string, options: KvOptions | undefined): MemoryBucket {
    let b = this.broker.buckets.get(name);
    if (b === undefined) {
      if (options?.create === false) throw new KvBucketMissingError(name);
      b = new MemoryBucket(kvSettingsWanted(options));
      this.broker.buckets.set(name, b);
      return b;
    }
    assertKvSettings(name, kvSettingsExpected(options), b.settings);
    return b;
  }

  /** @internal Registers a watch stopper, so close() ends the client's watches. */
  trackStop(stop: () => void): () => void {
    this.stops.add(stop);
    return () => {
      this.stops.delete(stop);
      stop();
    };
  }

  onEvent(listener: (event: BusEvent) => void): () => void {
    // The memory bus never disconnects and refuses nothing asynchronously: no events to emit.
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  isConnected(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.broker.flush();
    for (const sub of this.subs) this.broker.removeSub(sub);
    this.subs.clear();
    for (const stop of this.stops) stop();
    this.stops.clear();
    this.listeners.clear();
  }

  /** @internal */
  isClosed(): boolean {
    return this.closed;
  }
}

interface StoredEntry {
  readonly value: Uint8Array | undefined;
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL';
}

interface MemoryWatcher {
  readonly onEntry: (entry: KvEntry) => void;
  readonly logger: BusLogger | undefined;
  active: boolean;
}

/** @internal One bucket: like a JetStream KV stream, revisions are one sequence for the whole bucket. */
class MemoryBucket {
  private seq = 0;
  constructor(readonly settings: KvSettings) {}
  readonly entries = new Map<string, StoredEntry>();
  readonly watchers = new Set<MemoryWatcher>();

  /** `expect`: undefined = unconditional; 0 = key absent or deleted; n = last revision must be n. */
  write(key: string, value: Uint8Array | undefined, expect: number | undefined): number {
    const last = this.entries.get(key);
    if (expect === 0 && last !== undefined && last.operation === 'PUT') {
      throw new KvConflictError(`key ${key} exists (revision ${last.revision})`);
    }
    if (expect !== undefined && expect > 0 && last?.revision !== expect) {
      throw new KvConflictError(`wrong last revision for ${key}: expected ${expect}, have ${last?.revision ?? 0}`);
    }
    const revision = ++this.seq;
    const stored: StoredEntry = { value: value?.slice(), revision, operation: value === undefined ? 'DEL' : 'PUT' };
    this.entries.set(key, stored);
    for (const w of this.watchers) {
      queueMicrotask(() => deliverEntry(w, key, stored));
    }
    return revision;
  }
}

function deliverEntry(w: MemoryWatcher, key: string, e: StoredEntry): void {
  if (!w.active) return;
  try {
    w.onEntry({ key, value: e.value?.slice(), revision: e.revision, operation: e.operation });
  } catch (err) {
    reportHandlerError(w.logger, `kv:${key}`, err);
  }
}

class MemoryKvStore implements KvBucket {
  constructor(
    readonly bucket: string,
    private readonly b: MemoryBucket,
    private readonly client: MemoryBus,
  ) {}

  private op<T>(fn: () => T): Promise<T> {
    try {
      if (this.client.isClosed()) throw new Error(`bus ${this.client.name} is closed`);
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  settings(): Promise<KvSettings> {
    return this.op(() => ({ ...this.b.settings }));
  }

  get(key: string): Promise<KvEntry | undefined> {
    return this.op(() => {
      assertKvKey(key);
      const e = this.b.entries.get(key);
      if (e === undefined || e.operation === 'DEL') return undefined;
      return { key, value: e.value?.slice(), revision: e.revision, operation: e.operation };
    });
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.op(() => {
      assertKvKey(key);
      return this.b.write(key, value, undefined);
    });
  }

  create(key: string, value: Uint8Array): Promise<number> {
    return this.op(() => {
      assertKvKey(key);
      return this.b.write(key, value, 0);
    });
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.op(() => {
      assertKvKey(key);
      if (!Number.isInteger(revision) || revision <= 0) throw new Error(`invalid revision ${revision}: must be > 0`);
      return this.b.write(key, value, revision);
    });
  }

  delete(key: string): Promise<void> {
    return this.op(() => {
      assertKvKey(key);
      this.b.write(key, undefined, undefined);
    });
  }

  keys(): Promise<string[]> {
    return this.op(() => {
      const keys: string[] = [];
      for (const [key, e] of this.b.entries) if (e.operation === 'PUT') keys.push(key);
      return keys;
    });
  }

  watch(onEntry: (entry: KvEntry) => void, onReady?: () => void): Promise<() => void> {
    return this.op(() => {
      const watcher: MemoryWatcher = { onEntry, logger: this.client.logger, active: true };
      // Snapshot now; later writes queue their own microtasks after this one: revision order holds.
      const initial = [...this.b.entries]
        .filter(([, e]) => e.operation === 'PUT')
        .sort((x, y) => x[1].revision - y[1].revision);
      this.b.watchers.add(watcher);
      queueMicrotask(() => {
        for (const [key, e] of initial) deliverEntry(watcher, key, e);
        if (watcher.active && onReady !== undefined) {
          try {
            onReady();
          } catch (err) {
            reportHandlerError(this.client.logger, `kv:${this.bucket}:ready`, err);
          }
        }
      });
      return this.client.trackStop(() => {
        watcher.active = false;
        this.b.watchers.delete(watcher);
      });
    });
  }
}

/** A handle on a broker's stream, by name: a deleted and recreated stream is seen as the new one. */
class MemoryStreamHandle implements BusStream {
  constructor(
    private readonly broker: MemoryBroker,
    readonly name: string,
    private readonly client: MemoryBus,
  ) {}

  private current(): MemoryStream {
    if (this.client.isClosed()) throw new Error(`bus ${this.client.name} is closed`);
    const stream = this.broker.streams.get(this.name);
    if (stream === undefined) throw new StreamUnavailableError(`stream ${this.name} does not exist`);
    return stream;
  }

  state(): Promise<StreamState> {
    try {
      return Promise.resolve(this.current().state());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  read(subject: string, from: number, to: number, max: number): Promise<StoredMessage[]> {
    try {
      return Promise.resolve(this.current().read(subject, from, to, max));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  delete(): Promise<void> {
    try {
      this.current();
      this.broker.streams.delete(this.name);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

export type { MemoryBus };
