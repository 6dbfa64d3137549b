/**
 * Lifecycle events a backend cannot miss: connect, disconnect (with its cause) and presence are
 * stored in the MESH_EVENTS stream (created by the registry, replicated 3 ways on a 3-node NATS
 * cluster), each with a Nats-Msg-Id, so a backend that was down reads everything with a durable
 * JetStream consumer when it comes back, and a repeated publish of one event is stored once.
 * The backend here is plain nats.js, as any backend would be.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parseConnectEvent, parseDisconnectEvent, parsePresenceEvent, type ConnectEvent, type DisconnectEvent, type PresenceEvent } from '@session-mesh/protocol';
import { startMeshCluster, subjects, type MeshCluster } from '../support/mesh-cluster.js';
import { eventually } from '../support/processes.js';
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

let mesh: MeshCluster;
let nc: NatsConnection;

beforeAll(async () => {
  // A presence grace: the user's tabs come and go within it, so presence must not flap.
  mesh = await startMeshCluster({ edges: 2, registries: 1, registryEnv: { MESH_PRESENCE_GRACE_MS: '3000' } });
  nc = await connect({ servers: [...mesh.nats.urls], name: 'events-backend' });
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await mesh?.stop();
});

async function client(edge: number, user: string, tab: string, resume?: { position: number; epoch: string }): Promise<MeshClient> {
  const c = await connectClient({ url: mesh.edgeUrl(edge), token: await mintToken({ sub: user, jti: `${user}-${tab}` }), client: tab, ...(resume ? { resume } : {}) });
  expect(c.welcome, JSON.stringify(c.refused ?? c.closed)).toBeDefined();
  return c;
}

interface Stored {
  connects: ConnectEvent[];
  disconnects: DisconnectEvent[];
  presence: PresenceEvent[];
  msgIds: string[];
}

/** Everything the stream holds for `user`, read by a durable consumer that acknowledges each event. */
async function readAsBackend(user: string, durable: string): Promise<Stored> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add('MESH_EVENTS', { durable_name: durable, ack_policy: AckPolicy.Explicit });
  const consumer = await jetstream(nc).consumers.get('MESH_EVENTS', durable);
  const out: Stored = { connects: [], disconnects: [], presence: [], msgIds: [] };
  for (;;) {
    let got = 0;
    for await (const m of await consumer.fetch({ max_messages: 500, expires: 1000 })) {
      got++;
      m.ack();
      const connect = m.subject === subjects.eventConnect() ? parseConnectEvent(m.data) : undefined;
      const disconnect = m.subject === subjects.eventDisconnect() ? parseDisconnectEvent(m.data) : undefined;
      const presence = m.subject.startsWith('mesh.presence.') ? parsePresenceEvent(m.data) : undefined;
      const mine =
        (connect?.ok === true && connect.value.connection.user === user) ||
        (disconnect?.ok === true && disconnect.value.user === user) ||
        (presence?.ok === true && presence.value.user === user);
      if (!mine) continue;
      out.msgIds.push(m.headers?.get('Nats-Msg-Id') ?? '');
      if (connect?.ok === true) out.connects.push(connect.value);
      if (disconnect?.ok === true) out.disconnects.push(disconnect.value);
      if (presence?.ok === true) out.presence.push(presence.value);
    }
    if (got === 0) return out;
  }
}

describe('the lifecycle events stream', () => {
  it('stores connect, disconnect with its cause (closed, killed, edge-lost) and presence (no flap within the grace), once each, for a backend that was down', async () => {
    const user = 'stream-user';
    const first = await client(0, user, 'tab-a');
    const second = await client(1, user, 'tab-b');
    await first.close();
    mesh.backend.publish(subjects.killConnection(second.welcome!.conn), new Uint8Array(0));
    await eventually(() => second.closed, 'the kill');
    // A tab coming back with its durable position: its connect event says so.
    const third = await client(1, user, 'tab-c', { position: first.welcome!.position!, epoch: first.welcome!.epoch! });
    await mesh.edges[1]!.kill(); // the registry reports the third one as edge-lost
    const conns = [first, second, third].map((c) => c.welcome!.conn);

    await eventually(async () => (await readAsBackend(user, `probe-${Date.now()}`)).presence.some((p) => p.status === 'offline'), 'offline presence stored', 30_000);
    const stored = await readAsBackend(user, 'backend-that-was-down');
    console.log(
      `[events stream] connects ${stored.connects.length} / disconnects ${stored.disconnects.length} (${stored.disconnects.map((d) => d.reason).join(', ')}) / presence ${stored.presence.map((p) => p.status).join(', ')}`,
    );
    expect(stored.connects.map((e) => e.connection.conn)).toEqual(conns);
    expect(stored.connects.map((e) => e.resumed === true)).toEqual([false, false, true]);
    expect(stored.disconnects.map((d) => [d.conn, d.reason])).toEqual([
      [conns[0], 'closed'],
      [conns[1], 'killed'],
      [conns[2], 'edge-lost'],
    ]);
    expect(stored.presence.map((p) => p.status)).toEqual(['online', 'offline']);
    expect(new Set(stored.msgIds).size).toBe(stored.msgIds.length);
    expect(stored.msgIds).toEqual(expect.arrayContaining([...conns.map((c) => `connect.${c}`), ...conns.map((c) => `disconnect.${c}`)]));

    // A second registry leader (or a retried publish) repeating a disconnect: stored once.
    const repeat = stored.disconnects[2]!;
    await mesh.backend.flush();
    mesh.backend.publish(subjects.eventDisconnect(), new TextEncoder().encode(JSON.stringify(repeat)), { 'Nats-Msg-Id': `disconnect.${repeat.conn}` });
    await mesh.backend.flush();
    const again = await readAsBackend(user, 'backend-reading-again');
    expect(again.disconnects).toHaveLength(3);
  }, 90_000);
});
