// The Socket.IO peer of npm run bench: Socket.IO 4.8, websocket transport only, Redis adapter (run
// two of these on one redis-server). Authenticates like the edge (a JWT in the namespace CONNECT
// auth, verified with node:crypto: HS256 by secret or ES256 by public key), joins each socket to
// the room of its user (the Socket.IO way to push to one user).
//
//   node server.mjs --redis redis://127.0.0.1:6379 (--secret S | --es256-public-key file.pem) [--port 0]
//   GET /stats   {connections, rss, heapUsed}
// Prints {"event":"listening","port":N} on stdout once it accepts connections.
import { createHmac, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    secret: { type: 'string' },
    'es256-public-key': { type: 'string' },
  },
});
const publicKey = opts['es256-public-key'] ? createPublicKey(readFileSync(opts['es256-public-key'])) : undefined;
const secret = opts.secret ? Buffer.from(opts.secret) : undefined;
if (!publicKey && !secret) {
  console.error('socketio-server: give --secret or --es256-public-key');
  process.exit(2);
}

/** The token's claims, or undefined when it is malformed, badly signed or expired. */
function verifyToken(token) {
  if (typeof token !== 'string') return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const signing = `${parts[0]}.${parts[1]}`;
  const sig = Buffer.from(parts[2], 'base64url');
  let ok;
  if (secret) {
    const want = createHmac('sha256', secret).update(signing).digest();
    ok = want.length === sig.length && timingSafeEqual(want, sig);
  } else {
    ok = verify('sha256', Buffer.from(signing), { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
  }
  if (!ok) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof claims.sub !== 'string' || (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now())) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

const pub = createClient({ url: opts.redis });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (err) => console.error(`socketio-server: redis: ${err.message}`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer((req, res) => {
  if (req.url === '/stats') {
    const mem = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ connections: io.engine.clientsCount, rss: mem.rss, heapUsed: mem.heapUsed }));
    return;
  }
  if (!req.url.startsWith('/socket.io/')) {
    res.writeHead(404);
    res.end();
  }
});
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, adapter: createAdapter(pub, sub) });
io.use((socket, next) => {
  const claims = verifyToken(socket.handshake.auth?.token);
  if (!claims) return next(new Error('unauthorized'));
  socket.data.user = claims.sub;
  next();
});
io.on('connection', (socket) => {
  socket.join(socket.data.user);
});

http.listen(Number(opts.port), opts.host, () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: http.address().port, pid: process.pid })}\n`);
});
const stop = () => {
  io.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
