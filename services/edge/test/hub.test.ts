import { describe, expect, it } from 'vitest';
import { Connection, ConnectionShared, State } from '../src/connection/connection.js';
import { RoleTable } from '../src/connection/identity.js';
import { SendStatus } from '../src/connection/socket.js';
import { Hub } from '../src/hub/hub.js';
import { FakeSocket } from './support/fake-socket.js';

// The hub is pure: no uWS, no NATS. Sockets are fakes; the close handler's work is simulated.
function setup(limit = 1000) {
  const hub = new Hub();
  const shared = new ConnectionShared(limit);
  let seq = 0;
  const join = (user: string, session: string, client: string, ws = new FakeSocket(), welcomed = true) => {
    const conn = new Connection(shared, ++seq, { user, session, client, roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 0, 0);
    conn.ws = ws;
    conn.state = State.SUBSCRIBING;
    const created = hub.add(conn);
    if (welcomed) conn.state = State.WELCOMED;
    ws.onEnd = () => {
      conn.state = State.CLOSED;
      conn.ws = undefined;
      hub.remove(conn);
    };
    return { conn, ws, created: created.map((g) => `${g.kind}:${g.id}`) };
  };
  return { hub, shared, join };
}

const flushMicrotasks = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('Hub: index', () => {
  it('creates one group per user and session, and reports the ones emptied', () => {
    const { hub, join } = setup();
    const a = join('alice', 's1', 'tab1');
    const b = join('alice', 's1', 'tab2');
    const c = join('alice', 's2', 'tab3');
    expect(a.created).toEqual(['user:alice', 'session:s1']);
    expect(b.created).toEqual([]);
    expect(c.created).toEqual(['session:s2']);
    expect(hub.size).toBe(3);
    expect(hub.remove(a.conn).map((g) => `${g.kind}:${g.id}`)).toEqual([]);
    expect(hub.remove(a.conn)).toEqual([]);
    expect(hub.remove(b.conn).map((g) => `${g.kind}:${g.id}`)).toEqual(['session:s1']);
    expect(hub.remove(c.conn).map((g) => `${g.kind}:${g.id}`)).toEqual(['user:alice', 'session:s2']);
    expect(hub.users.size + hub.sessions.size + hub.size).toBe(0);
  });

  it('shares id strings with the group and starts a fresh group after a failed one', () => {
    const { hub, join } = setup();
    const a = join('bob', 's', 't1');
    expect(a.conn.user).toBe(hub.users.get('bob')!.id);
    hub.users.get('bob')!.failed = true;
    const b = join('bob', 's', 't2');
    expect(b.created).toEqual(['user:bob']);
    expect(hub.users.get('bob')!.conns).toEqual([b.conn]);
  });

  it('waits for the readiness of both groups, once each', async () => {
    const { hub, join } = setup();
    const a = join('carol', 's', 't');
    expect(hub.readiness(a.conn)).toBeUndefined();
    let resolve!: () => void;
    const ready = new Promise<void>((r) => (resolve = r));
    hub.users.get('carol')!.ready = ready;
    expect(hub.readiness(a.conn)).toBe(ready);
    hub.sessions.get('s')!.ready = ready;
    expect(hub.readiness(a.conn)).toBe(ready);
    resolve();
  });

  it('finds kill targets, narrowed by session and client', () => {
    const { hub, join } = setup();
    const a = join('dave', 's1', 't1');
    const b = join('dave', 's2', 't2');
    expect(hub.targets('user', 'dave')).toEqual([a.conn, b.conn]);
    expect(hub.targets('user', 'dave', 's2')).toEqual([b.conn]);
    expect(hub.targets('session', 's1', undefined, 't1')).toEqual([a.conn]);
    expect(hub.targets('user', 'nobody')).toEqual([]);
  });
});

describe('Hub: fan-out', () => {
  it('builds the PUSH frame once and sends it to welcomed, matching members only', () => {
    const { hub, join } = setup();
    const a = join('erin', 's1', 't1');
    const b = join('erin', 's2', 't2');
    const pending = join('erin', 's1', 't3', new FakeSocket(), false);
    const group = hub.users.get('erin')!;
    expect(hub.deliver(group, new Uint8Array([7, 8]), undefined, undefined)).toBe(2);
    expect(hub.deliver(group, new Uint8Array([9]), 's2', undefined)).toBe(1);
    expect(hub.deliver(group, new Uint8Array([10]), undefined, 't1')).toBe(1);
    expect(a.ws.sent).toEqual(['010708', '010a']);
    expect(b.ws.sent).toEqual(['010708', '0109']);
    expect(pending.ws.sent).toEqual([]);
    expect(hub.stats.deliveries).toBe(4);
  });

  it('grows its scratch buffer for large payloads', () => {
    const { hub } = setup();
    const big = new Uint8Array(200_000).fill(5);
    const frame = hub.pushFrame(big);
    expect(frame.length).toBe(200_001);
    expect(frame[0]).toBe(1);
    expect(frame[200_000]).toBe(5);
  });

  it('closes slow consumers after the loop, without skipping anybody', async () => {
    const { hub, shared, join } = setup();
    const over = join('fay', 's', 'a', new FakeSocket(SendStatus.BACKPRESSURE, 5000));
    const dropped = join('fay', 's', 'b', new FakeSocket(SendStatus.DROPPED, 9000));
    const buffering = join('fay', 's', 'c', new FakeSocket(SendStatus.BACKPRESSURE, 10));
    const fine = join('fay', 's', 'd');
    expect(hub.deliver(hub.users.get('fay')!, new Uint8Array([1]), undefined, undefined)).toBe(3);
    await flushMicrotasks();
    expect([over, dropped, buffering, fine].map((m) => m.ws.sent.length)).toEqual([1, 1, 1, 1]);
    expect(over.ws.ended).toEqual([4006, 'slow consumer']);
    expect(dropped.ws.ended).toEqual([4006, 'slow consumer']);
    expect(buffering.ws.ended).toBeUndefined();
    expect(shared.outbound).toMatchObject({ drops: 1, slowConsumers: 2 });
    expect(new Set(hub.users.get('fay')!.conns)).toEqual(new Set([buffering.conn, fine.conn]));
  });

  // Bug: broadcast deliveries were counted as the number of subscribers, drops included.
  it('counts broadcast deliveries per socket that took the frame, drops excluded', async () => {
    const { hub, shared, join } = setup();
    const a = join('g1', 's1', 't');
    const dropped = join('g2', 's2', 't', new FakeSocket(SendStatus.DROPPED, 9000));
    const pending = join('g3', 's3', 't', new FakeSocket(), false);
    expect(hub.broadcast(new Uint8Array([0, 1]))).toBe(1);
    expect(a.ws.sent).toEqual(['010001']);
    expect(pending.ws.sent).toEqual([]);
    expect(hub.stats).toEqual({ deliveries: 1, broadcasts: 1 });
    await flushMicrotasks();
    expect(dropped.ws.ended).toEqual([4006, 'slow consumer']);
    expect(shared.outbound.drops).toBe(1);
  });
});
