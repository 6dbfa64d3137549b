import { MemoryBroker, type Bus, type BusEvent } from '@session-mesh/bus';

/**
 * The bus the edge tests run on: a client of libs/bus's MemoryBroker, wrapped so tests can
 * (a) inject bus events the memory bus never emits by itself (a refused subscription), and
 * (b) count live subscriptions per subject (the ref-counting tests).
 */
export interface TestBus {
  readonly bus: Bus;
  readonly broker: MemoryBroker;
  /** Emits a bus event as if the server had sent it. */
  emit(event: BusEvent): void;
  /** Live subscriptions on exactly this subject, made through this bus. */
  subscriptionCount(subject: string): number;
  /** Stops (or resumes) delivering to this bus's subscriptions, silently: the connection still looks fine. */
  setDeaf(deaf: boolean): void;
  /** Another client of the same broker (a backend, another edge). */
  connect(name: string): Bus;
  close(): Promise<void>;
}

export async function createTestBus(broker = new MemoryBroker()): Promise<TestBus> {
  const inner = broker.connect('edge-test');
  const listeners = new Set<(event: BusEvent) => void>();
  const counts = new Map<string, number>();
  const bump = (subject: string, by: number) => counts.set(subject, (counts.get(subject) ?? 0) + by);
  let deaf = false;

  const bus: Bus = {
    kind: inner.kind,
    publish: (subject, data, headers) => inner.publish(subject, data, headers),
    subscribe(subject, handler, options) {
      const sub = inner.subscribe(subject, (msg) => deaf || handler(msg), options);
      bump(subject, 1);
      let live = true;
      return {
        subject: sub.subject,
        unsubscribe() {
          if (live) bump(subject, -1);
          live = false;
          sub.unsubscribe();
        },
      };
    },
    respond: (msg, data, headers) => inner.respond(msg, data, headers),
    request: (subject, data, options) => inner.request(subject, data, options),
    flush: () => inner.flush(),
    kv: (bucket, options) => inner.kv(bucket, options),
    stream: (name, config) => inner.stream(name, config),
    publishStored: (subject, data, options) => inner.publishStored(subject, data, options),
    onEvent(listener) {
      listeners.add(listener);
      const off = inner.onEvent(listener);
      return () => {
        listeners.delete(listener);
        off();
      };
    },
    isConnected: () => inner.isConnected(),
    close: () => inner.close(),
  };
  return {
    bus,
    broker,
    emit: (event) => {
      for (const listener of listeners) listener(event);
    },
    subscriptionCount: (subject) => counts.get(subject) ?? 0,
    setDeaf: (value) => {
      deaf = value;
    },
    connect: (name) => broker.connect(name),
    close: () => inner.close(),
  };
}
