#!/usr/bin/env node
// A tiny terminal client: connects with a token and prints what arrives.
//   npm run -s client -- --token <jwt> [--url ws://127.0.0.1:8080] [--client tab-1]
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

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
const url = new URL(values.url);
if (values.client) url.searchParams.set('client', values.client);
const ws = new WebSocket(url, ['session-mesh.v1'], { headers: { authorization: `Bearer ${values.token}` } });
const decoder = new TextDecoder('utf-8', { fatal: false });
ws.on('unexpected-response', (_req, res) => {
  let body = '';
  res.on('data', (c) => (body += c));
  res.on('end', () => {
    process.stderr.write(`refused: HTTP ${res.statusCode} ${body}\n`);
    process.exit(1);
  });
});
ws.on('message', (data, isBinary) => {
  if (!isBinary) {
    process.stdout.write(`control ${data.toString()}\n`);
    return;
  }
  const bytes = new Uint8Array(data);
  if (bytes[0] === 0x01) process.stdout.write(`push ${decoder.decode(bytes.subarray(1))}\n`);
  else process.stdout.write(`binary frame opcode ${bytes[0]} (${bytes.length} bytes)\n`);
});
ws.on('close', (code, reason) => {
  process.stdout.write(`closed ${code} ${reason.toString()}\n`);
  process.exit(0);
});
ws.on('error', (err) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
process.on('SIGINT', () => ws.close(1000));
