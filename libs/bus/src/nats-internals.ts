import type { Msg, NatsConnection } from '@nats-io/transport-node';

/**
 * A subscription registered directly with nats.js's ProtocolHandler, without nats.js's
 * SubscriptionImpl (a QueuedIteratorImpl: two deferred promises, an array, a dozen counters,
 * about 1.2 KiB of heap each; the edge holds two per WebSocket connection).
 *
 * nats.js 3.4 (@nats-io/nats-core lib/protocol.js) touches a registered subscription only here:
 * - `Subscriptions.add`: writes `sid`; `ProtocolHandler.subscribe` -> `_subunsub`/`_sub` read
 *   `subject`, `queue`, `sid`, `max` (falsy: no auto-unsubscribe);
 * - `ProtocolHandler.processMsg`: `received += 1`, `callback(null, msg)` if `callback` is truthy,
 *   then `unsubscribe()` if `max !== undefined && received >= max` (we never set `max`);
 * - `ProtocolHandler.unsubscribe` -> `unsub`: reads `sid`, writes `max` (undefined), then
 *   `Subscriptions.cancel`: `close()` and deletion by `sid`;
 * - `ProtocolHandler.sendSubscriptions` (on every reconnect, `Subscriptions.all()` in sid order):
 *   reads `subject`, `queue`, `sid`;
 * - `Subscriptions.handleError` (permissions violation): matches `subject` + `queue` (or
 *   `requestSubject` for a publish error: ours is undefined), then `callback(err, {})`, `close(err)`;
 * - `Subscriptions.close` (connection closed): `close()`;
 * - `ProtocolHandler.drain` (connection drain): `drain()`, which must return a promise.
 * Nothing else in nats-core, jetstream or kv iterates `protocol.subscriptions`.
 */
export interface ProtocolSubscription {
  sid: number;
  readonly subject: string;
  readonly queue: string | undefined;
  max: number | undefined;
  received: number;
  callback(err: Error | null, msg: Msg): void;
  close(): void;
  drain(): Promise<void>;
  unsubscribe(): void;
}

/** The parts of nats.js's ProtocolHandler (`NatsConnectionImpl.protocol`) used with them. */
export interface NatsProtocol {
  subscribe(s: ProtocolSubscription): unknown;
  unsubscribe(s: ProtocolSubscription, max?: number): void;
  unsub(s: ProtocolSubscription, max?: number): void;
  flush(): Promise<void>;
  isClosed(): boolean;
  readonly subscriptions: { cancel(s: ProtocolSubscription): void };
}

type Loose = Record<string, unknown> | null | undefined;

function hasFunctions(o: Loose, names: readonly string[]): boolean {
  return o != null && names.every((n) => typeof o[n] === 'function');
}

/**
 * nats.js's protocol handler if it still looks like the 3.4 one described above, else undefined
 * (the caller then uses the public, heavier `nc.subscribe`).
 */
export function natsProtocol(nc: NatsConnection): NatsProtocol | undefined {
  const p = (nc as unknown as { protocol?: Loose }).protocol;
  if (!hasFunctions(p, ['subscribe', 'unsubscribe', 'unsub', 'flush', 'isClosed', 'processMsg', 'sendSubscriptions', 'drain'])) {
    return undefined;
  }
  const subs = (p as Record<string, unknown>)['subscriptions'] as Loose;
  if (!hasFunctions(subs, ['add', 'get', 'cancel', 'all', 'handleError', 'close'])) return undefined;
  if (!((subs as Record<string, unknown>)['subs'] instanceof Map)) return undefined;
  if (typeof (subs as Record<string, unknown>)['sidCounter'] !== 'number') return undefined;
  // The delivery contract itself: a callback called as a method, with a received counter.
  const processMsg = String((p as Record<string, unknown>)['processMsg']);
  if (!processMsg.includes('.received') || !processMsg.includes('.callback(null')) return undefined;
  return p as unknown as NatsProtocol;
}
