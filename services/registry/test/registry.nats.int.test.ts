import { createBus, type Bus } from '@session-mesh/bus';
import type { ConnectionsReply } from '@session-mesh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { FakeEdge } from './support/fake-edge.js';
import { logger, Observer, startReplica, subjects, type Replica } from './support/registry-harness.js';
import { waitFor } from '../../../test/support/wait-for.js';

describe('registry against a real nats-server (JetStream KV lease)', () => {
  let server: NatsServerHandle;
  const buses: Bus[] = [];
  const replicas: Replica[] = [];

  const connect = async (name: string): Promise<Bus> => {
    const bus = await createBus({ natsUrl: server.url, name, logger });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.registry.stop()));
    await Promise.all(buses.map((b) => (b.isConnected() ? b.close() : undefined)));
    await server?.stop();
  });

  it('elects one leader of two replicas, announces presence once, and fails over when the leader dies', async () => {
    const client = await connect('test-client');
    const observer = new Observer(client);
    await client.flush();
    const config = { settleMs: 100, leaseTtlMs: 2_000, leaseRenewMs: 200, edgeLostAfterMs: 10_000 };
    const a = await startReplica(await connect('registry-a'), { ...config, registryId: 'a' });
    const b = await startReplica(await connect('registry-b'), { ...config, registryId: 'b' });
    replicas.push(a, b);
    await Promise.all([a.registry.whenReady(), b.registry.whenReady()]);
    await waitFor(() => a.registry.isLeader() !== b.registry.isLeader(), { what: 'exactly one leader' });
    const [leader, follower] = a.registry.isLeader() ? [a, b] : [b, a];

    const edge = new FakeEdge(await connect('edge'), subjects, 'edge-1');
    edge.connect('c1', 'alice@example.com', 's1');
    edge.connect('c2', 'alice@example.com', 's2');
    await waitFor(() => observer.presence.length >= 1 && follower.registry.store.countOfUser('alice@example.com') === 2);
    const reply = await client.request(subjects.registryUser('alice@example.com'), new Uint8Array(0), { timeoutMs: 2_000 });
    expect((JSON.parse(new TextDecoder().decode(reply.data)) as ConnectionsReply).connections.map((c) => c.conn).sort()).toEqual(['c1', 'c2']);

    // The leader's process dies: its connection drops without releasing the lease.
    await leader.bus.close();
    await waitFor(() => follower.registry.isLeader(), { timeoutMs: 8_000, what: 'the follower to take over the expired lease' });
    expect(leader.registry.isLeader()).toBe(false);

    edge.disconnect('c1');
    edge.disconnect('c2');
    await waitFor(() => observer.presenceOf('alice@example.com').length === 2, { what: 'offline from the new leader' });
    await client.flush();
    expect(observer.presenceOf('alice@example.com')).toEqual(['online', 'offline']);
    edge.crash();
  });
});
