/**
 * The full fault table (run by scripts/fault-table.mjs through vite-node, so it shares test/support
 * with the tests). Options: --clients N (200), --only <substring>, --json <file>.
 */
import { writeFileSync } from 'node:fs';
import { FAULTS } from './faults.js';
import { formatTable, runFaultTable } from './fault-table.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = arg('only');
const faults = FAULTS.filter((f) => only === undefined || f.name.includes(only));
const started = Date.now();
const result = await runFaultTable(
  {
    clients: Number(arg('clients') ?? 200),
    faults,
    long: true,
    pushesPerTick: Number(arg('pushes-per-tick') ?? 10),
    heartbeatMs: 1_000,
    // The registry's default (30 s): a frozen NATS node must not get live edges purged.
    edgeLostAfterMs: 30_000,
    log: (line) => console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`),
  },
  (row) => console.error(JSON.stringify(row)),
);
console.log(formatTable(result.rows));
console.log(`\nconnection-id collisions: ${result.collisions}; ${faults.length} faults in ${((Date.now() - started) / 1000).toFixed(0)} s`);
const json = arg('json');
if (json !== undefined) writeFileSync(json, JSON.stringify(result, null, 2));
process.exit(0);
