#!/usr/bin/env node
// Measures the edge's memory per idle authenticated connection (every connection a distinct user
// and session: two bus subscriptions each, the worst case). Run after `npm run build`:
//   node services/edge/scripts/measure-memory.mjs [connections=5000] [nats://url]
// The clients run in this process, the edge in a child process, so the edge's numbers are its own.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import WebSocket from 'ws';

const count = Number(process.argv[2] ?? 5000);
const natsUrl = process.argv[3];
const secret = 'measure-memory-secret-0123456789abcdef';
const root = fileURLToPath(new URL('../../../', import.meta.url));

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const edge = spawn(process.execPath, ['--expose-gc', 'services/edge/dist/main.js'], {
  cwd: root,
  env: { ...process.env, MESH_EDGE_PORT: String(port), MESH_EDGE_HOST: '127.0.0.1', MESH_JWT_SECRET: secret, MESH_LOG_LEVEL: 'warn', ...(natsUrl ? { MESH_NATS_URL: natsUrl } : {}) },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (;;) {
  try {
    if ((await fetch(`${base}/readyz`)).status === 200) break;
  } catch {}
  await sleep(50);
}
const stats = async () => (await fetch(`${base}/stats?gc=1`)).json();
await sleep(500);
const before = await stats();

const key = new TextEncoder().encode(secret);
const sockets = [];
let welcomed = 0;
for (let i = 0; i < count; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 200); j++) {
    const token = await new SignJWT({ roles: ['member'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(`user-${j}@example.com`).setJti(`session-${j}`).setIssuedAt().setExpirationTime('2h').sign(key);
    batch.push(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/?client=tab-${j}`, ['session-mesh.v1'], { headers: { authorization: `Bearer ${token}` } });
        ws.on('message', (d, bin) => {
          if (!bin && JSON.parse(d.toString()).type === 'welcome') {
            welcomed++;
            resolve();
          }
        });
        ws.on('error', reject);
        sockets.push(ws);
      }),
    );
  }
  await Promise.all(batch);
}
await sleep(3000);
const after = await stats();
const per = (k) => ((after[k] - before[k]) / count / 1024).toFixed(2);
process.stdout.write(
  `${count} idle connections (${welcomed} welcomed), bus ${natsUrl ? 'NATS' : 'memory'}: ` +
    `RSS +${per('rss')} KiB/conn, JS heap used +${per('heapUsed')} (committed +${per('heapTotal')}), external +${per('external')} KiB/conn ` +
    `(users ${after.users}, sessions ${after.sessions})\n`,
);
for (const ws of sockets) ws.terminate();
edge.kill('SIGTERM');
await new Promise((r) => edge.once('exit', r));
process.exit(0);
