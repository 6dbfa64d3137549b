/**
 * The bus's NATS subscriptions: light ones registered with nats.js's protocol handler directly
 * (see internals.ts), or, with light subscriptions turned off, nats.js's public `nc.subscribe`.
 * Both paths hand nats.js's Msg to the handler as is: no wrapper, no allocation per message.
 */
import {
  ClosedConnectionError,
  DrainingConnectionError,
  PermissionViolationError,
  type Msg,
  type Subscription,
} from '@nats-io/nats-core/internal';
import { SubscriptionLimitError, type BusSubscription, type MessageHandler } from '../bus.js';
import { reportHandlerError } from '../logger.js';
import { assertQueueName, assertSubscribeSubject } from '../subject.js';
import type { NatsClient } from './client.js';
import type { LightProtocol, LightSubscription } from './internals.js';

/** Told about every subscription change, in wire order (refusal detection, refusals.ts). */
export interface SubscriptionObserver {
  subscribed(s: NatsSubscription): void;
  /** `serverHadIt`: false when the server never accepted it (refused), so no slot frees there. */
  unsubscribed(s: NatsSubscription, serverHadIt: boolean): void;
}

/**
 * One object per subscription: the BusSubscription handed out AND, on the light path, what
 * nats.js's protocol handler keeps in its sid table. No SubscriptionImpl, no closure.
 */
export class NatsSubscription implements BusSubscription, LightSubscription {
  // Written by nats.js: sid (Subscriptions.add), received (processMsg), max (unsub).
  sid = 0;
  received = 0;
  max: number | undefined = undefined;
  active = true;
  constructor(
    readonly subject: string,
    readonly queue: string | undefined,
    private readonly handler: MessageHandler,
    private readonly owner: NatsSubscriptions,
  ) {}
  /** Called by nats.js as a method: per message from its parser, or (err, {}) when the server refused it. */
  callback(err: Error | null, msg: Msg): void {
    if (err !== null) {
      this.owner.refusedByServer(this, err);
      return;
    }
    // nats.js's own Msg satisfies BusMessage as is.
    try {
      this.handler(msg);
    } catch (e) {
      reportHandlerError(this.owner.client.logger, this.subject, e);
    }
  }
  /** nats.js: after its UNSUB, on a refusal and when the connection closes. Nothing to release. */
  close(): void {}
  /** nats.js: connection drain (not used by the bus itself). */
  drain(): Promise<void> {
    return this.owner.drain(this);
  }
  unsubscribe(): void {
    this.drop(true);
  }
  /** `serverHadIt`: false when the server never had it (refused), so no slot is freed there. */
  drop(serverHadIt: boolean): void {
    if (!this.active) return;
    this.active = false;
    this.owner.forget(this, serverHadIt);
  }
}

export class NatsSubscriptions {
  private readonly live = new Set<NatsSubscription>();
  /** Only with light subscriptions off: the nats.js subscription behind each of ours. */
  private readonly fallback = new Map<NatsSubscription, Subscription>();
  private observer: SubscriptionObserver | undefined;

  constructor(
    readonly client: NatsClient,
    /** undefined: light subscriptions turned off, use nc.subscribe. */
    private readonly protocol: LightProtocol | undefined,
    /** The bus's own subscription budget (see NatsBusOptions.maxSubscriptions). */
    private readonly limit: number | undefined,
  ) {}

  /** Set once at composition (refusal detection needs the live subscriptions in turn). */
  observe(observer: SubscriptionObserver): void {
    this.observer = observer;
  }

  get light(): boolean {
    return this.protocol !== undefined;
  }

  get count(): number {
    return this.live.size;
  }

  subscribe(subject: string, handler: MessageHandler, queue: string | undefined): BusSubscription {
    assertSubscribeSubject(subject);
    if (queue !== undefined) assertQueueName(queue);
    if (this.limit !== undefined && this.live.size >= this.limit) throw new SubscriptionLimitError(subject, this.limit);
    const s = new NatsSubscription(subject, queue, handler, this);
    const nc = this.client.nc;
    if (this.protocol !== undefined) {
      // What nc.subscribe checks first (NatsConnectionImpl._check); the subject is checked above.
      if (nc.isClosed()) throw new ClosedConnectionError();
      if (nc.isDraining()) throw new DrainingConnectionError();
      this.protocol.subscribe(s);
    } else {
      // Callback form: nats.js calls it synchronously from its parser.
      const sub = nc.subscribe(subject, {
        ...(queue === undefined ? {} : { queue }),
        callback: (err: Error | null, msg: Msg): void => s.callback(err, msg),
      });
      s.sid = sub.getID();
      this.fallback.set(s, sub);
    }
    this.live.add(s);
    this.observer?.subscribed(s);
    return s;
  }

  /** Live subscriptions in the order nats.js re-sends them after a reconnect (sid order). */
  inSidOrder(): NatsSubscription[] {
    return [...this.live].sort((a, b) => a.sid - b.sid);
  }

  /** @internal NatsSubscription.drop */
  forget(s: NatsSubscription, serverHadIt: boolean): void {
    this.live.delete(s);
    this.observer?.unsubscribed(s, serverHadIt);
    try {
      if (this.protocol !== undefined) {
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

  /** @internal NatsSubscription.drain */
  drain(s: NatsSubscription): Promise<void> {
    const protocol = this.protocol;
    if (protocol === undefined || protocol.isClosed()) return Promise.reject(new ClosedConnectionError());
    return protocol.drain(s);
  }

  /** @internal A permissions violation on SUB: nats.js names the subscription and drops it itself. */
  refusedByServer(s: NatsSubscription, err: Error): void {
    if (!s.active) return;
    s.active = false;
    this.live.delete(s);
    this.fallback.delete(s);
    if (!(err instanceof PermissionViolationError)) {
      this.client.logger?.error({ err, subject: s.subject }, 'NATS subscription failed');
    }
    this.client.emit({ type: 'subscription-error', subject: s.subject, error: err });
  }
}
