import type { Bus, BusSubscription } from '@session-mesh/bus';
import type { Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';

export interface CanaryStats {
  sent: number;
  received: number;
  /** Times the delivery path was declared broken. */
  failures: number;
}

/**
 * Proves the edge's own delivery path end to end. A NATS connection can look healthy while its
 * subscriptions silently stopped delivering (anycable/anycable#275): users are deaf and nothing
 * says so. The edge subscribes to its canary subject exactly like a user subscription (same bus
 * path, an exact subject) and publishes to it every interval; when none has arrived for
 * `misses` intervals, readiness fails (the load balancer stops sending clients), a counter
 * moves and one error line says why. The first canary that arrives again restores readiness.
 */
export class DeliveryCanary {
  readonly stats: CanaryStats = { sent: 0, received: 0, failures: 0 };
  private sub: BusSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastReceivedAt = 0;
  private broken = false;
  private readonly payload = new Uint8Array(0);

  constructor(
    private readonly bus: Bus,
    private readonly subjects: Subjects,
    private readonly edgeId: string,
    private readonly intervalMs: number,
    private readonly misses: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    const subject = this.subjects.edgeCanary(this.edgeId);
    this.lastReceivedAt = this.now();
    this.sub = this.bus.subscribe(subject, () => {
      this.stats.received++;
      this.lastReceivedAt = this.now();
      if (this.broken) {
        this.broken = false;
        this.logger.warn('delivery canary arrives again: readiness restored');
      }
    });
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Publishes one canary and judges the silence so far. */
  tick(): void {
    try {
      this.bus.publish(this.subjects.edgeCanary(this.edgeId), this.payload);
      this.stats.sent++;
    } catch {
      // A disconnected bus is the bus check's business; the silence below still counts.
    }
    const silentMs = this.now() - this.lastReceivedAt;
    if (!this.broken && silentMs > this.misses * this.intervalMs) {
      this.broken = true;
      this.stats.failures++;
      this.logger.error({ silentMs }, 'delivery canary stopped arriving: this edge receives nothing from NATS; failing readiness');
    }
  }

  readiness(): true | string {
    return this.broken ? `delivery path broken: no canary for ${Math.round((this.now() - this.lastReceivedAt) / 1000)} s` : true;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}
