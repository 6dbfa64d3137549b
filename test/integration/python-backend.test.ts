/**
 * A backend that is not written in TypeScript: examples/python-backend/backend.py (nats-py),
 * written from docs/subjects.md alone, pushes to a user, to a session and kills a session.
 * scripts/test.sh installs nats-py into a cached virtualenv and exports MESH_PYTHON.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { mintToken, TEST_JWT_SECRET } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';
import { text } from '../support/mesh-cluster.js';

const run = promisify(execFile);
const backendScript = fileURLToPath(new URL('../../examples/python-backend/backend.py', import.meta.url));
const python = process.env['MESH_PYTHON'];
if (!python) throw new Error('MESH_PYTHON is not set: run the suite through `npm test` (scripts/test.sh installs nats-py)');

let nats: NatsServerHandle;
let edge: ServiceProcess;
const clients: MeshClient[] = [];

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  edge = await startService('edge', { MESH_NATS_URL: nats.url, MESH_JWT_SECRET: TEST_JWT_SECRET, MESH_LOG_LEVEL: 'warn' });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await edge?.kill();
  await nats?.stop();
});

const backend = (...args: string[]) => run(python, [backendScript, '--nats', nats.url, ...args], { timeout: 20_000 });

async function connect(sub: string, jti: string): Promise<MeshClient> {
  const c = await connectClient({ url: `ws://127.0.0.1:${edge.port}`, token: await mintToken({ sub, jti }) });
  if (!c.welcome) throw new Error(`not welcomed: ${JSON.stringify(c.refused ?? c.closed)}`);
  clients.push(c);
  return c;
}

describe('a Python backend (nats-py) following docs/subjects.md', () => {
  it('pushes to a user, pushes to a session, and kills a session', async () => {
    const user = 'py.user@example.com';
    const [tab1, tab2] = [await connect(user, 'py-session-1'), await connect(user, 'py-session-2')];
    const other = await connect('py.user', 'py-session-3');

    await backend('push-user', user, 'hello from python');
    expect(text(await tab1.nextPush())).toBe('hello from python');
    expect(text(await tab2.nextPush())).toBe('hello from python');

    await backend('push-session', 'py-session-2', 'just session 2');
    expect(text(await tab2.nextPush())).toBe('just session 2');

    await backend('kill-session', 'py-session-1', 'bye from python');
    expect(await tab1.waitForClose()).toEqual({ code: 4005, reason: 'bye from python' });

    // Nothing leaked to the user whose id is a prefix of the first one's; session 2 lives on.
    await backend('push-user', 'py.user', 'for the other user');
    expect(text(await other.nextPush())).toBe('for the other user');
    expect(other.pushes.map(text)).toEqual(['for the other user']);
    expect(tab2.pushes.map(text)).toEqual(['hello from python', 'just session 2']);
    expect(tab2.closed).toBeUndefined();
  });

  it('answers client requests through a queue group, reading identity headers', async () => {
    const server = execFile(python, [backendScript, '--nats', nats.url, 'serve-inbound', 'chat']);
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        server.once('exit', (code) => reject(new Error(`python backend exited with ${code}`)));
      });
      const client = await connectClient({ url: `ws://127.0.0.1:${edge.port}`, token: await mintToken({ sub: 'Zoë', roles: ['editor'] }) });
      clients.push(client);
      const answer = await client.request('chat', 'hi');
      expect('reply' in answer && text(answer.reply)).toBe('hello Zoë (editor): hi');
    } finally {
      server.kill();
    }
  });
});
