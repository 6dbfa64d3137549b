/**
 * The README's first command in miniature: the single-process mesh (services/mesh) on the embedded
 * bus starts with no configuration, and the three commands it prints (mint a token, connect,
 * push with curl) deliver a push to a connected client.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, freePort, startService, type ServiceProcess } from '../support/processes.js';
import { connectClient } from '../support/ws-client.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const devDir = mkdtempSync(join(tmpdir(), 'mesh-quickstart-'));
let mesh: ServiceProcess;

beforeAll(async () => {
  mesh = await startService('mesh', { MESH_DEV_DIR: devDir, MESH_ADMIN_PORT: String(await freePort()) });
}, 60_000);

afterAll(async () => {
  const code = await mesh?.stop();
  rmSync(devDir, { recursive: true, force: true });
  expect(code).toBe(0);
});

it('starts with no configuration and delivers a push sent with the printed curl command', async () => {
  const banner: string = await eventually(() => (/curl .*\/push/.test(mesh.output()) ? mesh.output() : undefined), 'the banner');
  expect(banner).toContain(`ws://127.0.0.1:${mesh.port}`);
  expect(banner).toContain('embedded in-process bus');

  const { stdout: token } = await run(process.execPath, ['scripts/mint-token.mjs', '--user', 'alice'], { cwd: repoRoot, env: { ...process.env, MESH_DEV_DIR: devDir } });
  const client = await connectClient({ url: `ws://127.0.0.1:${mesh.port}`, token: token.trim() });
  expect(client.welcome).toMatchObject({ user: 'alice' });

  const curl = banner.split('\n').find((line) => line.trim().startsWith('curl '))!.trim();
  await run('bash', ['-c', `${curl} --fail --silent --show-error`], { cwd: repoRoot });
  expect(Buffer.from(await client.nextPush()).toString()).toBe('hello alice');
  await client.close();
});
