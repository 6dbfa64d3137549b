import type { Connection } from '../connection/connection.js';

/** Tokens are counted in thousandths, so the per-connection fields stay small integers (no heap number each). */
const MILLI = 1000;

/**
 * Per-connection token bucket for inbound frames: `ratePerS` sustained, `burst` at once. The
 * bucket lives in two integer fields of the connection (no object per connection). A client past
 * its burst is closed (RATE_LIMITED) rather than queued: one flooder must not delay everybody's
 * pushes and the edge's health answers.
 */
export class InboundRateLimit {
  private readonly burstMilli: number;

  constructor(
    private readonly ratePerS: number,
    burst: number,
    /** Whole milliseconds, monotonic. */
    private readonly nowMs: () => number = () => Math.floor(performance.now()),
  ) {
    this.burstMilli = burst * MILLI;
  }

  /** Takes one token; false when the connection has none left. */
  take(conn: Connection): boolean {
    const now = this.nowMs();
    if (conn.tokens < 0) {
      conn.tokens = this.burstMilli;
    } else {
      // ratePerS tokens per 1000 ms = ratePerS milli-tokens per ms.
      conn.tokens = Math.min(this.burstMilli, conn.tokens + (now - conn.refilledAtMs) * this.ratePerS);
    }
    conn.refilledAtMs = now;
    if (conn.tokens < MILLI) return false;
    conn.tokens -= MILLI;
    return true;
  }
}
