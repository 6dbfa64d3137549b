import type { Connection } from '../connection/connection.js';

/**
 * Per-connection token bucket for inbound frames: `ratePerS` sustained, `burst` at once. The
 * bucket lives in two number fields of the connection (no object per connection). A client past
 * its burst is closed (RATE_LIMITED) rather than queued: one flooder must not delay everybody's
 * pushes and the edge's health answers.
 */
export class InboundRateLimit {
  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token; false when the connection has none left. */
  take(conn: Connection): boolean {
    const now = this.now();
    if (conn.tokens < 0) {
      conn.tokens = this.burst;
    } else {
      conn.tokens = Math.min(this.burst, conn.tokens + ((now - conn.refilledAtMs) * this.ratePerS) / 1000);
    }
    conn.refilledAtMs = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }
}
