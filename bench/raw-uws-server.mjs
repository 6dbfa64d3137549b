// The baseline for bench/run.mjs: plain uWebSockets.js with nothing of Session Mesh in it (no auth,
// no NATS, no per-connection state beyond its slot in an array). Same library and Node as the edge,
// so the difference between the two is what the session layer costs.
//
//   node bench/raw-uws-server.mjs [--port 0] [--host 127.0.0.1] [--broadcast]
//   GET /stats                      {connections, rss, heapUsed, cpu: {user, system}} (µs)
//   GET /push?seconds=10&size=100   targeted sends to one random socket at a time, as fast as
//                                   possible, for `seconds`; answers when done with counts and CPU.
//   GET /broadcast?count=1&size=100 (with --broadcast: every socket subscribes to one topic) app.publish
//                                   of `count` frames to every socket, each carrying the publish time
//                                   ("~t" + Unix ns, as the Go publisher stamps it); answers with CPU.
// Prints {"event":"listening","port":N,"binary":"..."} on stdout once it accepts connections.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);
const binary = Object.keys(require.cache).find((id) => /uws_[^/\\]*\.node$/.test(id));
if (binary === undefined || typeof uWS.SSLApp !== 'function') {
  console.error('raw-uws-server: uWebSockets.js is on its JavaScript fallback (no native uws_*.node loaded); refusing to run');
  process.exit(1);
}

const { values: opts } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, broadcast: { type: 'boolean', default: false } },
});

/** Open sockets; each socket's user data holds its index so close is a swap-remove. */
const sockets = [];
let busy = false;

const app = uWS.App();
app.ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  upgrade: (res, req, context) => {
    const protocol = req.getHeader('sec-websocket-protocol').split(',')[0]?.trim() ?? '';
    res.upgrade(
      { i: -1 },
      req.getHeader('sec-websocket-key'),
      protocol,
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    ws.getUserData().i = sockets.length;
    sockets.push(ws);
    // Opt-in: a topic subscription costs memory, and the memory phase measures the bare socket.
    if (opts.broadcast) ws.subscribe('all');
  },
  close: (ws) => {
    const i = ws.getUserData().i;
    const last = sockets.pop();
    if (last !== ws) {
      sockets[i] = last;
      last.getUserData().i = i;
    }
  },
});

function json(res, status, body) {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body));
  });
}

app.get('/stats', (res) => {
  const mem = process.memoryUsage();
  json(res, '200 OK', { connections: sockets.length, rss: mem.rss, heapUsed: mem.heapUsed, cpu: process.cpuUsage() });
});

app.get('/push', (res, req) => {
  const seconds = Number(new URLSearchParams(req.getQuery() ?? '').get('seconds') ?? '10');
  const size = Number(new URLSearchParams(req.getQuery() ?? '').get('size') ?? '100');
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  if (!(seconds > 0 && seconds <= 60) || !(size >= 1 && size <= 65536) || busy) {
    json(res, '400 Bad Request', { error: busy ? 'a push run is in progress' : 'seconds must be in (0, 60], size in [1, 65536]' });
    return;
  }
  busy = true;
  pushFor(seconds, size).then((result) => {
    busy = false;
    if (!aborted) json(res, '200 OK', result);
  });
});

app.get('/broadcast', (res, req) => {
  const q = new URLSearchParams(req.getQuery() ?? '');
  const count = Number(q.get('count') ?? '1');
  const size = Number(q.get('size') ?? '100');
  if (!opts.broadcast || !(Number.isInteger(count) && count >= 1 && count <= 10000) || !(size >= 24 && size <= 65536)) {
    json(res, '400 Bad Request', { error: opts.broadcast ? 'count must be an integer in [1, 10000], size in [24, 65536]' : 'started without --broadcast' });
    return;
  }
  const frame = Buffer.alloc(size + 1, 0x61);
  frame[0] = 0x01;
  frame.write('~t', 1, 'latin1');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < count; k++) {
    // Unix ns from the monotonic clock (sub-µs precision is lost in the double; µs is what counts).
    const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
    frame.write(ns.toString().padStart(19, '0'), 3, 'latin1');
    app.publish('all', frame, true, false);
  }
  const cpu = process.cpuUsage(cpu0);
  json(res, '200 OK', { count, sockets: sockets.length, publishMs: performance.now() - t0, cpuUserUs: cpu.user, cpuSystemUs: cpu.system });
});

/**
 * Sends [0x01][size bytes] to random sockets for `seconds`, each send corked on its own (what an
 * edge does for a push that arrives from NATS). Yields to the event loop every 5 ms so uWS can
 * drain buffered sockets; skips a socket whose buffer is over 64 KiB instead of piling on.
 */
function pushFor(seconds, size) {
  const frame = Buffer.alloc(size + 1, 0x61);
  frame[0] = 0x01;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const counts = { sent: 0, buffered: 0, dropped: 0, skippedBackpressure: 0 };
  let status = 0;
  let target;
  // One static cork callback, no closure per send (what the edge's fanout does).
  const corked = () => {
    status = target.send(frame, true, false);
  };
  return new Promise((resolve) => {
    const slice = () => {
      const sliceEnd = Math.min(performance.now() + 5, end);
      do {
        for (let k = 0; k < 256 && sockets.length > 0; k++) {
          const ws = sockets[(Math.random() * sockets.length) | 0];
          if (ws.getBufferedAmount() > 64 * 1024) {
            counts.skippedBackpressure++;
            continue;
          }
          target = ws;
          ws.cork(corked);
          if (status === 1) counts.sent++;
          else if (status === 0) counts.buffered++;
          else counts.dropped++;
        }
      } while (performance.now() < sliceEnd && sockets.length > 0);
      if (performance.now() < end && sockets.length > 0) {
        setImmediate(slice);
        return;
      }
      const cpu = process.cpuUsage(cpu0);
      resolve({ ...counts, elapsedMs: performance.now() - t0, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, sockets: sockets.length });
    };
    slice();
  });
}

app.listen(opts.host, Number(opts.port), (listenSocket) => {
  if (!listenSocket) {
    console.error(`raw-uws-server: cannot listen on ${opts.host}:${opts.port}`);
    process.exit(1);
  }
  const port = uWS.us_socket_local_port(listenSocket);
  process.stdout.write(`${JSON.stringify({ event: 'listening', port, binary, pid: process.pid })}\n`);
  const stop = () => {
    uWS.us_listen_socket_close(listenSocket);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
