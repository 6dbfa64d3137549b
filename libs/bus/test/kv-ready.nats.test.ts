/**
 * Opening KV buckets while NATS is not ready, against real nats-server processes (issue 6, bugs 9
 * and 10): an edge started together with a fresh 3-node cluster must wait, unready, and never
 * crash; one owner creates the bucket and the others only open it and check its settings.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait-for.js';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { connectNatsBus, KvUnavailableError, openKvWhenReady, type Bus, type KvEntry } from '../src/index.js';
import { startFormingCluster } from './support/forming-cluster.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('KV while NATS is not ready yet', () => {
  const buses: Bus[] = [];
  const servers: { stop(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    for (const s of servers) await s.stop();
  });

  it('3-node cluster started at the same moment: the owner creates, two non-owners on other nodes wait, none crashes', async () => {
    const cluster = await startFormingCluster(3);
    servers.push(cluster);
    // Connected before routes and a JetStream meta leader exist.
    const [b0, b1, b2] = await Promise.all(cluster.urls.map((url, i) => connectNatsBus({ servers: url, name: `forming-${i}` })));
    buses.push(b0!, b1!, b2!);
    const waits: string[][] = [[], [], []];
    const wait = (i: number) => ({ initialDelayMs: 50, maxDelayMs: 1000, onWait: (w: { error: Error }) => waits[i]!.push(w.error.name) });
    const [owner, edge1, edge2] = await Promise.all([
      openKvWhenReady(b0!, 'mesh_blacklist', { replicas: 3, history: 1, create: true }, wait(0)),
      openKvWhenReady(b1!, 'mesh_blacklist', { create: false, replicas: 3 }, wait(1)),
      openKvWhenReady(b2!, 'mesh_blacklist', { create: false }, wait(2)),
    ]);
    // The non-owners did have to wait (the bucket cannot exist before the owner's first try ends),
    // and every wait was for a typed, retryable reason.
    expect(waits[1]!.length + waits[2]!.length).toBeGreaterThan(0);
    for (const name of waits.flat()) expect(['KvUnavailableError', 'KvBucketMissingError']).toContain(name);
    expect(await edge2.settings()).toEqual({ replicas: 3, history: 1 });

    // One bucket for all: a watch on a non-owner sees the owner's write.
    const seen: KvEntry[] = [];
    const stop = await edge1.watch((e) => seen.push(e));
    const rev = await owner.put('session.abc', text('blocked'));
    await waitFor(() => seen.length > 0, { timeoutMs: 10_000, what: 'the watch to see the write' });
    expect(seen.map((e) => [e.key, e.revision])).toEqual([['session.abc', rev]]);
    stop();
    expect((await edge2.get('session.abc'))?.revision).toBe(rev);
    for (const bus of [b0!, b1!, b2!]) expect(bus.isConnected()).toBe(true);
  }, 120_000);

  it('JetStream not enabled: waits with KvUnavailableError until aborted; the bus stays usable', async () => {
    const server: NatsServerHandle = await startNatsServer();
    servers.push(server);
    const bus = await connectNatsBus({ servers: server.url, name: 'no-jetstream' });
    buses.push(bus);
    await expect(bus.kv('mesh_blacklist', { create: false })).rejects.toBeInstanceOf(KvUnavailableError);
    await expect(bus.kv('mesh_blacklist', { create: true })).rejects.toBeInstanceOf(KvUnavailableError);
    const controller = new AbortController();
    const reason = new Error('shutdown');
    const waits: Error[] = [];
    const opened = openKvWhenReady(bus, 'mesh_blacklist', { create: true }, {
      signal: controller.signal,
      initialDelayMs: 5,
      maxDelayMs: 20,
      onWait: (w) => {
        waits.push(w.error);
        if (waits.length === 3) controller.abort(reason);
      },
    });
    await expect(opened).rejects.toBe(reason);
    expect(waits).toHaveLength(3);
    expect(waits.every((e) => e instanceof KvUnavailableError)).toBe(true);
    expect(bus.isConnected()).toBe(true);
    const got: string[] = [];
    bus.subscribe('still.works', () => got.push('x'));
    bus.publish('still.works', text('x'));
    await bus.flush();
    expect(got).toEqual(['x']);
  });
});
