/**
 * The fault table of docs/reliability.md in its short CI form: the real topology (3-node NATS
 * cluster with JetStream, two edges, two registry replicas, the admin API), a few faults, fewer
 * clients, shorter outages. The full table: `node scripts/fault-table.mjs`.
 *
 * Asserted per fault: the registry's presence equals the open sockets connection by connection
 * once recovered, no user is told the same status twice in a row, every user's last presence event
 * says what is true, no connection id is ever handed out twice, and the blacklisted session is
 * refused on every edge right after the 201 and its socket closed within the documented bound.
 */
import { describe, expect, it } from 'vitest';
import { FAULTS } from '../fault/faults.js';
import { formatTable, runFaultTable } from '../fault/fault-table.js';
import { ENFORCEMENT_BOUND_MS } from '../../services/admin/src/blacklist-enforcement.js';

const CI_FAULTS = ['nats node killed + restarted', 'registry leader killed under churn', 'edge restarted with the same id', 'edge partitioned from NATS (proxy)'];

describe('fault table (CI form)', () => {
  it('ends every fault with exact presence, no duplicate transitions, no id collisions, and the blacklist enforced within its bound', async () => {
    const faults = FAULTS.filter((f) => CI_FAULTS.includes(f.name));
    expect(faults).toHaveLength(CI_FAULTS.length);
    const { rows, collisions } = await runFaultTable({ clients: 20, faults, long: false, pushesPerTick: 2, heartbeatMs: 300, edgeLostAfterMs: 3_000 });
    console.log(`${formatTable(rows)}\nconnection-id collisions: ${collisions}`);
    expect(collisions).toBe(0);
    for (const r of rows) {
      expect(r.presenceMismatches, r.fault).toBe(0);
      expect(r.events.duplicates, r.fault).toBe(0);
      expect(r.events.finalWrong, r.fault).toBe(0);
      expect(Number.isFinite(r.recoveryMs), r.fault).toBe(true);
      const b = r.blacklist!;
      expect(b.status, r.fault).toBe(201);
      expect(b.welcomedAfterAck, `${r.fault}: blacklisted session welcomed after the 201`).toBe(0);
      expect(b.closedAfterAckMs, r.fault).toBeGreaterThanOrEqual(0);
      expect(b.closedAfterAckMs, r.fault).toBeLessThanOrEqual(ENFORCEMENT_BOUND_MS);
    }
  }, 120_000);
});
