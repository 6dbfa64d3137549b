import { describe, expect, it } from 'vitest';
import { anonymousIdentity, clientIdProblem, ConnectionIds, identityFromToken, randomClientId, RoleTable } from '../src/connection/identity.js';

describe('client ids', () => {
  it('accepts ordinary ids and refuses bad ones', () => {
    expect(clientIdProblem('tab-1')).toBeUndefined();
    expect(clientIdProblem('ünï ☃')).toBeUndefined();
    expect(clientIdProblem('')).toMatch(/empty/);
    expect(clientIdProblem('a\nb')).toMatch(/control/);
    expect(clientIdProblem('é'.repeat(65))).toMatch(/128/);
  });

  it('generates distinct, subject-safe ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, randomClientId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });
});

describe('ConnectionIds', () => {
  it('formats and parses only its own ids', () => {
    const ids = new ConnectionIds('edge-a', 'k9');
    const seq = ids.allocate();
    const id = ids.format(seq);
    expect(id).toBe('edge-a-k9-1');
    expect(ids.parse(id)).toBe(seq);
    expect(ids.parse(ids.format(123456789))).toBe(123456789);
    for (const other of ['edge-b-k9-1', 'edge-a-1', 'edge-a-k9-', 'edge-a-k9-01', 'edge-a-k9-Z', 'edge-a-k9-1.2', 'edge-a-k9-zzzzzzzzzzzzzzzzzz']) {
      expect(ids.parse(other), other).toBeUndefined();
    }
  });

  // An edge restarted with the same MESH_EDGE_ID handed out the same connection ids again, so a
  // kill addressed to an old connection closed another user's new one.
  it('never repeats ids across restarts of an edge with the same id', () => {
    const before = new ConnectionIds('edge-a');
    const after = new ConnectionIds('edge-a');
    const old = before.format(before.allocate());
    expect(after.format(after.allocate())).not.toBe(old);
    expect(after.parse(old)).toBeUndefined();
  });
});

describe('RoleTable', () => {
  it('interns equal role lists into one frozen object', () => {
    const table = new RoleTable();
    const a = table.intern(['a', 'b']);
    const b = table.intern(['a', 'b']);
    expect(a).toBe(b);
    expect(a.json).toBe('["a","b"]');
    expect(Object.isFrozen(a.roles)).toBe(true);
    expect(table.intern([])).toBe(RoleTable.EMPTY);
    expect(table.size).toBe(1);
  });

  it('stops sharing past its cap instead of growing', () => {
    const table = new RoleTable(2);
    table.intern(['a']);
    table.intern(['b']);
    const c1 = table.intern(['c']);
    expect(table.size).toBe(2);
    expect(c1.json).toBe('["c"]');
    expect(table.intern(['c'])).not.toBe(c1);
  });
});

describe('identities', () => {
  it('maps a verified token to seconds', () => {
    const id = identityFromToken(
      { userId: 'u', sessionId: 's', roles: ['r'], issuedAtMs: 1_700_000_000_000, expiresAtMs: 1_700_000_600_500 },
      'c',
      new RoleTable(),
    );
    expect(id).toMatchObject({ user: 'u', session: 's', client: 'c', iatS: 1_700_000_000, expS: 1_700_000_601 });
    expect(identityFromToken({ userId: 'u', sessionId: 's', roles: [], issuedAtMs: null, expiresAtMs: null }, 'c', new RoleTable())).toMatchObject({
      iatS: -1,
      expS: 0,
    });
  });

  it('makes anonymous tabs their own user and session', () => {
    expect(anonymousIdentity('tab')).toMatchObject({ user: 'tab', session: 'tab', client: 'tab', expS: 0, iatS: -1 });
  });
});
