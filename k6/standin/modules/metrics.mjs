// k6/metrics: Counter, Gauge, Rate, Trend. Samples are aggregated by the main thread; tags are
// accepted and ignored (the stand-in has no tag-filtered thresholds).
import { addSample, declareMetric } from '../vu-runtime.mjs';

const validName = /^[A-Za-z0-9_]{1,128}$/;

class Metric {
  /** @param {string} name @param {'counter'|'gauge'|'rate'|'trend'} kind @param {boolean} isTime */
  constructor(name, kind, isTime) {
    if (!validName.test(name)) throw new Error(`invalid metric name '${name}': use 1-128 of A-Z a-z 0-9 _`);
    this.name = name;
    declareMetric(name, kind, Boolean(isTime));
  }

  add(value, _tags) {
    const n = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
    if (!Number.isFinite(n)) throw new Error(`metric ${this.name}: add() needs a finite number, got ${String(value)}`);
    addSample(this.name, n);
    return true;
  }
}

export class Counter extends Metric {
  constructor(name, isTime = false) {
    super(name, 'counter', isTime);
  }
}
export class Gauge extends Metric {
  constructor(name, isTime = false) {
    super(name, 'gauge', isTime);
  }
}
export class Rate extends Metric {
  constructor(name, isTime = false) {
    super(name, 'rate', isTime);
  }
  add(value, tags) {
    return super.add(value ? 1 : 0, tags);
  }
}
export class Trend extends Metric {
  constructor(name, isTime = false) {
    super(name, 'trend', isTime);
  }
}

export default { Counter, Gauge, Rate, Trend };
