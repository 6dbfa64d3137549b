import {
  KvConflictError,
  NoRespondersError,
  RequestTimeoutError,
  type Bus,
  type BusEvent,
  type BusHeaders,
  type BusMessage,
  type BusSubscription,
  type HeaderValues,
  type KvEntry,
  type KvStore,
  type MessageHandler,
  type RequestOptions,
} from '@session-mesh/bus';
import * as busLib from '@session-mesh/bus';

/**
 * The bus the edge tests run on: libs/bus's MemoryBroker when it exists, else a small stand-in
 * with NATS semantics (async delivery, `*`/`>` wildcards, headers, request/reply, KV watch).
 * Tests also get a handle to emit bus events (subscription errors) for the overload tests.
 */
export interface TestBus {
  readonly bus: Bus;
  /** Emits a bus event as if the server had sent it (only on the stand-in). */
  emit?(event: BusEvent): void;
  /** Active subscriptions per subject (only on the stand-in). */
  subscriptionCount?(subject: string): number;
  close(): Promise<void>;
}

export async function createTestBus(): Promise<TestBus> {
  const lib = busLib as Record<string, unknown>;
  if (typeof lib['createBus'] === 'function' && process.env['EDGE_TEST_STANDIN_BUS'] !== '1') {
    const bus = await (lib['createBus'] as (o: object) => Promise<Bus>)({});
    return { bus, close: () => bus.close() };
  }
  const bus = new StandInBus();
  return {
    bus,
    emit: (event) => bus.emit(event),
    subscriptionCount: (subject) => bus.count(subject),
    close: () => bus.close(),
  };
}

class Headers implements BusHeaders {
  constructor(private readonly values: HeaderValues) {}
  get(name: string): string {
    return this.values[name] ?? '';
  }
  has(name: string): boolean {
    return name in this.values;
  }
}

function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

interface Sub {
  subject: string;
  handler: MessageHandler;
  queue: string | undefined;
  active: boolean;
}

class StandInBus implements Bus {
  readonly kind = 'memory' as const;
  private subs: Sub[] = [];
  private listeners = new Set<(e: BusEvent) => void>();
  private inbox = 0;
  private stores = new Map<string, StandInKv>();
  private closed = false;

  count(subject: string): number {
    return this.subs.filter((s) => s.active && s.subject === subject).length;
  }

  emit(event: BusEvent): void {
    for (const l of this.listeners) l(event);
  }

  publish(subject: string, data: Uint8Array, headers?: HeaderValues, reply?: string): void {
    if (this.closed) throw new Error('bus closed');
    const copy = data.slice();
    const msg: BusMessage = { subject, data: copy, headers: headers ? new Headers({ ...headers }) : undefined, reply };
    const targets = this.subs.filter((s) => s.active && matches(s.subject, subject));
    const queues = new Map<string, Sub[]>();
    const plain: Sub[] = [];
    for (const t of targets) {
      if (t.queue === undefined) plain.push(t);
      else queues.set(t.queue, [...(queues.get(t.queue) ?? []), t]);
    }
    for (const group of queues.values()) plain.push(group[Math.floor(Math.random() * group.length)]!);
    queueMicrotask(() => {
      for (const t of plain) if (t.active) t.handler(msg);
    });
  }

  subscribe(subject: string, handler: MessageHandler, options?: { queue?: string }): BusSubscription {
    const sub: Sub = { subject, handler, queue: options?.queue, active: true };
    this.subs.push(sub);
    return {
      subject,
      unsubscribe: () => {
        sub.active = false;
        this.subs = this.subs.filter((s) => s !== sub);
      },
    };
  }

  respond(msg: BusMessage, data: Uint8Array, headers?: HeaderValues): boolean {
    if (msg.reply === undefined) return false;
    this.publish(msg.reply, data, headers);
    return true;
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    if (!this.subs.some((s) => s.active && matches(s.subject, subject))) {
      return Promise.reject(new NoRespondersError(`no responders on ${subject}`));
    }
    const inbox = `_INBOX.${++this.inbox}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new RequestTimeoutError(`timeout on ${subject}`));
      }, options.timeoutMs);
      const sub = this.subscribe(inbox, (msg) => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(msg);
      });
      this.publish(subject, data, options.headers, inbox);
    });
  }

  flush(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  async kv(bucket: string): Promise<KvStore> {
    let store = this.stores.get(bucket);
    if (!store) this.stores.set(bucket, (store = new StandInKv(bucket)));
    return store;
  }

  onEvent(listener: (event: BusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isConnected(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subs = [];
  }
}

class StandInKv implements KvStore {
  private data = new Map<string, KvEntry>();
  private revision = 0;
  private watchers = new Set<(e: KvEntry) => void>();
  constructor(readonly bucket: string) {}

  async get(key: string) {
    const e = this.data.get(key);
    return e?.operation === 'PUT' ? e : undefined;
  }
  async put(key: string, value: Uint8Array) {
    return this.write(key, value.slice(), 'PUT');
  }
  async create(key: string, value: Uint8Array) {
    if ((await this.get(key)) !== undefined) throw new KvConflictError(key);
    return this.put(key, value);
  }
  async update(key: string, value: Uint8Array, revision: number) {
    if (this.data.get(key)?.revision !== revision) throw new KvConflictError(key);
    return this.put(key, value);
  }
  async delete(key: string) {
    this.write(key, undefined, 'DEL');
  }
  async keys() {
    return [...this.data.values()].filter((e) => e.operation === 'PUT').map((e) => e.key);
  }
  async watch(onEntry: (e: KvEntry) => void, onReady?: () => void) {
    for (const e of this.data.values()) if (e.operation === 'PUT') onEntry(e);
    onReady?.();
    this.watchers.add(onEntry);
    return () => {
      this.watchers.delete(onEntry);
    };
  }
  private write(key: string, value: Uint8Array | undefined, operation: 'PUT' | 'DEL'): number {
    const entry: KvEntry = { key, value, revision: ++this.revision, operation };
    this.data.set(key, entry);
    queueMicrotask(() => {
      for (const w of this.watchers) w(entry);
    });
    return entry.revision;
  }
}
