import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDisconnectEvent, parseHeartbeatEvent, parseSnapshotEvent, type SnapshotEvent } from '@session-mesh/protocol';
import { mintToken } from '../../../test/support/tokens.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

describe('lifecycle events', () => {
  let t: TestEdge;
  const events = (kind: string) => t.recorded(`${t.config.subjectPrefix}.events.>`).filter((m) => m.subject.endsWith(`.${kind}`));
  beforeAll(async () => {
    t = await startTestEdge();
  });
  afterAll(() => t.stop());

  it('publishes an empty snapshot at start-up', async () => {
    const first = await waitFor(() => events('snapshot')[0]);
    const parsed = parseSnapshotEvent(first.data);
    expect(parsed.ok && parsed.value).toMatchObject({ edge: t.edge.edgeId, part: 0, parts: 1, connections: [] });
  });

  it('publishes a disconnect with the client\'s close code and the cause `closed` (the client\'s own text is not relayed), with a Nats-Msg-Id', async () => {
    const c = await t.connect({ token: await mintToken({ sub: 'ev-d', jti: 's' }), client: 'tab' });
    c.ws.close(4321, 'bye now');
    const event = await waitFor(() =>
      events('disconnect')
        .map((m) => parseDisconnectEvent(m.data))
        .find((p) => p.ok && p.value.conn === c.welcome!.conn),
    );
    expect(event.ok && event.value).toMatchObject({ user: 'ev-d', session: 's', client: 'tab', code: 4321, reason: 'closed', edge: t.edge.edgeId });
    const published = events('disconnect').find((m) => {
      const p = parseDisconnectEvent(m.data);
      return p.ok && p.value.conn === c.welcome!.conn;
    });
    expect(published?.headers?.get('Nats-Msg-Id')).toBe(`disconnect.${c.welcome!.conn}`);
  });

  it('reports activity in heartbeats only for connections that sent something', async () => {
    const active = await t.connect({ token: await mintToken({ sub: 'ev-a' }) });
    const idle = await t.connect({ token: await mintToken({ sub: 'ev-i' }) });
    const seen = events('heartbeat').length;
    active.sendMessage('ping', 'x');
    const beat = await waitFor(() =>
      events('heartbeat')
        .slice(seen)
        .map((m) => parseHeartbeatEvent(m.data))
        .find((p) => p.ok && p.value.activity.some(([conn]) => conn === active.welcome!.conn)),
    );
    expect(beat.ok && beat.value.activity.map(([conn]) => conn)).not.toContain(idle.welcome!.conn);
    expect(beat.ok && beat.value).toMatchObject({ edge: t.edge.edgeId, intervalMs: 200, connections: expect.any(Number) });
    await Promise.all([active.close(), idle.close()]);
  });

  it('answers snapshot requests (all edges, and this edge alone) with every welcomed connection', async () => {
    const clients = [];
    for (const i of [1, 2, 3]) clients.push(await t.connect({ token: await mintToken({ sub: `snap-${i}` }) }));
    const expected = clients.map((c) => c.welcome!.conn);
    for (const subject of [t.subjects.snapshotRequestAll(), t.subjects.snapshotRequestEdge(t.edge.edgeId)]) {
      const seen = events('snapshot').length;
      t.bus.publish(subject, new Uint8Array(0));
      const snapshot: SnapshotEvent = await waitFor(() => {
        const parsed = events('snapshot')
          .slice(seen)
          .map((m) => parseSnapshotEvent(m.data))
          .find((p) => p.ok);
        return parsed?.ok ? parsed.value : undefined;
      });
      expect(snapshot.parts).toBe(1);
      expect(snapshot.connections.map((c) => c.conn)).toEqual(expect.arrayContaining(expected));
      expect(snapshot.connections.find((c) => c.conn === expected[0])).toMatchObject({ user: 'snap-1', edge: t.edge.edgeId });
    }
    await Promise.all(clients.map((c) => c.close()));
  });
});
