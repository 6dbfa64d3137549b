/**
 * A histogram kept in plain numbers for hot paths: observe() is a loop over the bucket bounds and
 * two additions, never an allocation or a call into prom-client. Metrics.histogramFrom exposes it at
 * scrape time (buckets made cumulative then).
 */
export class PlainHistogram {
  /** Observations per bucket, NOT cumulative; the last slot counts values above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] ?? 0) > (bounds[i - 1] ?? 0))) throw new Error(`PlainHistogram: bounds must increase (${bounds.join(', ')})`);
    }
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
  }
}
