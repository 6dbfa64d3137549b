/**
 * Issue 7 finding 4: times and TTLs beyond what a JavaScript Date holds were stored, enforced,
 * then broke the audit line (500, an unaudited change) and every later list. Every time is
 * bounded, and the audit line is written before the change.
 */
import { blacklistKey } from '@session-mesh/protocol';
import { describe, expect, it } from 'vitest';
import { admin, useMemoryAdmin } from '../../services/admin/test/support/admin-harness.js';
import { waitFor } from '../support/wait-for.js';

/** The largest time a Date holds: 8.64e15 ms after the epoch (ECMA-262 "Time Values"). */
const MAX_DATE_MS = 8.64e15;

describe('admin API: time bounds', () => {
  const current = useMemoryAdmin();

  it.each([
    ['past the Date range', MAX_DATE_MS + 1],
    ['far past the Date range', Number.MAX_SAFE_INTEGER],
    ['an ISO time past the Date range', '+275760-09-13T00:00:00.001Z'],
    ['an ISO time with an expanded year', '+010000-01-01T00:00:00Z'],
    ['an ISO time before the epoch', '1969-12-31T23:59:59Z'],
    ['an ISO date without a time zone', '2026-01-01T00:00:00'],
  ])('refuses issuedBefore %s with 400, storing and auditing nothing', async (_what, issuedBefore) => {
    const r = await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'victim', ttlSeconds: 60, reason: 'r', issuedBefore } });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json()).toMatchObject({ error: 'bad_request' });
    expect(r.json().message).toMatch(/issuedBefore/);
    const kv = await current.bus.kv('mesh_blacklist');
    expect(await kv.get(blacklistKey('user', 'victim'))).toBeUndefined();
    expect(current.admin.logs.audits()).toEqual([]);
    const list = await current.admin.app.inject({ url: '/v1/blacklist', headers: admin });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual({ entries: [] });
  });

  it('accepts issuedBefore in the future, and an ISO time with an offset', async () => {
    const soon = Date.now() + 3_600_000;
    const a = await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'a', ttlSeconds: 60, reason: 'r', issuedBefore: soon } });
    expect(a.statusCode, a.body).toBe(201);
    const b = await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'b', ttlSeconds: 60, reason: 'r', issuedBefore: '2026-01-02T03:04:05+02:00' } });
    expect(b.statusCode, b.body).toBe(201);
    expect(b.json().issuedBefore).toBe(Date.parse('2026-01-02T01:04:05Z'));
  });

  it('writes the audit line before the change reaches the bucket', async () => {
    const kv = await current.bus.kv('mesh_blacklist');
    const auditsWhenStored: number[] = [];
    const stop = await kv.watch((entry) => {
      if (entry.key === blacklistKey('session', 'watched')) auditsWhenStored.push(current.admin.logs.audits().length);
    });
    try {
      const r = await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/sessions', headers: admin, payload: { sessionId: 'watched', ttlSeconds: 60, reason: 'r' } });
      expect(r.statusCode).toBe(201);
      await waitFor(() => auditsWhenStored.length === 1, { what: 'the watcher to see the entry' });
      expect(auditsWhenStored).toEqual([1]);
    } finally {
      stop();
    }
  });
});
