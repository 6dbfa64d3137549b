/**
 * Issue 10: the cluster-wide cap on one user's connections, across two edges, enforced by the
 * registry leader (services/registry/src/limits/user-cap.ts). Stated overshoot: above the cap only
 * until the leader's kill arrives (one connect event and one kill through NATS).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMeshCluster, type MeshCluster } from '../support/mesh-cluster.js';
import { mintToken } from '../support/tokens.js';
import { connectClient, waitFor, type MeshClient } from '../support/ws-client.js';

let cluster: MeshCluster;
const clients: MeshClient[] = [];
beforeAll(async () => {
  cluster = await startMeshCluster({ edges: 2, registries: 1, registryEnv: { MESH_MAX_CONNECTIONS_PER_USER_CLUSTER: '2', MESH_REGISTRY_SETTLE_MS: '0' } });
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await cluster?.stop();
});

async function tab(user: string, edge: number, client: string): Promise<MeshClient> {
  const c = await connectClient({ url: cluster.edgeUrl(edge), token: await mintToken({ sub: user }), client });
  expect(c.welcome, c.refused?.body).toBeDefined();
  clients.push(c);
  return c;
}

it('keeps a user at the cap across two edges: the newest surplus connection is closed with 4013', async () => {
  // The leader must be in place before the test counts on it.
  const first = await tab('capped', 0, 'a');
  const second = await tab('capped', 1, 'b');
  await waitFor(async () => {
    const third = await tab('capped', 0, `probe-${Date.now()}`);
    const closed = await third.waitForClose(1500).catch(() => undefined);
    return closed?.code === 4013 || undefined;
  }, 20_000, 'the leader to enforce the cap');
  expect(first.closed).toBeUndefined();
  expect(second.closed).toBeUndefined();
});

it('bounds a burst: six connects at once on two edges end with exactly the cap, the rest closed with 4013', async () => {
  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => tab('burst', i % 2, `t${i}`)));
  await waitFor(() => burst.filter((c) => c.closed !== undefined).length === 4 || undefined, 10_000, 'the surplus to be closed');
  const settledMs = Date.now() - started;
  const codes = burst.filter((c) => c.closed !== undefined).map((c) => c.closed!.code);
  console.log(`user cap: 6 concurrent connects, cap 2: closed ${codes.length} (${codes.join(',')}), settled ${settledMs} ms after the first connect`);
  expect(codes).toEqual([4013, 4013, 4013, 4013]);
  const survivors = burst.filter((c) => c.closed === undefined);
  expect(survivors).toHaveLength(2);
  // The survivors still receive pushes.
  cluster.backend.publish(`mesh.push.user.${Buffer.from('burst').toString('base64url')}`, new TextEncoder().encode('still here'));
  for (const c of survivors) expect(Buffer.from(await c.nextPush()).toString()).toBe('still here');
});
