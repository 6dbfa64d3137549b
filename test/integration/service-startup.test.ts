/**
 * How the service processes start and stop: what they refuse, and what a client sees while one
 * drains. Real processes (the built dist/main.js), real sockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startService } from '../support/processes.js';
import { connectClient } from '../support/ws-client.js';

const devDir = mkdtempSync(join(tmpdir(), 'mesh-startup-'));
afterAll(() => rmSync(devDir, { recursive: true, force: true }));

describe('a standalone edge', () => {
  // Bug: without MESH_NATS_URL the edge ran on a private in-process bus that nothing could reach.
  it('refuses to start without MESH_NATS_URL (exit 2, naming the variable)', async () => {
    const edge = await startService('edge', { MESH_JWT_SECRET: 's'.repeat(32) }, { waitReady: false });
    expect(await edge.exited).toBe(2);
    expect(edge.output()).toMatch(/MESH_NATS_URL: required/);
  });
});

describe('the single-process mesh', () => {
  // Bug: right after SIGTERM, upgrades and /readyz got connection resets instead of 503 SERVER_DRAINING.
  it('answers upgrades and /readyz with 503 during its drain window, and tells connected clients to reconnect', async () => {
    const mesh = await startService('mesh', { MESH_DEV_DIR: devDir, MESH_ADMIN_PORT: String(await freePort()), MESH_DRAIN_DELAY_MS: '1500', MESH_DRAIN_SPREAD_MS: '0', MESH_ANONYMOUS: 'yes' });
    const url = `ws://127.0.0.1:${mesh.port}`;
    const connected = await connectClient({ url });
    expect(connected.welcome).toBeDefined();
    // Every role's readiness checks are there (they used to overwrite each other's `bus` check).
    const ready = (await (await fetch(`http://127.0.0.1:${mesh.opsPort}/readyz`)).json()) as { status: string };
    expect(ready.status).toBe('ready');

    mesh.child.kill('SIGTERM');
    const readyz = await waitForStatus(`http://127.0.0.1:${mesh.opsPort}/readyz`, 503);
    expect(JSON.parse(readyz)).toMatchObject({ failing: { shutdown: 'draining' } });
    const late = await connectClient({ url });
    expect(late.refused?.status).toBe(503);
    expect(JSON.parse(late.refused!.body)).toMatchObject({ error: 'SERVER_DRAINING' });
    expect((await connected.waitForClose(10_000)).code).toBe(4008);
    expect(await mesh.exited).toBe(0);
  });

  // Bug: services/mesh parsed MESH_ANONYMOUS with its own rule ('true' only), the edge with the shared one.
  it('reads MESH_ANONYMOUS with the same rule as the edge', async () => {
    const mesh = await startService('mesh', { MESH_DEV_DIR: devDir, MESH_ADMIN_PORT: String(await freePort()), MESH_ANONYMOUS: '1' });
    try {
      const client = await connectClient({ url: `ws://127.0.0.1:${mesh.port}` });
      expect(client.welcome).toBeDefined();
      expect(mesh.output()).not.toMatch(/Dev secrets/);
      await client.close();
    } finally {
      expect(await mesh.stop()).toBe(0);
    }
  });
});

async function waitForStatus(url: string, status: number): Promise<string> {
  const deadline = Date.now() + 5000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = `${res.status}`;
      if (res.status === status) return await res.text();
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} never answered ${status} (last: ${last})`);
}
