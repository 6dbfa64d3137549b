// k6 threshold expressions: `<aggregation> <operator> <number>`, e.g. 'p(95)<50', 'rate<0.01',
// 'count>=100', 'avg<=20'. Tag-filtered metric names (`metric{tag:x}`) are refused: the stand-in
// keeps no tags, and silently ignoring the filter would check something else than the script says.
import { percentile } from './metrics-store.mjs';

const expression = /^\s*(avg|min|max|med|count|rate|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|<|>|===|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$/;
const allowed = {
  counter: ['count', 'rate'],
  gauge: ['value', 'min', 'max'],
  rate: ['rate'],
  trend: ['avg', 'min', 'max', 'med', 'p'],
};

/** @returns {Array<{ metric: string, source: string, aggregation: string, percentile?: number, op: string, bound: number }>} */
export function parseThresholds(thresholds) {
  const parsed = [];
  for (const [metric, list] of Object.entries(thresholds ?? {})) {
    if (metric.includes('{')) throw new Error(`threshold on '${metric}': tag-filtered thresholds are not supported by the k6 stand-in`);
    for (const entry of Array.isArray(list) ? list : [list]) {
      const source = typeof entry === 'string' ? entry : entry?.threshold;
      const m = typeof source === 'string' ? expression.exec(source) : null;
      if (!m) throw new Error(`threshold on '${metric}': cannot parse ${JSON.stringify(entry)} (expected e.g. 'p(95)<50' or 'rate<0.01')`);
      parsed.push({ metric, source, aggregation: m[2] !== undefined ? 'p' : m[1], ...(m[2] !== undefined ? { percentile: Number(m[2]) } : {}), op: m[3], bound: Number(m[4]) });
    }
  }
  return parsed;
}

/** Evaluates one threshold; `ok: false` with a reason when it fails or cannot be evaluated. */
export function evaluateThreshold(t, store, durationS) {
  const metric = store.metrics.get(t.metric);
  if (!metric) return { ok: false, actual: undefined, reason: `no metric named ${t.metric}` };
  if (!allowed[metric.kind].includes(t.aggregation)) {
    return { ok: false, actual: undefined, reason: `'${t.source}' does not apply to a ${metric.kind} (use ${allowed[metric.kind].join(', ')})` };
  }
  const values = store.values(t.metric, durationS);
  let actual;
  if (metric.kind === 'trend') {
    // Stricter than k6, which reads an empty Trend as 0: a latency threshold with no samples measured nothing.
    if (values.count === 0) return { ok: false, actual: undefined, reason: `${t.metric} has no samples` };
    actual = t.aggregation === 'p' ? percentile(values.sorted, t.percentile) : values[t.aggregation];
  } else {
    actual = values[t.aggregation];
  }
  return { ok: compare(actual, t.op, t.bound), actual };
}

function compare(a, op, b) {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '==': case '===': return a === b;
    case '!=': return a !== b;
  }
  return false;
}
