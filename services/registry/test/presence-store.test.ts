import type { ConnectionRecord } from '@session-mesh/protocol';
import { describe, expect, it } from 'vitest';
import { PresenceStore } from '../src/state/presence-store.js';

function rec(conn: string, user: string, session: string, edge = 'e1', client = 'c1', lastActivity = 1): ConnectionRecord {
  return { conn, user, session, client, edge, connectedAt: 1, lastActivity };
}

describe('PresenceStore', () => {
  it('indexes a connection by user, session and edge and reports the user online', () => {
    const s = new PresenceStore();
    const change = s.connect(rec('k1', 'alice', 's1'));
    expect(change.transitions).toEqual([{ user: 'alice', status: 'online', connections: 1 }]);
    expect(change.added.map((r) => r.conn)).toEqual(['k1']);
    expect(s.connectionsOfUser('alice').map((r) => r.conn)).toEqual(['k1']);
    expect(s.connectionsOfSession('s1').map((r) => r.conn)).toEqual(['k1']);
    expect(s.connectionsOnEdge('e1').map((r) => r.conn)).toEqual(['k1']);
    expect(s.countOnEdge('e1')).toBe(1);
    expect(s.isOnline('alice')).toBe(true);
    expect(s.stats()).toEqual({ users: 1, sessions: 1, connections: 1, edges: [{ edge: 'e1', connections: 1 }] });
  });

  it('lists exactly the users with at least one connection', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1'));
    s.connect(rec('k2', 'alice', 's2', 'e2'));
    s.connect(rec('k3', 'bob', 's3'));
    s.disconnect('k3');
    s.connect(rec('k4', 'carol', 's4', 'e2'));
    s.purgeEdge('e2');
    expect([...s.onlineUsers()]).toEqual(['alice']);
  });

  it('reports online only for the first connection and offline only for the last', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1'));
    expect(s.connect(rec('k2', 'alice', 's2', 'e2')).transitions).toEqual([]);
    expect(s.countOfUser('alice')).toBe(2);
    expect(s.disconnect('k1').transitions).toEqual([]);
    expect(s.disconnect('k2').transitions).toEqual([{ user: 'alice', status: 'offline', connections: 0 }]);
    expect(s.stats()).toEqual({ users: 0, sessions: 0, connections: 0, edges: [] });
    expect(s.connectionsOfUser('alice')).toEqual([]);
  });

  it('treats a duplicate connect as activity and a stale or unknown disconnect as a no-op', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e1', 'c1', 10));
    const dup = s.connect(rec('k1', 'alice', 's1', 'e1', 'c1', 20));
    expect(dup).toEqual({ added: [], removed: [], transitions: [] });
    expect(s.get('k1')?.lastActivity).toBe(20);
    expect(s.disconnect('nope').transitions).toEqual([]);
    expect(s.disconnect('k1', 'other-edge').removed).toEqual([]);
    expect(s.countOfUser('alice')).toBe(1);
  });

  it('moves a connection id reported with another identity', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e1'));
    const change = s.connect(rec('k1', 'bob', 's9', 'e2'));
    expect(change.transitions).toEqual(
      expect.arrayContaining([
        { user: 'alice', status: 'offline', connections: 0 },
        { user: 'bob', status: 'online', connections: 1 },
      ]),
    );
    expect(s.countOnEdge('e1')).toBe(0);
    expect(s.connectionsOfSession('s9').map((r) => r.conn)).toEqual(['k1']);
  });

  it('never moves lastActivity backwards and ignores activity for unknown connections', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e1', 'c1', 50));
    expect(s.activity('k1', 40)).toBe(true);
    expect(s.get('k1')?.lastActivity).toBe(50);
    s.activity('k1', 70);
    expect(s.get('k1')?.lastActivity).toBe(70);
    expect(s.activity('zzz', 1)).toBe(false);
  });

  it('replaces an edge wholesale from a snapshot, reporting only real transitions', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e1'));
    s.connect(rec('k2', 'bob', 's2', 'e1'));
    s.connect(rec('k3', 'carol', 's3', 'e2'));
    const change = s.replaceEdge('e1', [rec('k1', 'alice', 's1', 'e1', 'c1', 99), rec('k4', 'dave', 's4', 'e1'), rec('kx', 'eve', 'sx', 'e2')]);
    expect(change.ignored).toBe(1);
    expect(change.removed.map((r) => r.conn)).toEqual(['k2']);
    expect(change.added.map((r) => r.conn)).toEqual(['k4']);
    expect(change.transitions).toEqual(
      expect.arrayContaining([
        { user: 'bob', status: 'offline', connections: 0 },
        { user: 'dave', status: 'online', connections: 1 },
      ]),
    );
    expect(change.transitions).toHaveLength(2);
    expect(s.get('k1')?.lastActivity).toBe(99);
    expect(s.connectionsOnEdge('e1').map((r) => r.conn).sort()).toEqual(['k1', 'k4']);
    expect(s.countOnEdge('e2')).toBe(1);
  });

  it('keeps a user online whose connection moved between edges in one snapshot', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e2'));
    const change = s.replaceEdge('e1', [rec('k1', 'alice', 's1', 'e1')]);
    expect(change.transitions).toEqual([]);
    expect(s.countOnEdge('e2')).toBe(0);
    expect(s.countOnEdge('e1')).toBe(1);
  });

  it('purges an edge, returning its connections and offline transitions', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e1'));
    s.connect(rec('k2', 'alice', 's1', 'e2'));
    s.connect(rec('k3', 'bob', 's2', 'e1'));
    const change = s.purgeEdge('e1');
    expect(change.removed.map((r) => r.conn).sort()).toEqual(['k1', 'k3']);
    expect(change.transitions).toEqual([{ user: 'bob', status: 'offline', connections: 0 }]);
    expect(s.edges()).toEqual(['e2']);
    expect(s.purgeEdge('e1')).toEqual({ added: [], removed: [], transitions: [] });
  });

  it('reports transitions of a transaction from its start to its end', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 's1', 'e1'));
    const change = s.transaction(() => {
      expect(s.replaceEdge('e1', []).transitions).toEqual([]);
      s.connect(rec('k2', 'alice', 's1', 'e1'));
      s.connect(rec('k3', 'bob', 's2', 'e1'));
    });
    expect(change.transitions).toEqual([{ user: 'bob', status: 'online', connections: 1 }]);
    expect(change.removed.map((r) => r.conn)).toEqual(['k1']);
    expect(change.added.map((r) => r.conn)).toEqual(['k2', 'k3']);
  });

  it('keeps sessions of different users apart in the user index', () => {
    const s = new PresenceStore();
    s.connect(rec('k1', 'alice', 'shared'));
    s.connect(rec('k2', 'bob', 'shared'));
    expect(s.connectionsOfSession('shared')).toHaveLength(2);
    expect(s.connectionsOfUser('alice').map((r) => r.conn)).toEqual(['k1']);
    s.disconnect('k1');
    expect(s.connectionsOfSession('shared').map((r) => r.conn)).toEqual(['k2']);
  });
});
