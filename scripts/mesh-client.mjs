#!/usr/bin/env node
// A tiny terminal client built on the SDK (@session-mesh/client): connects with a token, prints
// what arrives, and reconnects like any SDK client (backoff, drain hints) until a session error.
//   npm run -s client -- --token <jwt> [--url ws://127.0.0.1:8080] [--client tab-1]
import { parseArgs } from 'node:util';
import { createClient } from '@session-mesh/client';

const { values } = parseArgs({
  options: {
    token: { type: 'string' },
    url: { type: 'string', default: process.env.MESH_URL ?? 'ws://127.0.0.1:8080' },
    client: { type: 'string' },
  },
});
if (!values.token) {
  process.stderr.write('usage: npm run -s client -- --token <jwt> [--url ws://host:port] [--client id]\n');
  process.exit(2);
}
const client = createClient({
  url: values.url,
  token: values.token,
  storage: null,
  ...(values.client ? { clientId: values.client } : {}),
});
let welcomed = false;
let lastError = '';
client.on('welcome', (w) => {
  welcomed = true;
  process.stdout.write(`control ${JSON.stringify(w)}\n`);
});
client.on('error', (err) => {
  lastError = err.message;
  if (welcomed) process.stderr.write(`error: ${err.message}\n`);
});
client.on('close', (c) => {
  if (!welcomed) {
    // The first attempt failed: a refused token or a wrong URL, not worth retrying from a terminal.
    process.stderr.write(`refused: ${lastError || `${c.code} ${c.reason}`}\n`);
    process.exit(1);
  }
  const next = c.willReconnect ? `, reconnecting in ${c.delayMs} ms` : '';
  process.stdout.write(`closed ${c.code} ${c.reason}${next}\n`);
  if (!c.willReconnect) process.exit(0);
});
client.onSessionError((e) => process.stderr.write(`session error ${e.code}: ${e.reason}\n`));
client.onPush((p) => process.stdout.write(`push ${p.position === undefined ? '' : `@${p.position} `}${p.text()}\n`));
process.on('SIGINT', () => {
  client.close();
  process.exit(0);
});
client.connect().catch(() => undefined);
