/**
 * The single-process mesh (services/mesh, embedded bus) serves one /metrics on its ops port with
 * every role's metrics: edge, registry, admin API, and one bus connection per role.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parsePrometheusText, type Scrape } from '../monitoring/prometheus-text.js';
import { eventually, freePort, startService, type ServiceProcess } from '../support/processes.js';
import { mintToken, TEST_JWT_SECRET } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

const ADMIN_TOKEN = 'mesh-metrics-admin-token-0123456789abcdef';
const devDir = mkdtempSync(join(tmpdir(), 'mesh-metrics-'));
let mesh: ServiceProcess;
let alice: MeshClient | undefined;
let adminPort: number;

beforeAll(async () => {
  adminPort = await freePort();
  mesh = await startService('mesh', { MESH_DEV_DIR: devDir, MESH_ADMIN_PORT: String(adminPort), MESH_JWT_SECRET: TEST_JWT_SECRET, MESH_ADMIN_TOKENS: ADMIN_TOKEN });
}, 60_000);

afterAll(async () => {
  await alice?.close();
  const code = await mesh?.stop();
  rmSync(devDir, { recursive: true, force: true });
  expect(code).toBe(0);
});

async function scrape(): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${mesh.opsPort}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

it('exposes edge, registry, admin and bus metrics on one scrape', async () => {
  alice = await connectClient({ url: `ws://127.0.0.1:${mesh.port}`, token: await mintToken({ sub: 'alice' }) });
  expect(alice.welcome?.user).toBe('alice');
  await eventually(async () => (await scrape()).value('mesh_registry_connections') === 1, 'the registry counts alice');
  const pushed = await fetch(`http://127.0.0.1:${adminPort}/v1/users/alice/push`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: 'hi' });
  expect(pushed.status).toBe(202);
  await eventually(() => alice!.pushes.length === 1, 'the push arrives');

  const s = await eventually(async () => {
    const scraped = await scrape();
    return scraped.value('mesh_edge_push_latency_seconds_count') === 1 ? scraped : undefined;
  }, 'the edge times the push');
  expect(s.value('mesh_edge_connections')).toBe(1);
  expect(s.value('mesh_edge_connect_latency_seconds_count')).toBe(1);
  expect(s.value('mesh_registry_users')).toBe(1);
  expect(s.value('mesh_registry_leader')).toBe(1);
  expect(s.value('mesh_admin_requests_total', { route: '/v1/users/{userId}/push', method: 'POST', status: '202' })).toBe(1);
  for (const connection of ['registry', 'admin', 'edge']) expect(s.value('mesh_bus_connected', { connection, kind: 'memory' })).toBe(1);
  expect(s.value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
});
