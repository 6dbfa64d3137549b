import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OpsRoute } from '../ops-server.js';
import type { PlainHistogram } from './plain-histogram.js';

export type Labels = Readonly<Record<string, string>>;
/** A labelled reading: one [labels, value] pair per series. */
export type LabelledReading = Iterable<readonly [Labels, number]>;

/**
 * One Prometheus registry per process, scraped at GET /metrics on the ops port.
 *
 * Hot-path figures are NOT incremented through prom-client: the services keep plain-number counters
 * and these metrics read them in collect(), at scrape time, so a delivered message costs no call and
 * no allocation here. `onScrape` hooks run once before each scrape (take one snapshot, read it from
 * many metrics).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly hooks: Array<() => void> = [];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // process_* and nodejs_* (CPU, RSS, heap, GC, event-loop lag): a few timers, nothing per message.
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // It lists /proc/self/fd on every scrape: one string per socket, 200k on a full edge.
      this.registry.removeSingleMetric('process_open_fds');
    }
  }

  /** Runs before every scrape, in registration order. */
  onScrape(hook: () => void): void {
    this.hooks.push(hook);
  }

  /** A counter whose value is a plain number the service keeps (monotonic). */
  counterFrom(name: string, help: string, read: () => number): void {
    this.counterFromLabelled(name, help, [], () => [[{}, read()]]);
  }

  counterFromLabelled(name: string, help: string, labelNames: readonly string[], read: () => LabelledReading): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        // Every reading is shown, zeros included, so rate() and absent() work from the first scrape.
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  }

  gaugeFrom(name: string, help: string, read: () => number): void {
    this.gaugeFromLabelled(name, help, [], () => [[{}, read()]]);
  }

  gaugeFromLabelled(name: string, help: string, labelNames: readonly string[], read: () => LabelledReading): void {
    // A gauge's series are exactly the current reading: series of edges or routes gone disappear.
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  }

  /** An event-driven counter, for paths that are not per message (reconnects, admin requests). */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, buckets: readonly number[], labelNames: readonly L[] = []): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /** Exposes a PlainHistogram the service observes into (see plain-histogram.ts). */
  histogramFrom(name: string, help: string, histogram: PlainHistogram): void {
    this.registry.registerMetric({
      name,
      help,
      get: () => {
        const values: Array<{ metricName: string; labels: Labels; value: number }> = [];
        let cumulative = 0;
        histogram.bounds.forEach((le, i) => {
          cumulative += histogram.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { le: String(le) }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: histogram.count });
        values.push({ metricName: `${name}_sum`, labels: {}, value: histogram.sum });
        values.push({ metricName: `${name}_count`, labels: {}, value: histogram.count });
        return { name, help, type: 'histogram', values, aggregator: 'sum' };
      },
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  async scrape(): Promise<string> {
    for (const hook of this.hooks) hook();
    return this.registry.metrics();
  }

  /** The GET /metrics handler for the ops server. */
  route(): OpsRoute {
    return async () => ({ status: 200, body: await this.scrape(), contentType: this.registry.contentType });
  }
}
