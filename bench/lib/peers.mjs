// The peers of `npm run bench` (bench/run.mjs), each started in its real topology on loopback and
// described by one object, so the memory and push phases drive every peer the same way:
//
//   { kind, label, urls, loadgenArgs,            where and how the Go load generator connects
//     servers: [{ name, pid, readStats?() }],    the processes whose memory and CPU are "the server"
//     support: { name: pid },                    the rest of the topology (Redis, nats-server)
//     gc(),                                      full collections in every server process
//     publisher({users, size, seconds, warmup,   a publisher process speaking the Go publisher's
//       window, creditSocket, rate, seed, count, stdout/stdin protocol (connected, warmed, go, done);
//       broadcast, waitGo, name}),               broadcast: to every socket (broadcastLoadgenArgs)
//     broadcastLoadgenArgs,                      what a socket needs to receive broadcasts
//     auth,                                      how its sockets authenticate (the connect storm)
//     prepareKill(), kill(user), killApi,        the peer's own "disconnect this user now" server call
//                                                (capacity-<peer> times it like the edge's admin kill)
//     stop() }
// ctx.nodes asks for more server processes than the usual topology (2 Socket.IO processes, 1 Centrifugo
// node): the capacity phases spread 100,000 sockets over as many processes as the edges get.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { forceGc, freePort, getJson, startNats, tcpReachable, until } from './services.mjs';

/** The channel every Centrifugo socket of the broadcast phase is subscribed to (its token's "channels" claim). */
const BROADCAST_CHANNEL = 'all';

export const PEERS = {
  socketio: 'Socket.IO 4.8 + Redis adapter (2 processes + redis-server)',
  'centrifugo-memory': 'Centrifugo v6.9.1, memory broker',
  'centrifugo-nats': 'Centrifugo v6.9.1, NATS broker',
};

/**
 * How many server processes a peer can spread its sockets over: Centrifugo's memory broker does not
 * connect nodes (a disconnect or publish reaches one node's clients only), so it is one node.
 */
export function peerMaxNodes(kind) {
  return kind === 'centrifugo-memory' ? 1 : Infinity;
}

/**
 * ctx: { procs, root, loadgen, natsServer, centrifugo?, centrifugoMissing?, redisServer?, redisMissing?,
 * tmp, secret (HS256), payloadBytes, nodes? }. Throws (with the reason) when the peer is not available.
 */
export async function startPeer(kind, ctx) {
  const missing = peerMissing(kind, ctx);
  if (missing) throw Object.assign(new Error(missing), { unavailable: true });
  const dir = join(ctx.tmp, `${kind}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  if (kind === 'socketio') return startSocketio(ctx, dir);
  if (kind === 'centrifugo-memory' || kind === 'centrifugo-nats') return startCentrifugo(kind, ctx, dir);
  throw new Error(`unknown peer ${kind}`);
}

/** Publisher options shared by both publishers (Go and Node spell them alike, but for the dash count). */
function publisherOptions(o, dash) {
  const opt = (name, v) => (v === undefined || v === 0 || v === '' ? [] : [`${dash}${name}`, String(v)]);
  return [
    ...opt('users', o.users), ...opt('size', o.size), ...opt('warmup', o.warmup), ...opt('window', o.window),
    ...opt('credit-socket', o.creditSocket), ...opt('rate', o.rate), ...opt('seed', o.seed), ...opt('count', o.count),
    ...(o.waitGo === false ? [] : [`${dash}wait-go`]),
  ];
}

/** Why a peer cannot run here (not installed, not built), or undefined. Not a bench failure: the doc names it. */
function peerMissing(kind, ctx) {
  if (kind === 'socketio') {
    if (!ctx.redisServer) return `Socket.IO peer not run: no redis-server (${ctx.redisMissing ?? 'not installed'})`;
    const sio = join(ctx.root, 'bench/peers/socketio');
    if (!existsSync(join(sio, 'node_modules/socket.io'))) return `Socket.IO peer not run: ${sio}/node_modules is missing (scripts/bench.sh runs npm ci there)`;
  }
  if (kind.startsWith('centrifugo') && !ctx.centrifugo) return `Centrifugo not built: ${ctx.centrifugoMissing ?? 'scripts/install-centrifugo.sh failed'}`;
  return undefined;
}

async function startSocketio(ctx, dir) {
  const { procs, root } = ctx;
  const sio = join(root, 'bench/peers/socketio');
  const redisPort = await freePort();
  const redis = procs.start('redis', ctx.redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  await until(() => tcpReachable(redisPort), { timeoutMs: 15000, what: 'redis-server port', proc: redis });
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const servers = [];
  const names = Array.from({ length: ctx.nodes ?? 2 }, (_, i) => `socketio-${String.fromCharCode(97 + i)}`);
  for (const name of names) {
    const inspectPort = await freePort();
    const proc = procs.start(name, process.execPath, [`--inspect=127.0.0.1:${inspectPort}`, join(sio, 'server.mjs'), '--redis', redisUrl, '--secret', ctx.secret], {
      cwd: sio,
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const msg = await proc.waitFor((m) => m.event === 'listening', 20000, 'the listening line');
    const base = `http://127.0.0.1:${msg.port}`;
    servers.push({ name, proc, pid: proc.pid, port: msg.port, inspectPort, base, readStats: () => getJson(`${base}/stats`) });
  }
  let emitterClient;
  let emitter;
  const killEmitter = async () => {
    if (emitter) return emitter;
    const require = createRequire(join(sio, 'package.json'));
    const { Emitter } = require('@socket.io/redis-emitter');
    const { createClient } = require('redis');
    emitterClient = createClient({ url: redisUrl });
    await emitterClient.connect();
    emitter = new Emitter(emitterClient);
    return emitter;
  };
  return {
    kind: 'socketio',
    label: PEERS.socketio,
    urls: servers.map((s) => `ws://127.0.0.1:${s.port}/socket.io/?EIO=4&transport=websocket`),
    loadgenArgs: ['-proto', 'socketio', '-secret', ctx.secret, '-subprotocol', '', '-client-prefix', ''],
    servers,
    support: { redis: redis.pid },
    gcMethod: 'HeapProfiler.collectGarbage through the inspector, twice',
    gc: () => Promise.all(servers.map((s) => forceGc(s.inspectPort))),
    publisher: (o) =>
      procs.start(
        o.name ?? 'publisher',
        process.execPath,
        [join(sio, 'publisher.mjs'), '--redis', redisUrl, '--seconds', String(o.seconds), ...publisherOptions(o, '--'), ...(o.broadcast ? ['--broadcast'] : [])],
        { cwd: sio, stdin: o.waitGo !== false },
      ),
    publisherKind: 'Node, @socket.io/redis-emitter (emitter.to(user room).emit)',
    broadcastPublisherKind: 'Node, @socket.io/redis-emitter (emitter.emit: every socket of the namespace, a process per publish call)',
    broadcastLoadgenArgs: [],
    auth: 'HS256 JWT in the namespace CONNECT auth ({token}), verified with node:crypto in an io.use middleware (bench/peers/socketio/server.mjs)',
    // The emitter is loaded lazily from the peer's own node_modules (the bench's root does not depend on it).
    prepareKill: () => killEmitter(),
    kill: async (user) => (await killEmitter()).in(user).disconnectSockets(true),
    killApi: '@socket.io/redis-emitter `emitter.in(<user room>).disconnectSockets(true)` from the bench process (a Redis PUBLISH on the adapter\'s request channel; it returns nothing, so there is no answer to time)',
    stop: async () => {
      if (emitterClient) await emitterClient.quit().catch(() => undefined);
      await Promise.all(servers.map((s) => s.proc.stop()));
      await redis.stop();
    },
  };
}

async function startCentrifugo(kind, ctx, dir) {
  const { procs } = ctx;
  const nodes = ctx.nodes ?? 1;
  if (nodes > peerMaxNodes(kind)) throw new Error(`${kind}: at most ${peerMaxNodes(kind)} node(s), ${nodes} asked`);
  const apiKey = randomBytes(16).toString('hex');
  let nats;
  if (kind === 'centrifugo-nats') nats = await startNats(procs, { bin: ctx.natsServer, dir: join(dir, 'nats') });
  const servers = [];
  for (let i = 0; i < nodes; i++) {
    const [port, internalPort] = await Promise.all([freePort(), freePort()]);
    const config = {
      log: { level: 'error' },
      http_server: { address: '127.0.0.1', port, internal_address: '127.0.0.1', internal_port: String(internalPort) },
      client: {
        token: { hmac_secret_key: ctx.secret },
        // A server-side personal channel per user (personal:#<user>): Centrifugo's targeted push.
        subscribe_to_user_personal_channel: { enabled: true, personal_channel_namespace: 'personal' },
      },
      // Broadcast: the tokens of the broadcast phase carry "channels": ["all"] (a server-side subscription).
      channel: { namespaces: [{ name: 'personal' }] },
      http_api: { key: apiKey },
      // pprof on the internal port: /debug/pprof/heap?gc=1 runs a full GC (the "after GC" reading).
      debug: { enabled: true },
    };
    if (nats) {
      // Raw mode: subject cf.<channel with ':' as '.'> carries the payload as it is, so the same Go
      // publisher feeds Centrifugo over NATS as it feeds the edges. Control messages (a disconnect
      // sent to one node) reach the other nodes over the same nats-server.
      config.broker = { enabled: true, type: 'nats', nats: { url: nats.url, raw_mode: { enabled: true, prefix: 'cf.', channel_replacements: { ':': '.' } } } };
    }
    const configPath = join(dir, `centrifugo-${i}.json`);
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    // The first node keeps the name the other phases' results use.
    const name = i === 0 ? 'centrifugo' : `centrifugo-${i + 1}`;
    const proc = procs.start(nodes === 1 ? kind : `${kind}-${i + 1}`, ctx.centrifugo, ['--config', configPath]);
    await until(() => tcpReachable(port), { timeoutMs: 20000, what: `${kind} port`, proc });
    await until(() => tcpReachable(internalPort), { timeoutMs: 20000, what: `${kind} internal port`, proc });
    servers.push({ name, proc, pid: proc.pid, port, internal: `http://127.0.0.1:${internalPort}` });
  }
  const { internal } = servers[0];
  const via = nats
    ? ['-nats', nats.url, '-subject-prefix', 'cf.personal.#', '-subject-encoding', 'plain']
    : ['-http-api', `${internal}/api`, '-api-key', apiKey, '-channel-prefix', 'personal:#'];
  // Broadcasts through the HTTP API go one per request (see bench/loadgen/centrifugo_api.go).
  const viaBroadcast = nats ? ['-nats', nats.url, '-subject', `cf.${BROADCAST_CHANNEL}`] : ['-http-api', `${internal}/api`, '-api-key', apiKey, '-channel', BROADCAST_CHANNEL, '-batch', '1'];
  return {
    kind,
    label: PEERS[kind],
    urls: servers.map((s) => `ws://127.0.0.1:${s.port}/connection/websocket`),
    loadgenArgs: ['-proto', 'centrifugo', '-secret', ctx.secret, '-subprotocol', '', '-client-prefix', ''],
    servers,
    support: nats ? { nats: nats.proc.pid } : {},
    gcMethod: 'runtime.GC() through GET /debug/pprof/heap?gc=1',
    gc: () =>
      Promise.all(
        servers.map(async (s) => {
          const res = await fetch(`${s.internal}/debug/pprof/heap?gc=1`, { signal: AbortSignal.timeout(30000) });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`${s.name} pprof heap?gc=1: HTTP ${res.status}`);
        }),
      ),
    publisher: (o) =>
      procs.start(
        o.name ?? 'publisher',
        ctx.loadgen,
        ['publish', ...(o.broadcast ? viaBroadcast : via), '-duration', `${o.seconds}s`, ...publisherOptions(o, '-')],
        { stdin: o.waitGo !== false },
      ),
    publisherKind: nats ? 'Go, nats.go, raw-mode subjects cf.personal.#<user>' : 'Go, HTTP server API /api/batch (500 publish commands per request)',
    broadcastPublisherKind: nats
      ? `Go, nats.go, one message on raw-mode subject cf.${BROADCAST_CHANNEL} per broadcast (a process per publish call)`
      : `Go, HTTP server API /api/batch, one publish to channel "${BROADCAST_CHANNEL}" per request and broadcast (a process per publish call)`,
    broadcastLoadgenArgs: ['-claims', JSON.stringify({ channels: [BROADCAST_CHANNEL] })],
    auth: 'HS256 JWT in the connect command (client.token.hmac_secret_key), then the server-side personal channel subscription',
    prepareKill: async () => {},
    // The server API's disconnect, sent to the first node (the others get it as a control message over NATS).
    kill: async (user) => {
      const res = await fetch(`${internal}/api/disconnect`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify({ user }), signal: AbortSignal.timeout(10000),
      });
      const body = await res.text();
      if (!res.ok || body.includes('"error"')) throw new Error(`${kind} /api/disconnect of ${user}: HTTP ${res.status} ${body.slice(0, 300)}`);
    },
    killApi: `HTTP server API \`POST /api/disconnect\` {"user": <user>} with the API key, on the first node${nodes > 1 ? ' (the other nodes get it as a control message over NATS)' : ''}`,
    stop: async () => {
      await Promise.all(servers.map((s) => s.proc.stop()));
      if (nats) await nats.proc.stop();
    },
  };
}
