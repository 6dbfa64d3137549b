import type { ConnectionRecord, SnapshotEvent } from '@session-mesh/protocol';
import { describe, expect, it } from 'vitest';
import { SnapshotSync } from '../src/snapshot/snapshot-sync.js';

const rec = (conn: string): ConnectionRecord => ({ conn, user: 'u', session: 's', client: 'c', edge: 'e1', connectedAt: 0, lastActivity: 0 });
const part = (snapshotId: string, p: number, parts: number, conns: string[]): SnapshotEvent => ({
  v: 1,
  edge: 'e1',
  at: 0,
  snapshotId,
  part: p,
  parts,
  connections: conns.map(rec),
});

describe('SnapshotSync', () => {
  it('gathers parts in any order and completes once', () => {
    const sync = new SnapshotSync({ assemblyTimeoutMs: 1000, requestTimeoutMs: 100 });
    expect(sync.addPart(part('a', 1, 3, ['k2']), 0)).toBeUndefined();
    expect(sync.addPart(part('a', 0, 3, ['k1']), 0)).toBeUndefined();
    expect(sync.outstanding(0)).toEqual(['e1']);
    const done = sync.addPart(part('a', 2, 3, ['k3']), 0);
    expect(done?.connections.map((r) => r.conn)).toEqual(['k1', 'k2', 'k3']);
    expect(sync.outstanding(0)).toEqual([]);
  });

  it('buffers edge events while gathering and hands them over with the snapshot', () => {
    const sync = new SnapshotSync({ assemblyTimeoutMs: 1000, requestTimeoutMs: 100 });
    const connect = { kind: 'connect' as const, event: { v: 1, edge: 'e1', at: 0, connection: rec('k9') } };
    sync.bufferIfGathering('e1', connect);
    sync.addPart(part('a', 0, 2, []), 0);
    sync.bufferIfGathering('e1', connect);
    expect(sync.addPart(part('a', 1, 2, []), 0)?.buffered).toEqual([connect]);
  });

  it('lets a complete snapshot supersede older unfinished ones and expires abandoned ones', () => {
    const sync = new SnapshotSync({ assemblyTimeoutMs: 1000, requestTimeoutMs: 100 });
    sync.addPart(part('old', 0, 2, ['k1']), 0);
    expect(sync.addPart(part('new', 0, 1, ['k2']), 10)?.snapshotId).toBe('new');
    expect(sync.outstanding(10)).toEqual([]);
    sync.addPart(part('x', 0, 2, []), 20);
    expect(sync.expire(500)).toEqual([]);
    expect(sync.expire(1020)).toEqual(['e1']);
    expect(sync.outstanding(1020)).toEqual([]);
  });

  it('does not repeat requests while one is outstanding, nor right after asking every edge', () => {
    const sync = new SnapshotSync({ assemblyTimeoutMs: 1000, requestTimeoutMs: 100 });
    expect(sync.shouldRequest('e1', 0)).toBe(true);
    sync.requestedAll(0);
    expect(sync.shouldRequest('e1', 50)).toBe(false);
    expect(sync.shouldRequest('e1', 50, { coveredByAll: false })).toBe(true);
    expect(sync.shouldRequest('e1', 100)).toBe(true);
    sync.requestedEdge('e1', 100, 300);
    expect(sync.outstanding(200)).toEqual(['e1']);
    expect(sync.shouldRequest('e1', 399, { coveredByAll: false })).toBe(false);
    expect(sync.shouldRequest('e1', 400)).toBe(true);
  });

  it('asks after two heartbeats in a row whose count differs from ours', () => {
    const sync = new SnapshotSync({ assemblyTimeoutMs: 1000, requestTimeoutMs: 100 });
    expect(sync.heartbeatCount('e1', 1, 3, 2)).toBe(false);
    expect(sync.heartbeatCount('e1', 2, 2, 2)).toBe(false);
    expect(sync.heartbeatCount('e1', 3, 3, 2)).toBe(false);
    // A second message of the same heartbeat (split activity) does not count again.
    expect(sync.heartbeatCount('e1', 3, 3, 2)).toBe(false);
    expect(sync.heartbeatCount('e1', 4, 3, 2)).toBe(true);
    sync.requestedEdge('e1', 0);
    expect(sync.heartbeatCount('e1', 5, 3, 2)).toBe(false);
  });
});
