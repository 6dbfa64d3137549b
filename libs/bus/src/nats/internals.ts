/**
 * The nats.js internals the bus relies on, imported with their types from
 * `@nats-io/nats-core/internal` (the entry point nats.js's own packages use), so that an upgrade
 * which changes them breaks `tsc` instead of silently switching the bus onto another path.
 * nats.js is pinned exactly in libs/bus/package.json; NATS_JS_VERSION below fails the type check
 * on any other version until someone re-reads the contract described here and updates it.
 */
import {
  NatsConnectionImpl,
  QueuedIteratorImpl,
  type NatsConnection,
  type ProtocolHandler,
  type Status,
  type SubscriptionImpl,
} from '@nats-io/nats-core/internal';
// transport-node 3.4.0 depends on exactly nats-core 3.4.0; its version is a literal type.
import { version as transportVersion } from '@nats-io/transport-node/lib/version.js';

/**
 * The nats.js version whose internals were read for this file. An upgrade makes this line fail to
 * compile; re-read @nats-io/nats-core lib/protocol.js against LightSubscription's contract, run
 * libs/bus's tests (the light path is tested on its own), then update the literal.
 */
export const NATS_JS_VERSION: '3.4.0' = transportVersion;

/**
 * What nats.js's ProtocolHandler reads and writes on a registered subscription (nats-core 3.4,
 * lib/protocol.js), so an object of our own can stand in for its SubscriptionImpl (a
 * QueuedIteratorImpl: two deferred promises, an array, a dozen counters, about 1.2 KiB of heap;
 * the edge holds two per WebSocket connection):
 * - `Subscriptions.add`: writes `sid`; `subscribe` -> `_subunsub`/`_sub` read `subject`, `queue`,
 *   `sid`, `max` (falsy: no auto-unsubscribe);
 * - `processMsg`: `received += 1`, `callback(null, msg)` if `callback` is truthy, then
 *   `unsubscribe()` if `max !== undefined && received >= max` (we never set `max`);
 * - `unsubscribe` -> `unsub`: reads `sid`, writes `max` (undefined), then `Subscriptions.cancel`:
 *   `close()` and deletion by `sid`;
 * - `sendSubscriptions` (every reconnect, `Subscriptions.all()` in sid order): `subject`, `queue`, `sid`;
 * - `Subscriptions.handleError` (permissions violation): matches `subject` + `queue` (or
 *   `requestSubject` for a publish error: ours is undefined), then `callback(err, {})`, `close(err)`;
 * - `Subscriptions.close` (connection closed): `close()`; `drain` (connection drain): `drain()`.
 * Nothing else in nats-core, jetstream or kv iterates `protocol.subscriptions`.
 * The Pick makes `tsc` check every one of these members against SubscriptionImpl's declaration.
 */
export type LightSubscription = Pick<
  SubscriptionImpl,
  'sid' | 'subject' | 'received' | 'callback' | 'close' | 'drain' | 'unsubscribe'
> & {
  // Optional in SubscriptionImpl; always present on ours (one object shape), possibly undefined.
  readonly queue: SubscriptionImpl['queue'] | undefined;
  max: SubscriptionImpl['max'] | undefined;
};

/** The protocol handler, for registering LightSubscriptions directly. */
export class LightProtocol {
  constructor(private readonly protocol: ProtocolHandler) {}

  /** Assigns the sid, sends SUB now (or on connect), and re-sends it after every reconnect. */
  subscribe(s: LightSubscription): void {
    this.protocol.subscribe(asImpl(s));
  }
  /** Sends UNSUB (nothing once closed) and drops the sid from nats.js's table. */
  unsubscribe(s: LightSubscription): void {
    this.protocol.unsubscribe(asImpl(s));
  }
  /** What SubscriptionImpl.drain does: UNSUB, then forget the sid once the server has it. */
  drain(s: LightSubscription): Promise<void> {
    const p = this.protocol;
    p.unsub(asImpl(s));
    const forget = (): void => p.subscriptions.cancel(asImpl(s));
    return p.flush().then(forget, forget);
  }
  isClosed(): boolean {
    return this.protocol.isClosed();
  }
}

/** The one place a LightSubscription is handed over as nats.js's type (see the contract above). */
function asImpl(s: LightSubscription): SubscriptionImpl {
  return s as unknown as SubscriptionImpl;
}

/**
 * The protocol handler of a connection made by @nats-io/transport-node. Throws (rather than
 * quietly falling back) when the connection is not nats-core's NatsConnectionImpl, which only
 * happens when two copies of nats-core are installed: fix the install, or turn light
 * subscriptions off explicitly.
 */
export function lightProtocol(nc: NatsConnection): LightProtocol {
  if (!(nc instanceof NatsConnectionImpl)) {
    throw new Error(
      'NATS connection is not @nats-io/nats-core NatsConnectionImpl (two copies of nats-core installed?): ' +
        'deduplicate the install or pass lightSubscriptions: false',
    );
  }
  return new LightProtocol(nc.protocol);
}

/**
 * Bytes published but not yet on the wire: nats.js's outbound buffer (it grows while disconnected)
 * plus the socket's write queue (it grows while the server reads slowly). nats.js 3.4 has no public
 * figure for either (nc.stats() counts what was sent); `transport.socket` is transport-node's.
 */
export function pendingBytes(nc: NatsConnection): number {
  if (!(nc instanceof NatsConnectionImpl)) return 0;
  const socket = (nc.protocol.transport as { socket?: { writableLength?: number } } | undefined)?.socket;
  return nc.protocol.outbound.size() + (socket?.writableLength ?? 0);
}

/**
 * How many status items nats.js has pushed to this iterator so far (handed out, plus queued).
 * nc.status() returns a QueuedIteratorImpl typed as a plain AsyncIterable.
 */
export function statusCounter(status: AsyncIterable<Status>): () => number {
  if (!(status instanceof QueuedIteratorImpl)) {
    throw new Error('nats.js status() is not a QueuedIteratorImpl: refused subscriptions cannot be named');
  }
  const iter: QueuedIteratorImpl<Status> = status;
  return () => iter.getProcessed() + iter.getPending();
}
