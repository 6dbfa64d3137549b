/**
 * The NATS connection as the bus uses it: publish, respond, request, shared flush, connection
 * state and bus events. Subscriptions, refusal detection and KV are the other modules of
 * src/nats; nats-bus.ts composes them.
 */
import {
  headers as natsHeaders,
  NoRespondersError as NatsNoRespondersError,
  RequestError,
  TimeoutError,
  type MsgHdrs,
  type NatsConnection,
  type Status,
} from '@nats-io/nats-core/internal';
import { NoRespondersError, RequestTimeoutError, type BusEvent, type BusMessage, type HeaderValues } from '../bus.js';
import { reportHandlerError, type BusLogger } from '../logger.js';
import { assertPublishSubject } from '../subject.js';

export function toNatsHeaders(values: HeaderValues | undefined): MsgHdrs | undefined {
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
export function copy(data: Uint8Array): Uint8Array {
  return data.length === 0 ? data : data.slice();
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

/** Sees every item of nats.js's status stream, synchronously and in order. */
export interface StatusObserver {
  /** Before the item is logged and emitted as a bus event. */
  observe(status: Status): void;
  /** After that. */
  settle(): void;
}

export class NatsClient {
  private readonly listeners = new Set<(event: BusEvent) => void>();
  private readonly stops = new Set<() => void>();
  private connected = true;
  private closing: Promise<void> | undefined;
  // flush(): at most one PING in flight; callers arriving meanwhile share the next one.
  private flushInFlight = false;
  private flushNext: Deferred | undefined;

  constructor(
    readonly nc: NatsConnection,
    readonly logger: BusLogger | undefined,
  ) {}

  /**
   * Consumes nats.js's status stream. Per item: the connection state first, then `observer`
   * (refusal detection: it must see every item, synchronously, in order, and already know whether
   * the connection is up), then log lines and bus events (listeners may subscribe from them).
   */
  watchStatus(status: AsyncIterable<Status>, observer: StatusObserver): void {
    void (async () => {
      for await (const s of status) {
        if (s.type === 'reconnect') this.connected = true;
        else if (s.type === 'disconnect' || s.type === 'close') this.connected = false;
        observer.observe(s);
        this.report(s);
        observer.settle();
      }
    })().catch((err: unknown) => {
      this.logger?.error({ err }, 'NATS status iterator failed: disconnects and refusals go unreported');
    });
  }

  private report(s: Status): void {
    switch (s.type) {
      case 'disconnect':
        this.logger?.warn({ server: s.server }, 'NATS disconnected');
        this.emit({ type: 'disconnected' });
        break;
      case 'reconnect':
        this.logger?.info({ server: s.server }, 'NATS reconnected');
        this.emit({ type: 'reconnected' });
        break;
      case 'error':
        this.logger?.error({ err: s.error }, 'NATS server refused an operation');
        this.emit({ type: 'error', error: s.error });
        break;
      case 'ldm':
        this.logger?.warn({ server: s.server }, 'NATS server entering lame duck mode');
        break;
      default:
        // 'close': closed for good (close() or reconnect attempts exhausted); the rest is noise.
        break;
    }
  }

  publish(subject: string, data: Uint8Array, headers?: HeaderValues): void {
    assertPublishSubject(subject);
    const h = toNatsHeaders(headers);
    this.nc.publish(subject, copy(data), h === undefined ? undefined : { headers: h });
  }

  respond(msg: BusMessage, data: Uint8Array, headers?: HeaderValues): boolean {
    if (!msg.reply) return false;
    const h = toNatsHeaders(headers);
    this.nc.publish(msg.reply, copy(data), h === undefined ? undefined : { headers: h });
    return true;
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number, headers?: HeaderValues): Promise<BusMessage> {
    assertPublishSubject(subject);
    const h = toNatsHeaders(headers);
    try {
      return await this.nc.request(subject, copy(data), { timeout: timeoutMs, ...(h === undefined ? {} : { headers: h }) });
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new RequestTimeoutError(`request to '${subject}' timed out after ${timeoutMs} ms`, { cause: err });
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

  /** Registers something to stop on close() (KV watches); returns the function that unregisters it. */
  onClose(stop: () => void): () => void {
    this.stops.add(stop);
    return () => this.stops.delete(stop);
  }

  onEvent(listener: (event: BusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: BusEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        reportHandlerError(this.logger, `bus-event:${event.type}`, err);
      }
    }
  }

  /** Connected and not closed: what refusal detection needs before sending a marker. */
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
}
