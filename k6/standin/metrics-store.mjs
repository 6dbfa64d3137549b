// Aggregates the samples every VU sends: Counter (sum), Gauge (last, min, max), Rate (share of
// non-zero samples), Trend (all values, for avg/min/med/max and percentiles).
export class MetricsStore {
  /** @type {Map<string, { kind: 'counter'|'gauge'|'rate'|'trend', isTime: boolean, values: number[], sum: number, count: number, nonZero: number, last: number, min: number, max: number }>} */
  metrics = new Map();

  declare(name, kind, isTime) {
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.kind !== kind) throw new Error(`metric ${name} declared as ${existing.kind} and as ${kind}`);
      return;
    }
    this.metrics.set(name, { kind, isTime, values: [], sum: 0, count: 0, nonZero: 0, last: 0, min: Infinity, max: -Infinity });
  }

  add(name, value) {
    const m = this.metrics.get(name);
    if (!m) throw new Error(`sample for undeclared metric ${name}`);
    m.count++;
    m.sum += value;
    if (value !== 0) m.nonZero++;
    m.last = value;
    m.min = Math.min(m.min, value);
    m.max = Math.max(m.max, value);
    if (m.kind === 'trend') m.values.push(value);
  }

  /** The aggregations k6 shows for the metric's kind; `durationS` turns counts into rates. */
  values(name, durationS) {
    const m = this.metrics.get(name);
    if (!m) return undefined;
    switch (m.kind) {
      case 'counter':
        return { count: m.sum, rate: durationS > 0 ? m.sum / durationS : 0 };
      case 'gauge':
        return { value: m.last, min: m.count ? m.min : 0, max: m.count ? m.max : 0 };
      case 'rate':
        return { rate: m.count ? m.nonZero / m.count : 0, passes: m.nonZero, fails: m.count - m.nonZero };
      case 'trend': {
        if (m.count === 0) return { count: 0 };
        const sorted = Float64Array.from(m.values).sort();
        return { count: m.count, avg: m.sum / m.count, min: sorted[0], med: percentile(sorted, 50), max: sorted[sorted.length - 1], 'p(90)': percentile(sorted, 90), 'p(95)': percentile(sorted, 95), 'p(99)': percentile(sorted, 99), sorted };
      }
    }
  }
}

/** Linear interpolation between the closest ranks. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}
