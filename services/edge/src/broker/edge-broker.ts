import type { Bus, BusEvent, BusMessage, BusSubscription, HeaderValues, MessageHandler } from '@session-mesh/bus';
import { CloseCode, Header, JsHeader, tryDecodeId, type Subjects } from '@session-mesh/protocol';
import {
  createRateLimitedLog,
  failSpan,
  natsPublishAttributes,
  isSampledTraceparent,
  safePublish,
  PlainHistogram,
  PUBLISHED_AT_HEADER,
  PUSH_LATENCY_BUCKETS,
  publishedAtAgeMs,
  TRACEPARENT_HEADER,
  tracingOff,
  type Logger,
  type PublishFn,
  type RateLimitedLog,
  type Tracing,
} from '@session-mesh/runtime';
import type { Group, GroupKind, Hub } from '../hub/hub.js';

export class SubscriptionRefusedError extends Error {
  override readonly name = 'SubscriptionRefusedError';
}

/** A kill, parsed: who, and the optional narrowing to one session and/or client. */
export interface KillOrder {
  readonly kind: GroupKind | 'conn';
  readonly id: string;
  readonly session: string | undefined;
  readonly client: string | undefined;
  readonly reason: string | undefined;
  /** KILLED (4005) unless the kill asked for TOO_MANY_CONNECTIONS (4013). */
  readonly closeCode: number;
}

/** What the broker hands to the edge (Centrifuge's BrokerEventHandler). */
export interface BrokerEventHandler {
  /** A push for a group; `session`/`client` narrow it (already decoded). */
  onPush(group: Group, data: Uint8Array, session: string | undefined, client: string | undefined): void;
  onBroadcast(data: Uint8Array): void;
  /** A durable push (republished by the push stream) and its position; narrowing as for onPush. */
  onDurablePush(group: Group, data: Uint8Array, seq: number, session: string | undefined, client: string | undefined): void;
  /** A durable push went missing on the way to this group (its chain broke): its connections must resume. */
  onDurableGap(group: Group): void;
  /** The bus connection came back: pushes published meanwhile were not received. */
  onBusReconnected(): void;
  onKill(order: KillOrder): void;
  onSnapshotRequest(): void;
  /** The bus refused a group's subscription: its members cannot receive pushes. */
  onSubscriptionRefused(group: Group): void;
}

export interface BrokerStats {
  /** Pushes or kills with a narrowing header that is not a valid encoded id (delivered to nobody). */
  badHeaders: number;
  busErrors: number;
}

/** Never equal to a real id (ids cannot contain control characters): matches nobody. */
const NOBODY = '\u0000';

interface Settle {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The edge's view of the bus: subjects, narrowing headers and subscription bookkeeping live here
 * and nowhere else in the edge.
 *
 * Interest before exposure: a connection is welcomed only after a flush proves NATS has its
 * subscriptions. Flushes are coalesced: every subscription made before the flush starts (same
 * tick) shares one round trip; one made later gets the next flush, because a PING sent earlier
 * proves nothing about a SUB written after it.
 */
export class EdgeBroker {
  readonly stats: BrokerStats = { badHeaders: 0, busErrors: 0 };
  /** Mesh-Published-At to socket write, for pushes that carry the header (publish-time.ts). */
  readonly pushLatency = new PlainHistogram(PUSH_LATENCY_BUCKETS);
  private handler: BrokerEventHandler | undefined;
  private pendingFlush: Promise<void> | undefined;
  /** Groups whose SUB goes out with the next batch (this turn of the event loop), and who waits for it. */
  private readonly waitingToSubscribe = new Map<Group, Settle>();
  /** Durable pushes are recognised by the push stream's name in Nats-Stream ('' : durable pushes off). */
  private durableStream = '';
  /** Subscription errors seen so far; a flush with no new error since its subscribe proves recovery. */
  private errors = 0;
  /** Why readiness fails, or undefined. */
  private failure: string | undefined;
  /** Edge-wide subscriptions (kills, broadcast, snapshots) whose refusal cannot heal by itself. */
  private readonly edgeSubs: BusSubscription[] = [];
  private edgeFailure: string | undefined;
  private offBusEvents: (() => void) | undefined;
  private readonly logBusError: RateLimitedLog;

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly hub: Hub,
    private readonly edgeId: string,
    private readonly logger: Logger,
    private readonly tracing: Tracing = tracingOff(),
  ) {
    // Server errors come in bursts (one per refused subscription): one line per 10 s at most.
    this.logBusError = createRateLimitedLog(logger, { level: 'error' });
    this.publishEvent = safePublish((subject, data, headers) => bus.publish(subject, data, headers), this.logBusError, 'could not publish a lifecycle event');
  }

  /** Subscribes to what every edge hears (kills, broadcasts, snapshot requests) and to bus events. */
  start(handler: BrokerEventHandler): void {
    this.handler = handler;
    this.offBusEvents = this.bus.onEvent(this.onBusEvent);
    const subjects = this.subjects;
    this.edgeSubs.push(
      this.bus.subscribe(subjects.killAll(), (msg) => {
        const order = parseKill(subjects, msg);
        if (order === undefined) this.stats.badHeaders++;
        else handler.onKill(order);
      }),
      this.bus.subscribe(this.subjects.pushBroadcast(), (msg) => {
        if (msg.headers === undefined) handler.onBroadcast(msg.data);
        else this.deliver(msg, undefined, undefined, undefined);
      }),
      this.bus.subscribe(this.subjects.snapshotRequestAll(), () => handler.onSnapshotRequest()),
      this.bus.subscribe(this.subjects.snapshotRequestEdge(this.edgeId), () => handler.onSnapshotRequest()),
    );
  }

  stop(): void {
    for (const sub of this.edgeSubs.splice(0)) sub.unsubscribe();
    this.offBusEvents?.();
    this.offBusEvents = undefined;
  }

  /** Readiness: true, or why not. */
  readiness(): true | string {
    const connected = this.connectivity();
    if (connected !== true) return connected;
    return this.edgeFailure ?? this.failure ?? true;
  }

  /** Whether the bus is connected now (new connections cannot be confirmed otherwise). */
  connectivity(): true | string {
    return this.bus.isConnected() ? true : 'bus disconnected';
  }

  /** One flush for everything subscribed before it starts. */
  flush(): Promise<void> {
    return (this.pendingFlush ??= Promise.resolve().then(() => {
      this.pendingFlush = undefined;
      return this.bus.flush();
    }));
  }

  /**
   * Subscribes a new group; `group.ready` settles once NATS has the subscription. The SUBs of every
   * group made in one turn of the event loop (and their flush's PING) go out together: in a
   * connect storm uWS runs many upgrades per turn, and one socket write for all of them costs far
   * less than one each.
   */
  subscribe(group: Group): void {
    let settle: Settle | undefined;
    const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    ready.catch(() => undefined);
    group.ready = ready;
    this.waitingToSubscribe.set(group, settle as Settle);
    if (this.waitingToSubscribe.size === 1) setImmediate(this.subscribeWaiting);
  }

  private readonly subscribeWaiting = (): void => {
    const waiting = [...this.waitingToSubscribe];
    this.waitingToSubscribe.clear();
    for (const [group, settle] of waiting) this.subscribeNow(group, settle);
  };

  private subscribeNow(group: Group, settle: Settle): void {
    const ready = group.ready;
    const done = (): void => {
      if (group.ready === ready) group.ready = undefined;
    };
    const subject = group.kind === 'user' ? this.subjects.pushUser(group.id) : this.subjects.pushSession(group.id);
    try {
      group.sub = this.bus.subscribe(subject, this.messageHandler(group));
    } catch (err) {
      group.failed = true;
      settle.reject(new SubscriptionRefusedError(`cannot subscribe to ${subject}: ${(err as Error).message}`));
      this.noteFailure(`subscribe threw: ${(err as Error).message}`);
      return;
    }
    const errorsBefore = this.errors;
    this.flush().then(
      () => {
        done();
        if (group.failed) return settle.reject(new SubscriptionRefusedError(`the bus refused the subscription to ${subject}`));
        if (this.failure !== undefined && this.errors === errorsBefore) {
          this.failure = undefined;
          this.logger.warn('bus accepts subscriptions again: readiness restored');
        }
        settle.resolve();
      },
      (err: unknown) => {
        group.failed = true;
        done();
        settle.reject(new SubscriptionRefusedError(`flush failed: ${(err as Error).message}`));
      },
    );
  }

  unsubscribe(group: Group): void {
    // Emptied before its SUB went out: never subscribe it (nobody waits for it any more).
    if (this.waitingToSubscribe.delete(group)) return;
    group.sub?.unsubscribe();
    group.sub = undefined;
  }

  /** Lifecycle events: never throws (a closed bus at shutdown), failures logged rate limited. */
  readonly publishEvent: PublishFn;

  /** A client MESSAGE to `<prefix>.in.<topic>` with identity headers set by the edge; false when the bus refused it. */
  publishInbound(topic: string, payload: Uint8Array, headers: Record<string, string>): boolean {
    const subject = this.subjects.inbound(topic);
    const span = this.tracing.enabled ? this.tracing.startPublish('mesh.in publish', natsPublishAttributes(subject, payload), headers).span : undefined;
    try {
      this.bus.publish(subject, payload, headers);
      return true;
    } catch (err) {
      if (span !== undefined) failSpan(span, err);
      this.logBusError('publish-inbound', { err, topic }, 'could not publish a client message');
      return false;
    } finally {
      span?.end();
    }
  }

  /** A client REQUEST; rejects (never throws) with the bus's typed errors (no responders, timeout, ...). */
  requestInbound(topic: string, payload: Uint8Array, headers: Record<string, string>, timeoutMs: number): Promise<BusMessage> {
    const subject = this.subjects.inbound(topic);
    if (!this.tracing.enabled) return this.sendRequest(subject, payload, headers, timeoutMs);
    // The span covers the round trip; the backend's handling is its child through the traceparent header.
    const { span } = this.tracing.startPublish('mesh.in request', natsPublishAttributes(subject, payload), headers);
    return this.sendRequest(subject, payload, headers, timeoutMs).then(
      (reply) => (span.end(), reply),
      (err: unknown) => {
        failSpan(span, err);
        span.end();
        throw err;
      },
    );
  }

  private sendRequest(subject: string, payload: Uint8Array, headers: HeaderValues, timeoutMs: number): Promise<BusMessage> {
    try {
      return this.bus.request(subject, payload, { timeoutMs, headers });
    } catch (err) {
      // nats.js throws synchronously for some failures (payload over max_payload, closed connection).
      return Promise.reject(err);
    }
  }

  /**
   * The handler lives as long as the subscription, so it is made here, where its closure holds
   * only the group (a closure made inside subscribe() would keep its whole scope alive).
   */
  private messageHandler(group: Group): MessageHandler {
    return group.kind === 'user' ? (msg) => this.onUserPush(group, msg) : (msg) => this.onSessionPush(group, msg);
  }

  // Headers are decoded once per message and compared as raw ids: nothing per connection.
  private onUserPush(group: Group, msg: BusMessage): void {
    const headers = msg.headers;
    if (headers === undefined) return this.handler!.onPush(group, msg.data, undefined, undefined);
    const session = narrowing(headers.get(Header.Session));
    const client = narrowing(headers.get(Header.Client));
    if (session === NOBODY || client === NOBODY) {
      this.stats.badHeaders++;
      return;
    }
    this.deliver(msg, group, session, client);
  }

  private onSessionPush(group: Group, msg: BusMessage): void {
    const headers = msg.headers;
    if (headers === undefined) return this.handler!.onPush(group, msg.data, undefined, undefined);
    const client = narrowing(headers.get(Header.Client));
    if (client === NOBODY) {
      this.stats.badHeaders++;
      return;
    }
    this.deliver(msg, group, undefined, client);
  }

  /**
   * A push with headers (the header-less path above costs nothing more): a delivery span when it
   * carries a sampled traceparent and tracing is on, and its end-to-end latency when it carries
   * Mesh-Published-At. `group` undefined: a broadcast.
   */
  private deliver(msg: BusMessage, group: Group | undefined, session: string | undefined, client: string | undefined): void {
    const headers = msg.headers!;
    if (this.tracing.enabled && isSampledTraceparent(headers.get(TRACEPARENT_HEADER))) {
      const span = this.tracing.startReceive('mesh.push deliver', headers, { 'messaging.system': 'nats', 'messaging.destination.name': msg.subject });
      try {
        this.tracing.withSpan(span, () => this.handOver(msg, group, session, client));
      } finally {
        span.end();
      }
    } else this.handOver(msg, group, session, client);
    // After the hand-over the frames sit in uWS's socket buffers: that is the socket write.
    const at = headers.get(PUBLISHED_AT_HEADER);
    if (at !== '') {
      const age = publishedAtAgeMs(at, Date.now());
      if (age !== undefined) this.pushLatency.observe(age / 1000);
    }
  }

  private handOver(msg: BusMessage, group: Group | undefined, session: string | undefined, client: string | undefined): void {
    if (group === undefined) this.handler!.onBroadcast(msg.data);
    else if (this.durableStream !== '' && msg.headers!.get(JsHeader.Stream) === this.durableStream) this.onDurable(group, msg, session, client);
    else this.handler!.onPush(group, msg.data, session, client);
  }

  acceptDurable(stream: string): void {
    this.durableStream = stream;
  }

  /**
   * The stream republishes each push with the previous position on the same subject
   * (Nats-Last-Sequence): one that does not follow the last one this group saw means a push was
   * lost on the way (a NATS reconnect), and the group's connections must resume to get it.
   */
  private onDurable(group: Group, msg: BusMessage, session: string | undefined, client: string | undefined): void {
    const headers = msg.headers!;
    const seq = Number(headers.get(JsHeader.Sequence));
    const previous = Number(headers.get(JsHeader.LastSequence));
    if (!Number.isSafeInteger(seq) || seq <= 0) {
      this.stats.badHeaders++;
      return;
    }
    const last = group.lastSeq;
    if (seq <= last) return;
    group.lastSeq = seq;
    if (last !== 0 && previous !== last) {
      this.handler!.onDurableGap(group);
      return;
    }
    this.handler!.onDurablePush(group, msg.data, seq, session, client);
  }

  /** Bus events: a refused subscription closes the connections that depend on it. */
  private readonly onBusEvent = (event: BusEvent): void => {
    if (event.type === 'error') {
      this.stats.busErrors++;
      this.logBusError('bus-error', { err: event.error }, 'bus error');
      return;
    }
    if (event.type !== 'subscription-error') {
      this.logger.warn({ event: event.type }, `bus ${event.type}`);
      // Events published while disconnected may be lost: a snapshot reconciles the registry.
      if (event.type === 'reconnected') {
        this.handler?.onSnapshotRequest();
        this.handler?.onBusReconnected();
      }
      return;
    }
    this.errors++;
    if (this.edgeSubs.some((s) => s.subject === event.subject)) {
      this.edgeFailure = `edge subscription ${event.subject} refused: ${event.error.message}`;
      this.logger.error({ subject: event.subject, err: event.error }, 'the bus refused an edge-wide subscription: this edge cannot work correctly');
      return;
    }
    const group = this.groupOf(event.subject);
    this.noteFailure(event.error.message, event.subject);
    if (group === undefined) return;
    group.failed = true;
    this.handler?.onSubscriptionRefused(group);
  };

  private noteFailure(message: string, subject?: string): void {
    if (this.failure === undefined) {
      // Loudly, once per episode: the edge cannot take more users until subscriptions succeed.
      this.logger.error(
        { subject, error: message },
        'the bus refused a subscription (NATS max_subs?): closing affected connections with SERVER_OVERLOADED and failing readiness',
      );
    }
    this.failure = `bus refused subscriptions: ${message}`;
  }

  private groupOf(subject: string): Group | undefined {
    const target = this.subjects.parse(subject);
    if (target?.kind === 'push-user') return this.hub.group('user', target.user);
    if (target?.kind === 'push-session') return this.hub.group('session', target.session);
    return undefined;
  }
}

/** A narrowing header: absent -> undefined; not a valid encoded id -> NOBODY. */
function narrowing(value: string): string | undefined {
  if (value === '') return undefined;
  return tryDecodeId(value) ?? NOBODY;
}

/** `<prefix>.kill.<kind>.<id>` plus narrowing headers, or undefined when malformed. */
export function parseKill(subjects: Subjects, msg: BusMessage): KillOrder | undefined {
  const target = subjects.parse(msg.subject);
  let kind: KillOrder['kind'];
  let id: string;
  if (target?.kind === 'kill-user') [kind, id] = ['user', target.user];
  else if (target?.kind === 'kill-session') [kind, id] = ['session', target.session];
  else if (target?.kind === 'kill-conn') [kind, id] = ['conn', target.conn];
  else return undefined;
  const headers = msg.headers;
  const session = kind === 'user' && headers !== undefined ? narrowing(headers.get(Header.Session)) : undefined;
  const client = kind !== 'conn' && headers !== undefined ? narrowing(headers.get(Header.Client)) : undefined;
  if (session === NOBODY || client === NOBODY) return undefined;
  const reason = headers?.get(Header.Reason);
  const closeCode = headers?.get(Header.CloseCode) === String(CloseCode.TOO_MANY_CONNECTIONS) ? CloseCode.TOO_MANY_CONNECTIONS : CloseCode.KILLED;
  return { kind, id, session, client, reason: reason === '' ? undefined : reason, closeCode };
}
