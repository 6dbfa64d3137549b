/**
 * The "interest before exposure" guarantee (docs/architecture.md): a backend on ANOTHER node of a
 * 3-node cluster pushes in reaction to each connect event, and every push must arrive. An edge
 * that announced a connection before NATS knew its subscription would lose some of these (measured
 * here: 19-32% when pushing right after subscribe+flush from another node).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConnectEvent } from '@session-mesh/protocol';
import { bytes, startMeshCluster, subjects, text, type MeshCluster } from '../support/mesh-cluster.js';
import { eventually } from '../support/processes.js';
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

let mesh: MeshCluster;
const clients: MeshClient[] = [];

beforeAll(async () => {
  mesh = await startMeshCluster({ edges: 2 });
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await mesh?.stop();
});

it('delivers every push a backend sends from another node in reaction to a connect event', async () => {
  mesh.backend.subscribe(subjects.eventConnect(), (msg) => {
    const event = parseConnectEvent(msg.data);
    if (!event.ok) return;
    const { user, session } = event.value.connection;
    mesh.backend.publish(subjects.pushUser(user), bytes(`welcome ${user}`));
    mesh.backend.publish(subjects.pushSession(session), bytes(`session ${session}`));
  });
  await mesh.backend.flush();

  const users = Array.from({ length: 120 }, (_, i) => `reactive-${i}`);
  // Connect in parallel batches so subscriptions are fresh and many are in flight at once.
  for (let i = 0; i < users.length; i += 20) {
    const batch = await Promise.all(
      users.slice(i, i + 20).map(async (user, j) =>
        connectClient({ url: mesh.edgeUrl((i + j) % 2), token: await mintToken({ sub: user, jti: `s-${user}` }), timeoutMs: 10_000 }),
      ),
    );
    clients.push(...batch);
  }
  expect(clients.every((c) => c.welcome)).toBe(true);
  await eventually(() => clients.every((c) => c.pushes.length >= 2), 'every client to get both reaction pushes', 15_000).catch(() => undefined);
  const missing = clients.filter((c) => c.pushes.length < 2).map((c) => c.welcome?.user);
  expect(missing).toEqual([]);
  for (const c of clients) {
    const user = c.welcome!.user;
    expect(c.pushes.map(text).sort()).toEqual([`session s-${user}`, `welcome ${user}`]);
  }
});
