import type { EdgeConfig } from '../config.js';
import type { Identity } from '../connection/identity.js';
import { refusal, type Refusal } from './admission.js';

/** What the limits need to know about the edge's connections. */
export interface ConnectionCounts {
  readonly openCount: number;
  userConnectionCount(user: string): number;
}

export interface LimitStats {
  /** Upgrades refused, by limit. */
  full: number;
  connectRate: number;
  perUser: number;
}

/**
 * Edge-wide limits checked at upgrade, each answered with its own status so a load balancer or
 * client knows what to do: a full edge and a connect-rate burst get 503 (try another edge, or
 * later: the rate limit protects a surviving edge in a reconnect storm), a user past the per-user
 * cap gets 429 TOO_MANY_CONNECTIONS when the policy refuses the newest. The connect rate is a
 * token bucket over the whole edge, in whole milliseconds.
 */
export class ConnectionLimits {
  readonly stats: LimitStats = { full: 0, connectRate: 0, perUser: 0 };
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly config: Pick<EdgeConfig, 'maxConnections' | 'maxConnectsPerS' | 'maxConnectionsPerUser' | 'userLimitPolicy'>,
    private readonly counts: ConnectionCounts,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.tokens = config.maxConnectsPerS;
    this.refilledAtMs = nowMs();
  }

  /** Before the token is verified: capacity and rate (cheap refusals first in a storm). */
  checkEdge(): Refusal | undefined {
    const { maxConnections, maxConnectsPerS } = this.config;
    if (maxConnections > 0 && this.counts.openCount >= maxConnections) {
      this.stats.full++;
      return refusal(503, 'SERVER_FULL', `this edge holds its maximum of ${maxConnections} connections: try another`);
    }
    if (maxConnectsPerS > 0) {
      const now = this.nowMs();
      this.tokens = Math.min(maxConnectsPerS, this.tokens + ((now - this.refilledAtMs) * maxConnectsPerS) / 1000);
      this.refilledAtMs = now;
      if (this.tokens < 1) {
        this.stats.connectRate++;
        return refusal(503, 'CONNECT_RATE_LIMITED', `more than ${maxConnectsPerS} connects per second: retry with backoff`);
      }
      this.tokens -= 1;
    }
    return undefined;
  }

  /** After the token: the user's connections on this edge (only refused when the policy keeps the oldest). */
  checkUser(identity: Identity): Refusal | undefined {
    const max = this.config.maxConnectionsPerUser;
    if (max === 0 || this.config.userLimitPolicy !== 'refuse-newest') return undefined;
    if (this.counts.userConnectionCount(identity.user) < max) return undefined;
    this.stats.perUser++;
    return refusal(429, 'TOO_MANY_CONNECTIONS', `at most ${max} connections per user on this edge`);
  }
}
