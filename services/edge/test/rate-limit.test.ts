import { describe, expect, it } from 'vitest';
import { Connection, ConnectionShared } from '../src/connection/connection.js';
import { RoleTable } from '../src/connection/identity.js';
import { InboundRateLimit } from '../src/inbound/rate-limit.js';

describe('InboundRateLimit', () => {
  it('allows the burst at once, then the rate, and keeps its fields small integers', () => {
    let now = 1000;
    const limit = new InboundRateLimit(10, 5, () => now);
    const conn = new Connection(new ConnectionShared(1000), 1, { user: 'u', session: 's', client: 'c', roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 0, 0);
    const taken = () => Array.from({ length: 8 }, () => limit.take(conn)).filter(Boolean).length;
    expect(taken()).toBe(5);
    now += 250; // 10/s for 0.25 s: 2.5 tokens
    expect(taken()).toBe(2);
    now += 10_000; // refills to the burst, not beyond
    expect(taken()).toBe(5);
    expect(Number.isInteger(conn.tokens) && Number.isInteger(conn.refilledAtMs)).toBe(true);
  });
});
