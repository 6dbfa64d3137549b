import { MemoryBroker, type Bus } from '@session-mesh/bus';
import type { ConnectionsReply, StatsReply } from '@session-mesh/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeEdge } from './support/fake-edge.js';
import { Observer, startReplica, subjects, type Replica } from './support/registry-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

const decoder = new TextDecoder();

async function ask<T>(bus: Bus, subject: string): Promise<T> {
  const reply = await bus.request(subject, new Uint8Array(0), { timeoutMs: 1_000 });
  return JSON.parse(decoder.decode(reply.data)) as T;
}

describe('registry on the memory bus', () => {
  let broker: MemoryBroker;
  let client: Bus;
  let replicas: Replica[];
  let edges: FakeEdge[];

  beforeEach(() => {
    broker = new MemoryBroker();
    client = broker.connect('test-client');
    replicas = [];
    edges = [];
  });

  afterEach(async () => {
    for (const e of edges) e.crash();
    await Promise.all(replicas.map((r) => r.registry.stop()));
    await Promise.all(replicas.map((r) => r.bus.close()));
    await client.close();
  });

  async function replica(overrides: Parameters<typeof startReplica>[1] = {}): Promise<Replica> {
    const r = await startReplica(broker.connect(`registry-${replicas.length}`), overrides);
    replicas.push(r);
    return r;
  }

  function edge(id: string): FakeEdge {
    const e = new FakeEdge(broker.connect(`edge-${id}`), subjects, id);
    edges.push(e);
    return e;
  }

  it('rebuilds its state from multi-part snapshots after a restart, then becomes ready and answers queries', async () => {
    const e1 = edge('edge-1');
    const e2 = edge('edge-2');
    e1.addSilently('c1', 'alice', 's-a1');
    e1.addSilently('c2', 'alice', 's-a2', 'tab-2');
    e1.addSilently('c3', 'bob@example.com', 's-b');
    e1.addSilently('c4', 'carol/x', 's-c');
    e1.addSilently('c5', 'dave ✓ *>', 's-d');
    e2.addSilently('c6', 'alice', 's-a1', 'tab-3');

    const { registry, health } = await replica();
    expect(health.readiness().ready).toBe(false);
    await registry.whenReady();
    expect(health.readiness()).toEqual({ ready: true, failing: {} });
    expect(e1.snapshotRequests).toBe(1);

    const alice = await ask<ConnectionsReply>(client, subjects.registryUser('alice'));
    expect(alice.connections.map((c) => c.conn).sort()).toEqual(['c1', 'c2', 'c6']);
    const session = await ask<ConnectionsReply>(client, subjects.registrySession('s-a1'));
    expect(session.connections.map((c) => `${c.conn}@${c.edge}`).sort()).toEqual(['c1@edge-1', 'c6@edge-2']);
    const odd = await ask<ConnectionsReply>(client, subjects.registryUser('dave ✓ *>'));
    expect(odd.connections.map((c) => c.conn)).toEqual(['c5']);
    expect((await ask<ConnectionsReply>(client, subjects.registryUser('nobody'))).connections).toEqual([]);

    const stats = await ask<StatsReply>(client, subjects.registryStats());
    expect(stats).toMatchObject({ users: 4, sessions: 5, connections: 6 });
    expect(stats.edges.map((e) => [e.edge, e.connections])).toEqual([
      ['edge-1', 5],
      ['edge-2', 1],
    ]);
  });

  it('keeps presence current from connect and disconnect events, announcing each change once', async () => {
    const observer = new Observer(client);
    const a = await replica({ registryId: 'a' });
    const b = await replica({ registryId: 'b' });
    await Promise.all([a.registry.whenReady(), b.registry.whenReady()]);
    await waitFor(() => a.registry.isLeader() || b.registry.isLeader(), { what: 'a leader' });
    expect(a.registry.isLeader() && b.registry.isLeader()).toBe(false);

    const e1 = edge('edge-1');
    const e2 = edge('edge-2');
    e1.connect('c1', 'alice', 's1');
    e2.connect('c2', 'alice', 's2');
    e1.connect('c3', 'bob', 's3');
    await waitFor(() => observer.presence.length === 2 && a.registry.store.countOfUser('alice') === 2 && b.registry.store.countOfUser('alice') === 2);
    e1.disconnect('c1');
    e1.disconnect('c3');
    await waitFor(() => observer.presence.length === 3);
    e2.disconnect('c2');
    await waitFor(() => observer.presence.length === 4);
    await client.flush();

    expect(observer.presenceOf('alice')).toEqual(['online', 'offline']);
    expect(observer.presenceOf('bob')).toEqual(['online', 'offline']);
    const online = observer.presence.find((p) => p.user === 'alice' && p.status === 'online');
    expect(online).toMatchObject({ v: 1, connections: 1 });
    expect(a.registry.store.stats().connections).toBe(0);
    expect(b.registry.store.stats().connections).toBe(0);
  });

  it('purges an edge whose heartbeats stop, emitting edge-lost disconnects and offline presence once', async () => {
    const observer = new Observer(client);
    const a = await replica({ registryId: 'a', edgeLostAfterMs: 200 });
    const b = await replica({ registryId: 'b', edgeLostAfterMs: 200 });
    await Promise.all([a.registry.whenReady(), b.registry.whenReady()]);
    await waitFor(() => a.registry.isLeader() || b.registry.isLeader(), { what: 'a leader' });

    const doomed = edge('edge-doomed');
    const healthy = edge('edge-ok');
    doomed.startHeartbeats(40);
    healthy.startHeartbeats(40);
    doomed.connect('c1', 'alice', 's1');
    doomed.connect('c2', 'bob', 's2');
    healthy.connect('c3', 'bob', 's3');
    await waitFor(() => a.registry.store.stats().connections === 3 && b.registry.store.stats().connections === 3);

    const lostAt = Date.now();
    doomed.crash();
    await waitFor(() => observer.purges.length === 2 && observer.presenceOf('alice').includes('offline'), { what: 'purge of edge-doomed' });
    // max(MESH_EDGE_LOST_AFTER_MS = 200, 3 x 40) after the last heartbeat
    expect(Date.now() - lostAt).toBeGreaterThanOrEqual(150);
    await waitFor(() => a.registry.store.countOnEdge('edge-doomed') === 0 && b.registry.store.countOnEdge('edge-doomed') === 0);
    await client.flush();

    expect(observer.purges.map((d) => [d.conn, d.edge, d.code, d.reason]).sort()).toEqual([
      ['c1', 'edge-doomed', 0, 'edge-lost'],
      ['c2', 'edge-doomed', 0, 'edge-lost'],
    ]);
    expect(observer.presenceOf('alice')).toEqual(['online', 'offline']);
    // bob still has a connection on the healthy edge
    expect(observer.presenceOf('bob')).toEqual(['online']);
    expect(a.registry.stats().edges.map((e) => e.edge)).toEqual(['edge-ok']);
    expect(a.registry.store.connectionsOfUser('bob').map((c) => c.conn)).toEqual(['c3']);
  });

  it('asks an unknown edge for a snapshot on its first heartbeat', async () => {
    const observer = new Observer(client);
    const { registry } = await replica();
    await registry.whenReady();
    const late = edge('edge-late');
    late.addSilently('c1', 'alice', 's1');
    // The request to every edge sent at start covers unknown edges for a while; keep beating until asked.
    await waitFor(
      () => {
        late.heartbeat(100);
        return registry.store.countOnEdge('edge-late') === 1;
      },
      { what: 'snapshot of a late edge', intervalMs: 50 },
    );
    expect(observer.snapshotRequests).toContain(subjects.snapshotRequestEdge('edge-late'));
  });

  // Issue 9, findings 6 and 7: a disconnect event lost while the edge was cut off from NATS left no trace.
  it('emits the disconnect event of a connection an edge snapshot no longer holds, then offline once', async () => {
    const observer = new Observer(client);
    const { registry } = await replica();
    await registry.whenReady();
    await waitFor(() => registry.isLeader(), { what: 'leadership' });
    const e = edge('edge-cut');
    e.startHeartbeats(40);
    e.connect('c1', 'alice', 's1');
    e.connect('c2', 'bob', 's2');
    await waitFor(() => registry.store.stats().connections === 2);
    // alice left while the edge's events could not reach NATS: only the next snapshot tells.
    e.connections.delete('c1');
    e.publishSnapshot();
    await waitFor(() => observer.purges.length === 1 && observer.presenceOf('alice').length === 2, { what: 'the disconnect and offline of alice' });
    await client.flush();
    expect(observer.purges.map((d) => [d.conn, d.edge, d.user, d.code, d.reason])).toEqual([['c1', 'edge-cut', 'alice', 0, 'gone-in-snapshot']]);
    expect(observer.presenceOf('alice')).toEqual(['online', 'offline']);
    expect(observer.presenceOf('bob')).toEqual(['online']);
  });

  // Issue 9, finding 4: a replica on a frozen NATS node hears no edge and purged them all as lost.
  it('purges a silent edge only once a PONG proves the replica itself still hears NATS', async () => {
    const observer = new Observer(client);
    const bus = broker.connect('registry-frozen');
    // A frozen NATS node: nothing arrives and a PING is never answered.
    const frozen = { on: false };
    let thaw: () => void = () => undefined;
    const stalled = new Proxy(bus, {
      get: (target, key, receiver) =>
        key === 'flush' ? () => (frozen.on ? new Promise<void>((resolve) => (thaw = resolve)) : target.flush()) : Reflect.get(target, key, receiver),
    });
    const r = await startReplica(stalled, { registryId: 'f', edgeLostAfterMs: 200 });
    replicas.push(r);
    await r.registry.whenReady();
    await waitFor(() => r.registry.isLeader(), { what: 'leadership' });
    const e = edge('edge-behind');
    e.startHeartbeats(40);
    e.connect('c1', 'alice', 's1');
    await waitFor(() => r.registry.store.countOnEdge('edge-behind') === 1);
    frozen.on = true;
    e.stopHeartbeats();
    const silentSince = Date.now();
    // Well past the allowance (200 ms) and a dozen sweeps (every 50 ms): still held.
    await waitFor(() => Date.now() - silentSince > 600, { what: 'the allowance to pass', timeoutMs: 2_000 });
    expect(r.registry.store.countOnEdge('edge-behind')).toBe(1);
    expect(observer.purges).toEqual([]);
    // The PONG comes: now the silence is proven, and the edge is purged.
    frozen.on = false;
    thaw();
    await waitFor(() => observer.purges.length === 1, { what: 'the purge once proven' });
    expect(observer.purges[0]!.reason).toBe('edge-lost');
  });

  it('asks for a snapshot after two heartbeats whose count differs from its own, and repairs the drift', async () => {
    const { registry } = await replica();
    await registry.whenReady();
    const e = edge('edge-1');
    e.connect('c1', 'alice', 's1');
    e.heartbeat(100);
    await waitFor(() => registry.store.countOnEdge('edge-1') === 1);
    const before = e.snapshotRequests;
    e.addSilently('c2', 'bob', 's2'); // a lost connect event
    e.heartbeat(100);
    await client.flush();
    await waitFor(() => registry.stats().edges[0]?.lastHeartbeat !== 0);
    expect(e.snapshotRequests).toBe(before);
    e.heartbeat(100);
    await waitFor(() => registry.store.countOnEdge('edge-1') === 2, { what: 'drift repaired' });
    expect(e.snapshotRequests).toBe(before + 1);
    expect(registry.store.connectionsOfUser('bob').map((c) => c.conn)).toEqual(['c2']);
  });

  it('re-applies events that arrive while a multi-part snapshot is being gathered', async () => {
    const observer = new Observer(client);
    const { registry } = await replica();
    await registry.whenReady();
    await waitFor(() => registry.isLeader());
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    const rec = (conn: string, user: string) => ({ conn, user, session: `s-${conn}`, client: 'tab', edge: 'edge-1', connectedAt: 1, lastActivity: 1 });
    const part = (p: number, conns: unknown[]) => ({ v: 1, edge: 'edge-1', at: 1, snapshotId: 'snap-1', part: p, parts: 2, connections: conns });
    client.publish(subjects.eventConnect(), enc({ v: 1, edge: 'edge-1', at: 1, connection: rec('c0', 'zoe') }));
    // The edge took its snapshot (c1, c2), then c3 connected and c1 left between the parts.
    client.publish(subjects.eventSnapshot(), enc(part(0, [rec('c1', 'alice')])));
    client.publish(subjects.eventConnect(), enc({ v: 1, edge: 'edge-1', at: 2, connection: rec('c3', 'carol') }));
    client.publish(subjects.eventDisconnect(), enc({ v: 1, edge: 'edge-1', at: 2, conn: 'c1', user: 'alice', session: 's-c1', client: 'tab', code: 1000, reason: '' }));
    client.publish(subjects.eventSnapshot(), enc(part(1, [rec('c2', 'bob')])));
    await waitFor(() => registry.store.connectionsOnEdge('edge-1').map((c) => c.conn).sort().join() === 'c2,c3', { what: 'snapshot plus replayed events' });
    await client.flush();
    // zoe's connection was not in the snapshot: gone. alice never shows as online.
    expect(observer.presenceOf('zoe')).toEqual(['online', 'offline']);
    expect(observer.presenceOf('alice')).toEqual([]);
    expect(observer.presenceOf('carol')).toEqual(['online']);
    expect(observer.presenceOf('bob')).toEqual(['online']);
  });

  it('drops invalid events and keeps working', async () => {
    const { registry } = await replica();
    await registry.whenReady();
    const enc = new TextEncoder();
    client.publish(subjects.eventConnect(), enc.encode('not json'));
    client.publish(subjects.eventConnect(), enc.encode(JSON.stringify({ v: 1, edge: 'e', at: 1, connection: { conn: 'c' } })));
    client.publish(subjects.eventConnect(), enc.encode(JSON.stringify({ v: 1, edge: 'e', at: 1, connection: { conn: 'c', user: 'u\u0000', session: 's', client: 'c', edge: 'e', connectedAt: 1, lastActivity: 1 } })));
    client.publish(subjects.eventHeartbeat(), enc.encode(JSON.stringify({ v: 2, edge: 'e' })));
    client.publish(subjects.eventSnapshot(), enc.encode(JSON.stringify({ v: 1, edge: 'e', at: 1, snapshotId: 'x', part: 1, parts: 1, connections: [] })));
    const e = edge('edge-1');
    e.connect('c1', 'alice', 's1');
    await waitFor(() => registry.store.countOnEdge('edge-1') === 1);
    expect(registry.store.stats().connections).toBe(1);
  });

  it('joins the query queue group only once ready, and refuses malformed queries', async () => {
    const { registry } = await replica({ settleMs: 300 });
    await expect(client.request(subjects.registryStats(), new Uint8Array(0), { timeoutMs: 1_000 })).rejects.toThrow(/no responders/i);
    await registry.whenReady();
    const second = await replica({ settleMs: 0 });
    await second.registry.whenReady();
    for (let i = 0; i < 10; i++) expect(await ask<StatsReply>(client, subjects.registryStats())).toMatchObject({ connections: 0 });
    const bad = await client.request(`${subjects.prefix}.registry.user.not!base64`, new Uint8Array(0), { timeoutMs: 1_000 });
    expect(JSON.parse(decoder.decode(bad.data))).toMatchObject({ error: 'bad_request' });
  });

  it('hands leadership over when the leader stops', async () => {
    const a = await replica({ registryId: 'a' });
    await a.registry.whenReady();
    await waitFor(() => a.registry.isLeader());
    const b = await replica({ registryId: 'b' });
    await b.registry.whenReady();
    expect(b.registry.isLeader()).toBe(false);
    await a.registry.stop();
    await waitFor(() => b.registry.isLeader(), { what: 'takeover after release' });
  });
});
