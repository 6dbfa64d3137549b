// The Socket.IO peer's backend in `npm run bench`: publishes through Redis with
// @socket.io/redis-emitter (the way a service outside the Socket.IO processes pushes to one user:
// `emitter.to(<user room>).emit(...)`; every server's Redis adapter receives it and delivers it to the
// room's local sockets). Same payloads and the same stdout/stdin protocol as the Go publisher
// (bench/loadgen publish), so bench/run.mjs drives both alike:
//
//   node publisher.mjs --redis URL --users N --size 100 --seconds 15 --warmup 20000
//                      --credit-socket P --window W [--wait-go] [--rate R] [--count C] [--broadcast] [--seed S]
// --rate paces the measured run (each millisecond, what is due); --count ends it after C pushes;
// --broadcast sends every push to every socket (emitter.emit, no room); --seed picks the users.
// stdout: {"event":"connected"}, {"event":"warmed",...}, then (after a line on stdin with --wait-go)
// {"event":"done","published":N,"elapsedMs":T,...}; with --wait-go it then waits for another line.
// The payload is a JSON string of --size bytes starting with "~t" + 19 digits of Unix nanoseconds.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';

const { values: o } = parseArgs({
  options: {
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    users: { type: 'string', default: '1000' },
    'user-prefix': { type: 'string', default: 'u' },
    size: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '0' },
    window: { type: 'string', default: '20000' },
    'credit-socket': { type: 'string' },
    'wait-go': { type: 'boolean', default: false },
    rate: { type: 'string', default: '0' },
    count: { type: 'string', default: '0' },
    broadcast: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
  },
});
const num = (name, min) => {
  const v = Number(o[name]);
  if (!Number.isFinite(v) || v < min) {
    console.error(`publisher: --${name} must be a number >= ${min}, got ${o[name]}`);
    process.exit(2);
  }
  return v;
};
const users = num('users', 1);
const size = num('size', 24);
const seconds = num('seconds', 0.1);
const warmup = num('warmup', 0);
const window = num('window', 1);
const rate = num('rate', 0);
const count = num('count', 0);
// A small seeded generator (mulberry32): the same seed picks the same users, as in the Go publisher.
let seedState = num('seed', 0) >>> 0;
const random = () => {
  seedState = (seedState + 0x6d2b79f5) >>> 0;
  let t = seedState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const emitLine = (v) => process.stdout.write(`${JSON.stringify(v)}\n`);

const client = createClient({ url: o.redis });
client.on('error', (err) => console.error(`publisher: redis: ${err.message}`));
await client.connect();
const emitter = new Emitter(client);
emitLine({ event: 'connected', server: o.redis });

const rooms = Array.from({ length: users }, (_, i) => `${o['user-prefix']}${i}`);
const filler = 'a'.repeat(size - 23); // "~t" + 19 digits + filler = size - 2; the JSON quotes make it size
const stamp = () => `~t${BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)).toString().padStart(19, '0')}${filler}`;

// Flow control: the load generator streams its push count (u64 big-endian) on a unix socket.
let received = -1;
if (o['credit-socket']) {
  const sock = connect(o['credit-socket']);
  let buf = Buffer.alloc(0);
  sock.on('error', (err) => {
    console.error(`publisher: credit socket: ${err.message}`);
    process.exit(1);
  });
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      received = Number(buf.readBigUInt64BE(0));
      buf = buf.subarray(8);
    }
  });
  sock.unref();
  const t0 = performance.now();
  while (received < 0) {
    if (performance.now() - t0 > 5000) throw new Error('credit socket: no count received within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
const base = received;
let sent = 0;

/** Publishes up to want pushes (0: no limit) before deadline, keeping the window; paced at perSecond when > 0. */
async function publish(want, deadline, perSecond = 0) {
  let k = 0;
  let stalls = 0;
  let stallMs = 0;
  const start = performance.now();
  while ((want === 0 || k < want) && performance.now() < deadline) {
    let due = Infinity;
    if (perSecond > 0) {
      due = Math.floor(((performance.now() - start) / 1000) * perSecond);
      if (k >= due) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
    }
    if (base >= 0 && sent - (received - base) > window) {
      stalls++;
      const s0 = performance.now();
      while (sent - (received - base) > window && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      stallMs += performance.now() - s0;
      continue;
    }
    const batch = Math.min(256, want === 0 ? 256 : want - k, due - k);
    if (o.broadcast) for (let j = 0; j < batch; j++) emitter.emit('p', stamp());
    else for (let j = 0; j < batch; j++) emitter.to(rooms[(random() * users) | 0]).emit('p', stamp());
    k += batch;
    sent += batch;
    // Let the Redis client write what it queued and the credit count arrive.
    await new Promise((r) => setImmediate(r));
  }
  await client.ping(); // every PUBLISH before it has reached Redis
  return { k, stalls, stallMs };
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
if (warmup > 0) {
  const t0 = performance.now();
  await publish(warmup, t0 + 30000);
  const target = base + sent;
  while (base >= 0 && received < target && performance.now() - t0 < 45000) await new Promise((r) => setTimeout(r, 5));
  emitLine({ event: 'warmed', published: sent, received: base >= 0 ? received - base : -1, ms: Math.round(performance.now() - t0) });
}
if (o['wait-go']) await lines.next();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const r = await publish(count, t0 + seconds * 1000, rate);
const elapsedMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
emitLine({
  event: 'done', published: r.k, elapsedMs: Math.round(elapsedMs), perSecond: (r.k / elapsedMs) * 1000, stalls: r.stalls, stallMs: Math.round(r.stallMs),
  cpuUserUs: cpu.user, cpuSystemUs: cpu.system, size, users, rate,
});
if (o['wait-go']) {
  // Stay (idle) until told, so the orchestrator can still read this process's CPU time; bounded.
  await Promise.race([lines.next(), new Promise((r) => setTimeout(r, 120000).unref())]);
}
await client.quit();
process.exit(0);
