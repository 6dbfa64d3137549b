import { CloseCode } from '@session-mesh/protocol';
import type { CoarseClock } from '../clock.js';
import { Mark, State, type Connection } from '../connection/connection.js';
import type { Hub } from '../hub/hub.js';
import type { BlacklistView } from './blacklist-view.js';

export interface SweepStats {
  expired: number;
  idleClosed: number;
  pings: number;
}

/**
 * One timer for the whole edge, once a second, instead of timers per connection: advances the
 * coarse clock, closes connections whose token expired (TOKEN_EXPIRED), pings connections silent
 * for half the idle timeout and closes those silent for all of it (IDLE_TIMEOUT, with a close
 * frame: uWS's own idle timer closed them at about half the time with a bare TCP close), and
 * forgets expired blacklist entries now and then.
 */
export class Sweeper {
  readonly stats: SweepStats = { expired: 0, idleClosed: 0, pings: 0 };
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;

  constructor(
    private readonly deps: {
      readonly hub: Hub;
      readonly clock: CoarseClock;
      readonly blacklist: BlacklistView;
      /** Same leeway as token verification: a token accepted at upgrade is not closed at once. */
      readonly clockToleranceS: number;
      /** 0: no idle checks. */
      readonly idleTimeoutS: number;
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
    const { hub, clock, blacklist, clockToleranceS, idleTimeoutS } = this.deps;
    const nowMs = clock.tick();
    const now = clock.nowS;
    const deadline = now - clockToleranceS;
    const pingAfter = Math.max(1, Math.floor(idleTimeoutS / 2));
    let expired: Connection[] | undefined;
    let idle: Connection[] | undefined;
    for (const conn of hub.bySeq.values()) {
      if (conn.state === State.CLOSED) continue;
      if (conn.expS !== 0 && conn.expS <= deadline) {
        (expired ??= []).push(conn);
        continue;
      }
      if (idleTimeoutS === 0) continue;
      const silentS = now - conn.lastSeenS;
      if (silentS >= idleTimeoutS) (idle ??= []).push(conn);
      else if (silentS >= pingAfter && (conn.marks & Mark.PINGED) === 0) {
        conn.marks |= Mark.PINGED;
        conn.ping();
        this.stats.pings++;
      }
    }
    // Close after the scan: closing edits the index being iterated.
    for (const conn of expired ?? []) if (conn.close(CloseCode.TOKEN_EXPIRED, 'token expired')) this.stats.expired++;
    for (const conn of idle ?? []) if (conn.close(CloseCode.IDLE_TIMEOUT, 'idle timeout: no answer to ping')) this.stats.idleClosed++;
    if (++this.ticks % 60 === 0) blacklist.purgeExpired(nowMs);
  }
}
