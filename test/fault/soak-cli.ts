/**
 * The long soak (run by scripts/soak.mjs through vite-node, sharing test/support with the tests).
 * Options: --sessions N (4000), --minutes M (10), --json <file>.
 */
import { writeFileSync } from 'node:fs';
import { formatSoak, runSoak } from './soak.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const started = Date.now();
const report = await runSoak({
  sessions: Number(arg('sessions') ?? 4000),
  durationMs: Number(arg('minutes') ?? 10) * 60_000,
  pushesPerTick: 10,
  churnPerSecond: 0.02,
  sampleMs: 5_000,
  warmupShare: 0.2,
  log: (line) => console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`),
});
console.log(formatSoak(report));
const json = arg('json');
if (json !== undefined) writeFileSync(json, JSON.stringify(report, null, 2));
process.exit(0);
