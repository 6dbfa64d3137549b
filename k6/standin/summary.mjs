// The end-of-test text: every metric with k6's aggregations, then each threshold with its
// measured value, then one closing line (grep-able by CI logs).
const fmt = (n, isTime) => (n === undefined || n === null || Number.isNaN(n) ? '-' : isTime ? `${round(n)}ms` : `${round(n)}`);
const round = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 10 ? 3 : 1));

export function formatSummary(summary) {
  const lines = [`\n  k6 stand-in (CI only, not k6): ${summary.script}, ${summary.durationS.toFixed(1)} s\n`];
  const width = Math.max(...Object.keys(summary.metrics).map((n) => n.length)) + 3;
  for (const [name, { type, isTime, values: v }] of Object.entries(summary.metrics)) {
    let text;
    if (type === 'counter') text = `${fmt(v.count)}  ${fmt(v.rate)}/s`;
    else if (type === 'rate') text = `${(v.rate * 100).toFixed(2)}%  ${v.passes} of ${v.passes + v.fails}`;
    else if (type === 'gauge') text = `${fmt(v.value, isTime)}  min=${fmt(v.min, isTime)} max=${fmt(v.max, isTime)}`;
    else if (v.count === 0) text = 'no samples';
    else text = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'].map((k) => `${k}=${fmt(v[k], isTime)}`).join(' ') + ` count=${v.count}`;
    lines.push(`    ${name.padEnd(width, '.')}: ${text}`);
  }
  if (summary.thresholds.length > 0) lines.push('', '  thresholds:');
  for (const t of summary.thresholds) {
    const isTime = summary.metrics[t.metric]?.isTime ?? false;
    lines.push(`    ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric} '${t.threshold}'  (actual ${fmt(t.actual, isTime)}${t.reason ? `: ${t.reason}` : ''})`);
  }
  if (summary.iterationsInterrupted > 0) lines.push('', `  iterations interrupted at their scenario's hard stop: ${summary.iterationsInterrupted}`);
  if (summary.errors.length > 0) lines.push('', `  script errors (${summary.errors.length}):`, ...summary.errors.slice(0, 20).map((e) => `    ${e.split('\n')[0]}`));
  if (summary.aborted) lines.push('', `  test aborted: ${summary.aborted}`);
  const failed = summary.thresholds.filter((t) => !t.ok).length;
  lines.push('', failed === 0 ? `  k6 stand-in: ${summary.thresholds.length} thresholds passed` : `  k6 stand-in: ${failed} of ${summary.thresholds.length} thresholds crossed`, '');
  return lines.join('\n') + '\n';
}
