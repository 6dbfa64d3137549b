import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from '@session-mesh/runtime';

/** NATS disconnects a client that does not read for `write_deadline` (10 s by default). */
export const NATS_WRITE_DEADLINE_MS = 10_000;

/**
 * Watches event-loop delay. A loop stalled for seconds stops reading the NATS socket; past the
 * server's write_deadline NATS cuts the edge off (every subscription gone until the reconnect).
 * Warn well before that.
 */
export class StallMonitor {
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Largest delay seen in the last window, ms. */
  lastMaxMs = 0;

  constructor(
    private readonly logger: Logger,
    private readonly warnMs = 1_000,
    private readonly windowMs = 5_000,
  ) {}

  start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
    this.timer = setInterval(() => this.check(), this.windowMs);
    this.timer.unref();
  }

  check(): void {
    const h = this.histogram;
    if (h === undefined) return;
    const maxMs = h.max / 1e6;
    this.lastMaxMs = maxMs;
    h.reset();
    if (maxMs >= NATS_WRITE_DEADLINE_MS / 2) {
      this.logger.error(
        { maxDelayMs: Math.round(maxMs), writeDeadlineMs: NATS_WRITE_DEADLINE_MS },
        'event loop stalled close to the NATS write_deadline: the server may disconnect this edge',
      );
    } else if (maxMs >= this.warnMs) {
      this.logger.warn({ maxDelayMs: Math.round(maxMs) }, 'event loop stalled');
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.histogram?.disable();
    this.histogram = undefined;
  }
}
