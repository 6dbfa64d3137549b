/**
 * Which subscription did the server refuse past its `max_subs`?
 *
 * nats.js 3 surfaces `-ERR 'Maximum Subscriptions Exceeded'` only as an error on the status
 * iterator (nats-core protocol.ts, `ProtocolHandler.processError` -> `toError` ->
 * `dispatchStatus({ type: "error", error })`); unlike a permissions violation (which
 * `Subscriptions.handleError` hands to the subscription's callback, see subscriptions.ts), it names
 * no subject and reaches no callback, and the connection stays open. The server handles one
 * connection's protocol in order, so subscriptions are bracketed into windows: each window ends
 * with a marker message published to our own inbox. Every -ERR caused by a SUB of window w is
 * pushed to the status iterator before w's marker arrives; the marker's callback runs
 * synchronously inside the parser and records how many status items were pushed so far. Once the
 * status consumer has processed that many, w's error count is exact.
 *
 * Which SUBs of the window failed: between two UNSUBs the server's subscription count only grows,
 * so the failures within such a segment are its LAST ones. Across segments the split of the count
 * is unknown, so each segment reports its last min(errors, length) subscriptions: a refused
 * subscription is never missed; with unsubscribes interleaved, a few live ones may be reported too
 * (the edge then closes those users, who reconnect elsewhere: safe). Refusals of nats.js's own
 * subscriptions (request mux, KV watchers) only add to the count (over-reporting, never under).
 * A subscription budget below `max_subs` (NatsBusOptions.maxSubscriptions) avoids all of this.
 */
import { createInbox, type Status } from '@nats-io/nats-core/internal';
import type { NatsClient, StatusObserver } from './client.js';
import { statusCounter } from './internals.js';
import type { NatsSubscription, NatsSubscriptions, SubscriptionObserver } from './subscriptions.js';

/** What the server answers when a connection exceeds `max_subs` (nats-server's ErrTooManySubs). */
const MAX_SUBS_RE = /maximum subscriptions exceeded/i;

/** Windows whose marker did not come back (e.g. publish denied): cap, so they cannot pile up. */
const MAX_WINDOWS_IN_FLIGHT = 256;

interface Window {
  readonly id: number;
  /** SUBs in wire order; null marks an UNSUB of one of ours between them. */
  readonly ops: (NatsSubscription | null)[];
  errors: number;
  lastError: Error | undefined;
  /** Status items pushed before this window's marker arrived; -1 until it arrives. */
  boundary: number;
}

export class RefusalDetector implements StatusObserver, SubscriptionObserver {
  private readonly statusPushed: () => number;
  private statusSeen = 0;
  private readonly markerPrefix = createInbox();
  private windowSeq = 0;
  private current: Window;
  private readonly inFlight: Window[] = [];
  private closeScheduled = false;

  /** Call before any subscription of the bus exists: see the marker subscription below. */
  constructor(
    private readonly client: NatsClient,
    private readonly subscriptions: NatsSubscriptions,
    status: AsyncIterable<Status>,
  ) {
    this.statusPushed = statusCounter(status);
    this.current = this.newWindow();
    // Created first, so it has the lowest sid: on a resubscribe after reconnect it is sent first
    // and is the last to be refused. Not counted in the bus's subscription budget.
    client.nc.subscribe(`${this.markerPrefix}.*`, {
      callback: (err, msg) => {
        if (err === null) this.onMarker(msg.subject);
      },
    });
  }

  private newWindow(): Window {
    return { id: ++this.windowSeq, ops: [], errors: 0, lastError: undefined, boundary: -1 };
  }

  subscribed(s: NatsSubscription): void {
    this.current.ops.push(s);
    this.scheduleWindowClose();
  }

  unsubscribed(_s: NatsSubscription, serverHadIt: boolean): void {
    if (serverHadIt && this.current.ops.length > 0) this.current.ops.push(null);
  }

  observe(s: Status): void {
    this.statusSeen++;
    if (s.type === 'disconnect') this.resetWindows();
    else if (s.type === 'reconnect') this.openResubscribeWindow();
    else if (s.type === 'error' && MAX_SUBS_RE.test(s.error.message)) {
      // The oldest window whose marker had not arrived when this error was pushed (older ones
      // are already finalized), or the open one.
      const target = this.inFlight[0] ?? this.current;
      target.errors++;
      target.lastError = s.error;
    }
  }

  settle(): void {
    this.finalizeWindows();
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
    if (w.ops.length === 0 || !this.client.isConnected()) return;
    this.current = this.newWindow();
    if (this.inFlight.length >= MAX_WINDOWS_IN_FLIGHT) {
      this.inFlight.shift();
      this.client.logger?.warn({}, 'NATS bus: subscription markers are not coming back; refused subscriptions cannot be named');
    }
    this.inFlight.push(w);
    try {
      this.client.nc.publish(`${this.markerPrefix}.${w.id}`);
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
    (this.inFlight[0] as Window).boundary = this.statusPushed();
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
      this.client.logger?.warn({ subject: s.subject }, 'NATS server refused a subscription (maximum subscriptions exceeded)');
      this.client.emit({ type: 'subscription-error', subject: s.subject, error });
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
    const w = this.current;
    w.ops.length = 0;
    for (const s of this.subscriptions.inSidOrder()) w.ops.push(s);
    this.closeWindow();
  }
}
