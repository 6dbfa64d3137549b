/**
 * The seeded black-box fuzzer (support/fuzz-edge.ts) against a live edge, short and with a fixed
 * seed in CI; `scripts/fuzz-edge.sh <seed> <seconds>` runs the same thing for longer through the
 * FUZZ_EDGE_SEED and FUZZ_EDGE_DURATION_S variables (FUZZ_EDGE_REPORT names a file for the whole
 * report). Prints its counts; passes only with zero crashes and zero wrong answers.
 */
import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { formatReport, fuzzEdge } from './support/fuzz-edge.js';
import { liveEdgePerFile } from './support/fuzz-live-edge.js';

const MAX_MESSAGE_BYTES = 8192;
const seed = Number(process.env['FUZZ_EDGE_SEED'] ?? 20261201);
const durationS = process.env['FUZZ_EDGE_DURATION_S'] === undefined ? undefined : Number(process.env['FUZZ_EDGE_DURATION_S']);
/** CI: a fixed number of batches (the same cases on every run). */
const CI_BATCHES = 8;

const live = liveEdgePerFile({ MESH_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });

it(
  `fuzzes a live edge (seed ${seed}): zero crashes, zero wrong answers`,
  async () => {
    const report = await fuzzEdge(live(), {
      seed,
      ...(durationS !== undefined ? { durationMs: durationS * 1000 } : { batches: CI_BATCHES }),
      maxMessageBytes: MAX_MESSAGE_BYTES,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    const reportFile = process.env['FUZZ_EDGE_REPORT'];
    if (reportFile !== undefined) writeFileSync(reportFile, JSON.stringify(report, null, 2));
    expect(report.cases).toBeGreaterThan(0);
    expect(report.crashes, formatReport(report)).toBe(0);
    expect(report.wrongAnswers, formatReport(report)).toBe(0);
  },
  durationS !== undefined ? durationS * 1000 + 120_000 : 120_000,
);
