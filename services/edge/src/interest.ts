import type { Bus, BusEvent, MessageHandler } from '@session-mesh/bus';
import { CloseCode, tryDecodeId, type Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import { closeConnection, type ConnectionIndex, type Group, type IndexHooks } from './connection-index.js';
import type { Fanout } from './fanout.js';

export class SubscriptionRefusedError extends Error {
  override readonly name = 'SubscriptionRefusedError';
}

/**
 * Interest before exposure: the per-user and per-session subscriptions, their readiness, and what
 * happens when the bus refuses one.
 *
 * A connection is welcomed (and announced) only after a flush proves NATS has its subscriptions.
 * Flushes are coalesced: every subscription made before the flush starts (same tick) shares one
 * round trip; one made later gets the next flush, because a PING sent earlier proves nothing
 * about a SUB written after it.
 */
export class Interest implements IndexHooks {
  private index: ConnectionIndex | undefined;
  private pendingFlush: Promise<void> | undefined;
  /** Subscription errors seen so far; a flush with no new error since its subscribe proves recovery. */
  private errors = 0;
  /** Why readiness fails, or undefined. */
  private failure: string | undefined;
  /** Edge-wide subscriptions (kills, broadcast, snapshots) whose refusal cannot heal by itself. */
  private readonly edgeSubjects = new Set<string>();
  private edgeFailure: string | undefined;
  private readonly userHead: string;
  private readonly sessionHead: string;

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly fanout: Fanout,
    private readonly logger: Logger,
  ) {
    // Derived from the subject functions themselves, so a scheme change cannot desynchronise them.
    this.userHead = headOf(subjects.pushUser('x'));
    this.sessionHead = headOf(subjects.pushSession('x'));
  }

  attach(index: ConnectionIndex): void {
    this.index = index;
  }

  /** Remembers an edge-wide subject so a refusal of it is recognised. */
  watchEdgeSubject(subject: string): void {
    this.edgeSubjects.add(subject);
  }

  /** Readiness: true, or why not. */
  readiness(): true | string {
    return this.edgeFailure ?? this.failure ?? true;
  }

  /** One flush for everything subscribed before it starts. */
  flush(): Promise<void> {
    return (this.pendingFlush ??= Promise.resolve().then(() => {
      this.pendingFlush = undefined;
      return this.bus.flush();
    }));
  }

  onFirst(group: Group): void {
    const subject = group.kind === 'user' ? this.subjects.pushUser(group.id) : this.subjects.pushSession(group.id);
    try {
      group.sub = this.bus.subscribe(subject, messageHandler(this.fanout, group));
    } catch (err) {
      group.failed = true;
      group.ready = Promise.reject(new SubscriptionRefusedError(`cannot subscribe to ${subject}: ${(err as Error).message}`));
      group.ready.catch(() => undefined);
      this.noteFailure(`subscribe threw: ${(err as Error).message}`);
      return;
    }
    const errorsBefore = this.errors;
    const ready: Promise<void> = this.flush().then(
      () => {
        if (group.ready === ready) group.ready = undefined;
        if (group.failed) throw new SubscriptionRefusedError(`the bus refused the subscription to ${subject}`);
        if (this.failure !== undefined && this.errors === errorsBefore) {
          this.failure = undefined;
          this.logger.warn('bus accepts subscriptions again: readiness restored');
        }
      },
      (err: unknown) => {
        group.failed = true;
        if (group.ready === ready) group.ready = undefined;
        throw new SubscriptionRefusedError(`flush failed: ${(err as Error).message}`);
      },
    );
    // Members attach their own handlers; this one only keeps a lone rejection from being "unhandled".
    ready.catch(() => undefined);
    group.ready = ready;
  }

  onLast(group: Group): void {
    group.sub?.unsubscribe();
    group.sub = undefined;
  }

  /** Bus events: a refused subscription closes the connections that depend on it. */
  readonly onBusEvent = (event: BusEvent): void => {
    if (event.type !== 'subscription-error') return;
    this.errors++;
    if (this.edgeSubjects.has(event.subject)) {
      this.edgeFailure = `edge subscription ${event.subject} refused: ${event.error.message}`;
      this.logger.error({ subject: event.subject, err: event.error }, 'the bus refused an edge-wide subscription: this edge cannot work correctly');
      return;
    }
    const group = this.groupOf(event.subject);
    this.noteFailure(event.error.message, event.subject);
    if (group === undefined) return;
    group.failed = true;
    // Copy: closing edits the group's array.
    for (const conn of [...group.conns]) closeConnection(conn, CloseCode.SERVER_OVERLOADED, 'server overloaded, retry later');
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
    if (this.index === undefined) return undefined;
    if (subject.startsWith(this.userHead)) {
      const id = tryDecodeId(subject.slice(this.userHead.length));
      return id === undefined ? undefined : this.index.users.get(id);
    }
    if (subject.startsWith(this.sessionHead)) {
      const id = tryDecodeId(subject.slice(this.sessionHead.length));
      return id === undefined ? undefined : this.index.sessions.get(id);
    }
    return undefined;
  }
}

/**
 * The handler lives for as long as the subscription, so it is made here, where its closure holds
 * only what it needs (a closure made inside onFirst would keep onFirst's whole scope alive,
 * readiness promise included, for every user and session).
 */
function messageHandler(fanout: Fanout, group: Group): MessageHandler {
  return group.kind === 'user' ? (msg) => fanout.deliverToUser(group, msg) : (msg) => fanout.deliverToSession(group, msg);
}

function headOf(subject: string): string {
  return subject.slice(0, subject.lastIndexOf('.') + 1);
}
