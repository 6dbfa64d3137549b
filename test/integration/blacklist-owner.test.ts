/**
 * Issue 6, bugs 9 and 10: the admin service owns the blacklist bucket; an edge only opens it. An
 * edge started at the same moment as a fresh 3-node JetStream cluster (MESH_KV_REPLICAS=3) used to
 * create the bucket itself (nats.js silently kept the first creator's settings) and sometimes
 * exited with `StreamNotFoundError`. Now it stays up and unready, says why, and becomes ready once
 * the admin has created the bucket.
 */
import { afterAll, expect, it } from 'vitest';
import { startFormingCluster, type FormingCluster } from '../../libs/bus/test/support/forming-cluster.js';
import { startService, waitReady, type ServiceProcess } from '../support/processes.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

let cluster: FormingCluster | undefined;
const services: ServiceProcess[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.kill()));
  await cluster?.stop();
});

it('an edge on a forming cluster waits, unready, for the admin to create the bucket, and never exits', async () => {
  cluster = await startFormingCluster(3);
  const common = { MESH_JWT_SECRET: TEST_JWT_SECRET, MESH_KV_REPLICAS: '3', MESH_LOG_LEVEL: 'warn' };
  const edge = await startService('edge', { ...common, MESH_NATS_URL: cluster.urls[0]! }, { waitReady: false });
  services.push(edge);
  // Unready while there is no bucket, with the reason on /readyz; alive all along.
  let body = '';
  for (let i = 0; i < 200 && !body.includes('mesh_blacklist'); i++) {
    const res = await fetch(`http://127.0.0.1:${edge.opsPort}/readyz`).catch(() => undefined);
    body = res === undefined ? '' : `${res.status} ${await res.text()}`;
    if (!body.includes('mesh_blacklist')) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(body).toMatch(/^503 .*waiting for KV bucket mesh_blacklist/);
  expect(edge.child.exitCode).toBeNull();

  const admin = await startService('admin', { ...common, MESH_NATS_URL: cluster.urls[1]!, MESH_ADMIN_TOKENS: 'a'.repeat(32) }, { readyTimeoutMs: 40_000 });
  services.push(admin);
  await waitReady(edge, 40_000);
  expect(edge.child.exitCode).toBeNull();
  // Waiting is logged (with the cause); failing to start is not.
  expect(edge.output()).not.toMatch(/failed to start|"level":60/);
}, 90_000);
