// Heap cost per NatsBus subscription. Usage: node --expose-gc libs/bus/scripts/sub-heap.mjs [count]
// (run `npx tsc -b` first: it imports the built dist).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { connectNatsBus } from '../dist/index.js';

const N = Number(process.argv[2] ?? 20_000);
const port = await new Promise((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
const server = spawn(`${homedir()}/.cache/session-mesh/bin/nats-server`, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
try {
  let bus;
  for (let i = 0; ; i++) {
    try {
      bus = await connectNatsBus({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0 });
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const gc = async () => {
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setImmediate(r));
      globalThis.gc();
    }
    return process.memoryUsage().heapUsed;
  };
  const handlers = [];
  // The handlers are the caller's: create them before measuring so only the bus's cost counts.
  for (let i = 0; i < N; i++) handlers.push(() => undefined);
  await bus.flush();
  const before = await gc();
  const subs = [];
  for (let i = 0; i < N; i++) subs.push(bus.subscribe(`bench.user.${i}`, handlers[i]));
  await bus.flush();
  await bus.flush();
  const after = await gc();
  const perSub = (after - before) / N;
  // Delivery sanity check on a few.
  let got = 0;
  const probe = bus.subscribe('bench.probe', () => got++);
  await bus.flush();
  bus.publish('bench.probe', new Uint8Array(1));
  await bus.flush();
  for (const s of subs) s.unsubscribe();
  probe.unsubscribe();
  subs.length = 0;
  await bus.flush();
  const freed = await gc();
  console.log(JSON.stringify({ subscriptions: N, bytesPerSub: Math.round(perSub), retainedAfterUnsubPerSub: Math.round((freed - before) / N), probeDelivered: got }));
  await bus.close();
} finally {
  server.kill();
}
