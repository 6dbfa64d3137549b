/**
 * The registry against real processes on a 3-node NATS cluster: two replicas answering through a
 * queue group, rebuild after a restart of every replica, and the purge of an edge killed with
 * SIGKILL (its disconnects and presence changes published once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionsReply, parseDisconnectEvent, parsePresenceEvent, parseStatsReply, type DisconnectEvent, type PresenceEvent } from '@session-mesh/protocol';
import { startMeshCluster, subjects, type MeshCluster } from '../support/mesh-cluster.js';
import { eventually } from '../support/processes.js';
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

let mesh: MeshCluster;
const clients: MeshClient[] = [];
const disconnects: DisconnectEvent[] = [];
const presence: PresenceEvent[] = [];

beforeAll(async () => {
  mesh = await startMeshCluster({ edges: 2, registries: 2 });
  mesh.backend.subscribe(subjects.eventDisconnect(), (m) => {
    const e = parseDisconnectEvent(m.data);
    if (e.ok) disconnects.push(e.value);
  });
  mesh.backend.subscribe(subjects.presenceAll(), (m) => {
    const e = parsePresenceEvent(m.data);
    if (e.ok) presence.push(e.value);
  });
  await mesh.backend.flush();
  // ann on edge 0 and 1, bob only on edge 1, carol only on edge 0
  for (const [edge, sub, jti] of [
    [0, 'ann', 'ann-s1'],
    [1, 'ann', 'ann-s1'],
    [1, 'bob', 'bob-s1'],
    [1, 'bob', 'bob-s2'],
    [0, 'carol', 'carol-s1'],
  ] as const) {
    const c = await connectClient({ url: mesh.edgeUrl(edge), token: await mintToken({ sub, jti }), client: `${sub}-${clients.length}` });
    if (!c.welcome) throw new Error(`not welcomed: ${JSON.stringify(c.refused ?? c.closed)}`);
    clients.push(c);
  }
}, 90_000);

afterAll(async () => {
  if (process.env['MESH_TEST_DUMP']) for (const r of mesh.registries) process.stderr.write(`==== ${r.name}\n${r.output()}\n`);
  await Promise.all(clients.map((c) => c.close()));
  await mesh?.stop();
});

async function query(subject: string) {
  const reply = await mesh.backend.request(subject, new Uint8Array(), { timeoutMs: 2000 });
  return reply.data;
}
async function stats() {
  const parsed = parseStatsReply(await query(subjects.registryStats()));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}
async function connectionsOf(user: string) {
  const parsed = parseConnectionsReply(await query(subjects.registryUser(user)));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value.connections.map((c) => c.conn).sort();
}
const deadHolders = new Set<string | undefined>();
async function leaderHolder(): Promise<string | undefined> {
  const entry = await (await mesh.backend.kv('mesh_registry')).get('leader');
  return entry?.value ? (JSON.parse(Buffer.from(entry.value).toString()) as { holder: string }).holder : undefined;
}
const connsOf = (user: string) => clients.filter((c) => c.welcome?.user === user).map((c) => c.welcome!.conn).sort();

describe('registry', () => {
  it('answers who is connected where', async () => {
    await eventually(async () => (await stats()).connections === 5, 'registry to see 5 connections');
    expect(await connectionsOf('ann')).toEqual(connsOf('ann'));
    expect(await connectionsOf('bob')).toEqual(connsOf('bob'));
    const session = parseConnectionsReply(await query(subjects.registrySession('bob-s2')));
    expect(session.ok && session.value.connections.map((c) => c.session)).toEqual(['bob-s2']);
    const s = await stats();
    expect({ users: s.users, sessions: s.sessions }).toEqual({ users: 3, sessions: 4 });
    expect(s.edges.map((e) => [e.edge, e.connections]).sort()).toEqual([
      ['edge-0', 2],
      ['edge-1', 3],
    ]);
  });

  it('rebuilds the same presence after every replica restarts', async () => {
    const before = await stats();
    const annBefore = await connectionsOf('ann');
    deadHolders.add(await leaderHolder());
    await Promise.all(mesh.registries.map((r) => r.kill()));
    await mesh.startRegistry(0, 1);
    await mesh.startRegistry(1, 2);
    // Ready means the snapshot round has settled: the very first answer must already be complete.
    const after = await stats();
    expect({ users: after.users, sessions: after.sessions, connections: after.connections }).toEqual({
      users: before.users,
      sessions: before.sessions,
      connections: before.connections,
    });
    expect(await connectionsOf('ann')).toEqual(annBefore);
  });

  it('purges an edge killed with SIGKILL, publishing its disconnects and presence changes once', async () => {
    const lostConns = clients.filter((c) => c.welcome?.edge === 'edge-1').map((c) => c.welcome!.conn).sort();
    presence.length = 0;
    // Purge announcements come from the leader. After the previous test killed every replica, the
    // dead leader's lease must expire before a new one leads (a documented gap): wait for a leader.
    await eventually(async () => {
      const entry = await (await mesh.backend.kv('mesh_registry')).get('leader');
      const lease = entry?.value ? (JSON.parse(Buffer.from(entry.value).toString()) as { holder: string; expiresAt: number }) : undefined;
      return lease !== undefined && lease.expiresAt > Date.now() && !deadHolders.has(lease.holder);
    }, 'a live registry to hold the leader lease', 15_000);
    await mesh.edges[1]!.kill();
    // Each replica purges on its own clock and queries go to either one: wait until several answers
    // in a row (so both replicas, through the queue group) agree that edge-1 is gone.
    let agreeing = 0;
    await eventually(
      async () => {
        const s = await stats();
        const purged = s.connections === 2 && s.edges.length === 1 && s.edges[0]!.edge === 'edge-0' && (await connectionsOf('bob')).length === 0;
        agreeing = purged ? agreeing + 1 : 0;
        return agreeing >= 6;
      },
      'every registry replica to purge edge-1',
      15_000,
    );
    expect(await connectionsOf('ann')).toEqual(clients.filter((c) => c.welcome?.user === 'ann' && c.welcome.edge === 'edge-0').map((c) => c.welcome!.conn));
    await eventually(() => lostConns.every((conn) => disconnects.some((d) => d.conn === conn && d.reason === 'edge-lost')), 'edge-lost disconnects');
    // Exactly one disconnect per lost connection although two replicas watch the edge.
    await eventually(() => presence.some((p) => p.user === 'bob' && p.status === 'offline'), 'bob offline');
    const lost = disconnects.filter((d) => d.reason === 'edge-lost').map((d) => d.conn).sort();
    expect(lost).toEqual(lostConns);
    expect(presence.filter((p) => p.user === 'bob')).toEqual([expect.objectContaining({ user: 'bob', status: 'offline', connections: 0 })]);
    // ann still has a connection on edge-0: she does not go offline.
    expect(presence.some((p) => p.user === 'ann')).toBe(false);
  });
});
