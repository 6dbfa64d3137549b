import { describe, expect, it } from 'vitest';
import {
  blacklistKey,
  blacklistRefuses,
  parseBlacklistEntry,
  parseConnectEvent,
  parseDisconnectEvent,
  parseHeartbeatEvent,
  parsePresenceEvent,
  parseRegistryErrorReply,
  parseSnapshotEvent,
  RegistryErrorCode,
} from '@session-mesh/protocol';

const connection = { conn: 'e1-1', user: 'u', session: 's', client: 'c', edge: 'e1', connectedAt: 1, lastActivity: 2 };

describe('event validation on receipt', () => {
  it('accepts well-formed events', () => {
    expect(parseConnectEvent(JSON.stringify({ v: 1, edge: 'e1', at: 5, connection }))).toEqual({
      ok: true,
      value: { v: 1, edge: 'e1', at: 5, connection },
    });
    const hb = { v: 1, edge: 'e1', at: 5, intervalMs: 1000, connections: 3, activity: [['e1-1', 9]] };
    expect(parseHeartbeatEvent(new TextEncoder().encode(JSON.stringify(hb)))).toMatchObject({ ok: true });
    const dc = { v: 1, edge: 'e1', at: 5, conn: 'e1-1', user: 'u', session: 's', client: 'c', code: 4005, reason: 'killed' };
    expect(parseDisconnectEvent(JSON.stringify(dc))).toMatchObject({ ok: true });
    const snap = { v: 1, edge: 'e1', at: 5, snapshotId: 'x', part: 0, parts: 1, connections: [connection] };
    expect(parseSnapshotEvent(JSON.stringify(snap))).toMatchObject({ ok: true });
    expect(parsePresenceEvent(JSON.stringify({ v: 1, user: 'u', status: 'online', at: 1, connections: 1 }))).toMatchObject({ ok: true });
  });

  it('names the first problem of a malformed event', () => {
    expect(parseConnectEvent('{')).toMatchObject({ ok: false, error: expect.stringMatching(/JSON/) });
    expect(parseConnectEvent(JSON.stringify({ v: 2, edge: 'e', at: 1, connection }))).toMatchObject({ ok: false, error: 'v must be 1' });
    expect(parseConnectEvent(JSON.stringify({ v: 1, edge: 'e', at: 1, connection: { ...connection, user: '' } }))).toMatchObject({
      ok: false,
      error: 'connection.user must not be empty',
    });
    expect(parseHeartbeatEvent(JSON.stringify({ v: 1, edge: 'e', at: 1, intervalMs: 1, connections: -1, activity: [] }))).toMatchObject({
      ok: false,
      error: 'connections must be a non-negative integer',
    });
    expect(parseSnapshotEvent(JSON.stringify({ v: 1, edge: 'e', at: 1, snapshotId: 'x', part: 1, parts: 1, connections: [] }))).toMatchObject({
      ok: false,
    });
    expect(parsePresenceEvent(JSON.stringify({ v: 1, user: 'u', status: 'away', at: 1, connections: 0 }))).toMatchObject({ ok: false });
  });

  it('applies the whole id rule to every id, not only non-empty', () => {
    const bad = ['a\u0000b', '\ud800', 'x'.repeat(513)];
    for (const user of bad) {
      expect(parseConnectEvent(JSON.stringify({ v: 1, edge: 'e', at: 1, connection: { ...connection, user } }))).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^connection\.user must/),
      });
      expect(parsePresenceEvent(JSON.stringify({ v: 1, user, status: 'online', at: 1, connections: 1 }))).toMatchObject({ ok: false });
    }
    const hb = { v: 1, edge: 'e1', at: 5, intervalMs: 1000, connections: 3, activity: [['e1\n1', 9]] };
    expect(parseHeartbeatEvent(JSON.stringify(hb))).toMatchObject({ ok: false, error: 'activity[0][0] must not contain control characters' });
    expect(parseDisconnectEvent(JSON.stringify({ v: 1, edge: 'e\u007f', at: 5, conn: 'c', user: 'u', session: 's', client: 'c', code: 0, reason: '' }))).toMatchObject({
      ok: false,
      error: 'edge must not contain control characters',
    });
  });
});

describe('registry error reply', () => {
  it('parses the error reply and nothing else', () => {
    expect(parseRegistryErrorReply(JSON.stringify({ error: RegistryErrorCode.BAD_REQUEST, message: 'the user token is not an encoded id' }))).toEqual({
      ok: true,
      value: { error: 'bad_request', message: 'the user token is not an encoded id' },
    });
    expect(parseRegistryErrorReply(JSON.stringify({ error: 'internal', message: 'x' }))).toMatchObject({ ok: true });
    expect(parseRegistryErrorReply(JSON.stringify({ connections: [] }))).toMatchObject({ ok: false });
    expect(parseRegistryErrorReply(JSON.stringify({ error: 'teapot', message: 'x' }))).toMatchObject({ ok: false });
    expect(parseRegistryErrorReply(JSON.stringify({ error: 'internal' }))).toMatchObject({ ok: false, error: 'message must be a string' });
    expect(parseRegistryErrorReply('nope')).toMatchObject({ ok: false });
  });
});

describe('blacklist entries', () => {
  const base = { kind: 'session' as const, id: 's', reason: 'r', createdAt: 0, expiresAt: 1000 };

  it('uses encoded keys', () => {
    expect(blacklistKey('session', 'a.b')).toBe('session.YS5i');
    expect(blacklistKey('user', '>')).toBe('user.Pg');
  });

  it('expires by the time in the value', () => {
    expect(blacklistRefuses(base, 999, undefined)).toBe(true);
    expect(blacklistRefuses(base, 1000, undefined)).toBe(false);
  });

  it('refuses only tokens issued before issuedBefore for "log out everywhere"', () => {
    const entry = { ...base, kind: 'user' as const, issuedBefore: 500 };
    expect(blacklistRefuses(entry, 10, 499)).toBe(true);
    expect(blacklistRefuses(entry, 10, 500)).toBe(false);
    expect(blacklistRefuses(entry, 10, undefined)).toBe(true);
  });

  it('parses only well-formed values', () => {
    expect(parseBlacklistEntry(JSON.stringify(base))).toEqual(base);
    expect(parseBlacklistEntry('{"kind":"planet"}')).toBeUndefined();
    expect(parseBlacklistEntry('not json')).toBeUndefined();
    expect(parseBlacklistEntry(JSON.stringify({ ...base, id: 'a\nb' }))).toBeUndefined();
    expect(parseBlacklistEntry(JSON.stringify({ ...base, id: '' }))).toBeUndefined();
  });
});
