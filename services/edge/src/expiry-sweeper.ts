import { CloseCode } from '@session-mesh/protocol';
import type { BlacklistView } from './blacklist-view.js';
import type { CoarseClock } from './clock.js';
import { closeConnection, type ConnectionIndex, type ConnState } from './connection-index.js';
import type { Fanout } from './fanout.js';

export interface SweepStats {
  expired: number;
}

/**
 * One timer for the whole edge, once a second: advances the coarse clock, closes connections whose
 * token expired (TOKEN_EXPIRED) instead of one timer per connection, closes sockets that broadcasts
 * (sent by uWS publish, whose per-socket results we cannot see) pushed past the backpressure limit,
 * and forgets expired blacklist entries now and then.
 */
export class ExpirySweeper {
  readonly stats: SweepStats = { expired: 0 };
  private timer: NodeJS.Timeout | undefined;
  private broadcastsSeen = 0;
  private ticks = 0;

  constructor(
    private readonly deps: {
      readonly index: ConnectionIndex;
      readonly clock: CoarseClock;
      readonly fanout: Fanout;
      readonly blacklist: BlacklistView;
      /** Same leeway as token verification: a token accepted at upgrade is not closed at once. */
      readonly clockToleranceS: number;
    },
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  tick(): void {
    const { index, clock, fanout, blacklist, clockToleranceS } = this.deps;
    const nowMs = clock.tick();
    const deadline = clock.nowS - clockToleranceS;
    const scanBackpressure = fanout.stats.broadcasts !== this.broadcastsSeen;
    this.broadcastsSeen = fanout.stats.broadcasts;
    let expired: ConnState[] | undefined;
    let slow: ConnState[] | undefined;
    for (const conn of index.bySeq.values()) {
      if (conn.expS !== 0 && conn.expS <= deadline) (expired ??= []).push(conn);
      else if (scanBackpressure && fanout.isOverLimit(conn)) (slow ??= []).push(conn);
    }
    // Close after the scan: closing edits the index being iterated.
    for (const conn of expired ?? []) {
      if (closeConnection(conn, CloseCode.TOKEN_EXPIRED, 'token expired')) this.stats.expired++;
    }
    for (const conn of slow ?? []) fanout.closeSlowConsumer(conn);
    if (++this.ticks % 60 === 0) blacklist.purgeExpired(nowMs);
  }
}
