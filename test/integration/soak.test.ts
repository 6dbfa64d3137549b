/**
 * The soak in its CI form (the long one: `node scripts/soak.mjs`): 2,000 sessions on the real
 * topology for 90 s, numbered pushes to the steady half, the other half churning. Asserted: every
 * push to the steady half arrives once, presence equals the sockets connection by connection with
 * no status told twice in a row, no connection id is handed out twice, and no process's memory
 * keeps growing (a leak shows as a resident size far above the one after the warm-up; the bound is
 * loose on purpose: it catches leaks, not allocator noise).
 */
import { describe, expect, it } from 'vitest';
import { formatSoak, runSoak } from '../fault/soak.js';

describe('soak (CI form)', () => {
  it('holds 2,000 sessions under pushes and churn with exact pushes and presence and flat memory', async () => {
    const report = await runSoak({ sessions: 2000, durationMs: 90_000, pushesPerTick: 4, churnPerSecond: 0.02, sampleMs: 2_000, warmupShare: 0.25 });
    console.log(formatSoak(report));
    expect(report.pushes.sent).toBeGreaterThan(10_000);
    expect(report.pushes).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(report.churnConnects).toBeGreaterThan(1000);
    expect({ mismatches: report.presenceMismatches, duplicates: report.duplicateTransitions, finalWrong: report.finalWrong, collisions: report.collisions }).toEqual({ mismatches: 0, duplicates: 0, finalWrong: 0, collisions: 0 });
    for (const m of report.memory) expect(m.endKiB, `${m.process}: ${formatSoak(report)}`).toBeLessThan(m.warmKiB * 1.5 + 20 * 1024);
  }, 240_000);
});
