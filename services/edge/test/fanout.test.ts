import { describe, expect, it } from 'vitest';
import type { BusMessage } from '@session-mesh/bus';
import { encodeId, Header } from '@session-mesh/protocol';
import { ConnState, Flag, Group, type SocketLike } from '../src/connection-index.js';
import { Fanout, SendStatus } from '../src/fanout.js';
import { RoleTable } from '../src/identity.js';

class FakeSocket implements SocketLike {
  readonly sent: string[] = [];
  ended: [number | undefined, string | undefined] | undefined;
  corked = 0;
  constructor(
    private status: number = SendStatus.SUCCESS,
    public buffered = 0,
    private readonly onEnd?: () => void,
  ) {}
  send(message: Uint8Array | string): number {
    // Copy like uWS does: the scratch buffer is reused for the next message.
    this.sent.push(typeof message === 'string' ? message : Buffer.from(message).toString('hex'));
    return this.status;
  }
  cork(cb: () => void) {
    this.corked++;
    cb();
    return this;
  }
  end(code?: number, reason?: string) {
    this.ended = [code, reason];
    this.onEnd?.();
  }
  getBufferedAmount() {
    return this.buffered;
  }
  subscribe() {
    return true;
  }
}

let seq = 0;
/** An empty group (groups are normally born with their first member). */
function emptyGroup(kind: 'user' | 'session', id: string): Group {
  const placeholder = new ConnState(0, { user: id, session: id, client: 'x', roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 0, 0);
  const group = new Group(kind, id, placeholder);
  group.conns.length = 0;
  return group;
}

function member(group: Group, session: string, client: string, ws: FakeSocket, welcomed = true): ConnState {
  const c = new ConnState(++seq, { user: group.id, session, client, roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 0, 0);
  c.ws = ws;
  c.flags = Flag.OPEN | (welcomed ? Flag.WELCOMED : 0);
  group.conns.push(c);
  return c;
}

function message(data: number[], headers?: Record<string, string>): BusMessage {
  return {
    subject: 'mesh.push.user.x',
    data: new Uint8Array(data),
    headers: headers === undefined ? undefined : { get: (n: string) => headers[n] ?? '', has: (n: string) => n in headers },
  };
}

describe('Fanout', () => {
  it('builds the PUSH frame once, in a growing scratch buffer', () => {
    const fanout = new Fanout(1 << 20, () => 0);
    expect(Buffer.from(fanout.pushFrame(new Uint8Array([0, 255]))).toString('hex')).toBe('0100ff');
    const big = new Uint8Array(200_000).fill(7);
    const frame = fanout.pushFrame(big);
    expect(frame.length).toBe(200_001);
    expect(frame[0]).toBe(1);
    expect(frame[200_000]).toBe(7);
  });

  it('sends to welcomed, matching members only, inside cork', () => {
    const fanout = new Fanout(1 << 20, () => 0);
    const group = emptyGroup('user', 'u');
    const a = new FakeSocket();
    const b = new FakeSocket();
    const c = new FakeSocket();
    const pending = new FakeSocket();
    member(group, 's1', 'ca', a);
    member(group, 's1', 'cb', b);
    member(group, 's2', 'cc', c);
    member(group, 's1', 'cp', pending, false);

    fanout.deliverToUser(group, message([0xaa]));
    fanout.deliverToUser(group, message([0xbb], { [Header.Session]: encodeId('s1') }));
    fanout.deliverToUser(group, message([0xcc], { [Header.Session]: encodeId('s1'), [Header.Client]: encodeId('cb') }));
    fanout.deliverToUser(group, message([0xdd], { [Header.Client]: 'not-valid!' }));
    // On a session push, Mesh-Session does not narrow.
    fanout.deliverToSession(group, message([0xee], { [Header.Session]: encodeId('zzz') }));

    expect(a.sent).toEqual(['01aa', '01bb', '01ee']);
    expect(b.sent).toEqual(['01aa', '01bb', '01cc', '01ee']);
    expect(c.sent).toEqual(['01aa', '01ee']);
    expect(pending.sent).toEqual([]);
    expect(a.corked).toBe(3);
    expect(fanout.stats).toMatchObject({ deliveries: 9, drops: 0, badHeaders: 1 });
  });

  it('closes slow consumers after the loop, counting drops', () => {
    const fanout = new Fanout(1000, () => 0);
    const group = emptyGroup('user', 'u');
    const conns: ConnState[] = [];
    // Closing removes the member from the group, as the close handler does.
    const remove = (c: () => ConnState) => () => group.conns.splice(group.conns.indexOf(c()), 1);
    const over = new FakeSocket(SendStatus.BACKPRESSURE, 5000, remove(() => conns[0]!));
    const dropped = new FakeSocket(SendStatus.DROPPED, 9000, remove(() => conns[1]!));
    const buffering = new FakeSocket(SendStatus.BACKPRESSURE, 10);
    const fine = new FakeSocket();
    conns.push(member(group, 's', 'a', over), member(group, 's', 'b', dropped), member(group, 's', 'c', buffering), member(group, 's', 'd', fine));

    fanout.deliverToUser(group, message([1]));
    expect(fine.sent).toHaveLength(1);
    expect(buffering.sent).toHaveLength(1);
    expect(over.ended).toEqual([4006, 'slow consumer']);
    expect(dropped.ended).toEqual([4006, 'slow consumer']);
    expect(buffering.ended).toBeUndefined();
    expect(fanout.stats).toMatchObject({ deliveries: 3, drops: 1, slowConsumers: 2 });
  });

  it('broadcasts through the publish-to-all function', () => {
    const frames: string[] = [];
    const fanout = new Fanout(1000, (frame) => {
      frames.push(Buffer.from(frame).toString('hex'));
      return 7;
    });
    fanout.deliverBroadcast(message([0, 1]));
    expect(frames).toEqual(['010001']);
    expect(fanout.stats).toMatchObject({ broadcasts: 1, deliveries: 7 });
  });
});
