import { describe, expect, it } from 'vitest';
import { Connection, ConnectionShared, sanitiseReason, State } from '../src/connection/connection.js';
import { RoleTable } from '../src/connection/identity.js';
import { SendStatus } from '../src/connection/socket.js';
import { FakeSocket } from './support/fake-socket.js';

function open(shared: ConnectionShared, ws: FakeSocket, seq = 1): Connection {
  const conn = new Connection(shared, seq, { user: 'u', session: 's', client: 'c', roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 0, 0);
  conn.ws = ws;
  conn.state = State.WELCOMED;
  // What the close handler does: the state machine's last transition.
  ws.onEnd = () => {
    conn.state = State.CLOSED;
    conn.ws = undefined;
  };
  return conn;
}

const flushMicrotasks = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('Connection: the one send', () => {
  it('sends inside cork and counts frames', () => {
    const shared = new ConnectionShared(1000);
    const ws = new FakeSocket();
    const conn = open(shared, ws);
    expect(conn.send('hello', false)).toBe(true);
    expect(conn.send(new Uint8Array([1, 2]), true)).toBe(true);
    expect(ws.sent).toEqual(['hello', '0102']);
    expect(ws.corked).toBe(2);
    expect(shared.outbound).toEqual({ frames: 2, drops: 0, slowConsumers: 0 });
  });

  it('keeps a buffering socket below the limit and closes one above it, after the current task', async () => {
    const shared = new ConnectionShared(1000);
    const below = open(shared, new FakeSocket(SendStatus.BACKPRESSURE, 10), 1);
    const aboveWs = new FakeSocket(SendStatus.BACKPRESSURE, 5000);
    const above = open(shared, aboveWs, 2);
    expect(below.send('a', false)).toBe(true);
    expect(above.send('a', false)).toBe(true);
    // Never inside the send: a fan-out may be iterating the hub's arrays.
    expect(aboveWs.ended).toBeUndefined();
    await flushMicrotasks();
    expect(aboveWs.ended).toEqual([4006, 'slow consumer']);
    expect(below.state).toBe(State.WELCOMED);
    expect(shared.outbound).toEqual({ frames: 2, drops: 0, slowConsumers: 1 });
  });

  // Bug: a REPLY (or error) frame past the hard send limit was dropped silently: the client timed
  // out and was never closed. Every frame now goes through this send, and a drop closes.
  it('counts a frame dropped at the hard limit and closes the connection', async () => {
    const shared = new ConnectionShared(1000);
    const ws = new FakeSocket(SendStatus.DROPPED, 9000);
    const conn = open(shared, ws);
    expect(conn.send(new Uint8Array([3, 0, 0, 0, 1]), true)).toBe(false);
    await flushMicrotasks();
    expect(ws.ended).toEqual([4006, 'slow consumer']);
    expect(shared.outbound).toEqual({ frames: 0, drops: 1, slowConsumers: 1 });
  });

  it('never sends after close, and closes once', () => {
    const shared = new ConnectionShared(1000);
    const ws = new FakeSocket();
    const conn = open(shared, ws);
    expect(conn.close(4005, 'killed')).toBe(true);
    expect(conn.close(4005, 'again')).toBe(false);
    expect(conn.send('late', false)).toBe(false);
    expect(ws.ended).toEqual([4005, 'killed']);
    expect(ws.sent).toEqual([]);
  });

  it('cannot close a connection that has no socket yet', () => {
    const conn = new Connection(new ConnectionShared(1000), 1, { user: 'u', session: 's', client: 'c', roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 0, 0);
    expect(conn.state).toBe(State.ADMITTED);
    expect(conn.close(4005, 'x')).toBe(false);
  });

  it('sanitises untrusted close reasons', () => {
    expect(sanitiseReason(undefined, 'killed')).toBe('killed');
    expect(sanitiseReason('  bad\u0000\nreason\u2028 ', 'killed')).toBe('bad reason');
    expect(sanitiseReason('\u0001', 'killed')).toBe('killed');
    expect(sanitiseReason('x'.repeat(300), 'killed')).toHaveLength(120);
  });
});
