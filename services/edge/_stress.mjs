import uWS from 'uWebSockets.js';
import WebSocket from 'ws';
const MODE = process.argv[2] ?? 'cork';
const N = Number(process.argv[3] ?? 2000);
let opened = 0, badClose = 0;
const app = uWS.App().ws('/*', {
  idleTimeout: 0,
  upgrade: (res, req, ctx) => {
    const key = req.getHeader('sec-websocket-key'), proto = req.getHeader('sec-websocket-protocol'), ext = req.getHeader('sec-websocket-extensions');
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    crypto.subtle.digest('SHA-256', new Uint8Array(8)).then(() => {
      if (aborted) return;
      const ud = { a: 1, b: 'x', c: null, d: 0, e: 0, f: 0, g: 0, h: 0, i: 0 };
      if (MODE === 'cork') res.cork(() => res.upgrade(ud, key, proto, ext, ctx));
      else res.upgrade(ud, key, proto, ext, ctx);
    });
  },
  open: (ws) => { opened++; ws.getUserData().open = true; },
  close: (ws, code) => { if (code === 1006 && !ws.getUserData().clientClosing) badClose++; },
}).listen('127.0.0.1', 0, async (ls) => {
  const port = uWS.us_socket_local_port(ls);
  const garbage = [];
  for (let i = 0; i < N; i++) {
    const batch = await Promise.all([0,1,2].map(() => new Promise((resolve) => {
      const c = new WebSocket(`ws://127.0.0.1:${port}/`);
      let welcome = false;
      c.on('open', () => setTimeout(() => resolve(c), 2));
      c.on('close', () => resolve(c));
      c.on('error', () => {});
    })));
    for (const c of batch) { if (c.readyState === WebSocket.OPEN) c.close(); }
    garbage.push(new Array(Math.floor(Math.random() * 50)).fill('y'.repeat(Math.floor(Math.random()*40))));
    if (garbage.length > 100) garbage.shift();
  }
  await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(`${MODE}: opened ${opened} badClose ${badClose}\n`);
  uWS.us_listen_socket_close(ls);
  process.exit(0);
});
