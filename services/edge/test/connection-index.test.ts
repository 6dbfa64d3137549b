import { describe, expect, it } from 'vitest';
import { closeConnection, ConnectionIndex, ConnState, Flag, sanitiseReason, type Group, type SocketLike } from '../src/connection-index.js';
import { RoleTable, type Identity } from '../src/identity.js';

function identity(user: string, session: string, client: string): Identity {
  return { user, session, client, roles: RoleTable.EMPTY, iatS: -1, expS: 0 };
}

function harness() {
  const first: string[] = [];
  const last: string[] = [];
  const pending = new Map<Group, () => void>();
  const index = new ConnectionIndex({
    onFirst(group) {
      first.push(`${group.kind}:${group.id}`);
      group.ready = new Promise<void>((resolve) => pending.set(group, resolve)).then(() => {
        group.ready = undefined;
      });
    },
    onLast(group) {
      last.push(`${group.kind}:${group.id}`);
    },
  });
  let seq = 0;
  const conn = (u: string, s: string, c: string) => new ConnState(++seq, identity(u, s, c), 0, 0);
  const confirmAll = async () => {
    for (const resolve of pending.values()) resolve();
    pending.clear();
    await Promise.resolve();
    await Promise.resolve();
  };
  return { index, first, last, conn, confirmAll };
}

describe('ConnectionIndex', () => {
  it('subscribes once per user and session and releases with the last connection', async () => {
    const { index, first, last, conn, confirmAll } = harness();
    const a = conn('u1', 's1', 'c1');
    const b = conn('u1', 's1', 'c2');
    const c = conn('u1', 's2', 'c3');
    const waitA = index.add(a);
    const waitB = index.add(b);
    expect(waitA).toBeInstanceOf(Promise);
    // The second tab waits for the same pending readiness (no second subscription).
    let bReady = false;
    void waitB!.then(() => (bReady = true));
    await Promise.resolve();
    expect(bReady).toBe(false);
    expect(first).toEqual(['user:u1', 'session:s1']);
    await confirmAll();
    await waitB;
    expect(bReady).toBe(true);
    expect(index.add(c)).toBeInstanceOf(Promise); // new session: waits for its own flush
    expect(first).toEqual(['user:u1', 'session:s1', 'session:s2']);
    await confirmAll();
    const d = conn('u1', 's2', 'c4');
    expect(index.add(d)).toBeUndefined(); // everything already confirmed: welcome at once
    expect(index.users.get('u1')!.conns).toHaveLength(4);

    index.remove(a);
    index.remove(a); // idempotent
    index.remove(b);
    expect(last).toEqual(['session:s1']);
    index.remove(c);
    index.remove(d);
    expect(last).toEqual(['session:s1', 'user:u1', 'session:s2']);
    expect(index.size).toBe(0);
    expect(index.users.size + index.sessions.size).toBe(0);
  });

  it('shares id strings with the group', () => {
    const { index, conn } = harness();
    const a = conn('user', 's', 'c1');
    const b = conn(['us', 'er'].join(''), 's', 'c2');
    index.add(a);
    index.add(b);
    expect(a.user).toBe(b.user);
    expect(b.userGroup).toBe(a.userGroup);
  });

  it('starts a fresh group when the old one failed', () => {
    const { index, first, last, conn } = harness();
    const a = conn('u', 's', 'a');
    index.add(a);
    index.users.get('u')!.failed = true;
    const b = conn('u', 's', 'b');
    index.add(b);
    expect(first).toEqual(['user:u', 'session:s', 'user:u']);
    expect(a.userGroup).not.toBe(b.userGroup);
    index.remove(a);
    expect(last).toEqual(['user:u']);
    expect(index.users.get('u')).toBe(b.userGroup);
  });
});

describe('closing', () => {
  it('sanitises reasons', () => {
    expect(sanitiseReason(undefined, 'killed')).toBe('killed');
    expect(sanitiseReason(' \u0000 ', 'killed')).toBe('killed');
    expect(sanitiseReason('a\r\nb ✓ c', 'x')).toBe('a b c');
    expect(sanitiseReason('y'.repeat(300), 'x')).toHaveLength(120);
  });

  it('closes once and never after close', () => {
    const ends: Array<[number | undefined, string | undefined]> = [];
    const ws: SocketLike = {
      send: () => 1,
      cork: (cb) => cb(),
      end: (code, reason) => ends.push([code, reason]),
      getBufferedAmount: () => 0,
      subscribe: () => true,
    };
    const c = new ConnState(1, identity('u', 's', 'c'), 0, 0);
    expect(closeConnection(c, 4005, 'x')).toBe(false); // not open yet
    c.ws = ws;
    expect(closeConnection(c, 4005, 'x')).toBe(true);
    c.flags |= Flag.CLOSED;
    expect(closeConnection(c, 4005, 'x')).toBe(false);
    expect(ends).toEqual([[4005, 'x']]);
  });
});
