/**
 * Upgrade abuse over raw TCP (issue 7, findings 5 and 9): broken handshakes must be refused with
 * the answer RFC 6455 prescribes, bytes that are not HTTP at all must be answered or dropped at once
 * (not left to the idle timeout), and valid upgrades carrying big tokens must succeed however the
 * network segments them.
 */
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_CHARS } from '@session-mesh/auth';
import { mintToken } from '../support/tokens.js';
import { liveEdgePerFile } from './support/fuzz-live-edge.js';
import { handshakeRequest, RawConnection } from './support/fuzz-wire.js';

/**
 * "Promptly": well under uWebSockets.js's HTTP idle timeout (10 s), which is what today's edge
 * waits for. A bound on correctness (the edge reacts to the bytes, not to a timer), not a speed target.
 */
const PROMPT_MS = 4000;

const live = liveEdgePerFile();

async function upgradeWith(headers: Record<string, string | null>): Promise<RawConnection> {
  const conn = await RawConnection.open(live().port);
  await conn.write(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: await live().token(), headers }));
  await conn.answer(PROMPT_MS);
  return conn;
}

describe('handshakes that break RFC 6455 section 4.2.1 are refused, never switched', () => {
  it.each([
    ['without Upgrade', { Upgrade: null }],
    ['without Connection', { Connection: null }],
    ['with Upgrade: h2c', { Upgrade: 'h2c' }],
    ['with Connection: keep-alive only', { Connection: 'keep-alive' }],
    ['without Sec-WebSocket-Key', { 'Sec-WebSocket-Key': null }],
  ])('%s: 400 (or 426), not 101', async (_name, headers) => {
    const conn = await upgradeWith(headers);
    try {
      expect(conn.http?.status, conn.describe()).not.toBe(101);
      expect([400, 426], conn.describe()).toContain(conn.http?.status);
      if (conn.http?.status === 426) expect(conn.http.headers['sec-websocket-version'], conn.describe()).toBe('13');
    } finally {
      conn.destroy();
    }
  });

  it.each([
    ['without Sec-WebSocket-Version', { 'Sec-WebSocket-Version': null }],
    ['with Sec-WebSocket-Version: 8', { 'Sec-WebSocket-Version': '8' }],
    ['with Sec-WebSocket-Version: 14', { 'Sec-WebSocket-Version': '14' }],
  ])('%s: 426 (or 400) naming the supported version 13 (RFC 6455 4.4)', async (_name, headers) => {
    const conn = await upgradeWith(headers);
    try {
      expect(conn.http?.status, conn.describe()).not.toBe(101);
      expect([400, 426], conn.describe()).toContain(conn.http?.status);
      expect(conn.http?.headers['sec-websocket-version'], conn.describe()).toBe('13');
    } finally {
      conn.destroy();
    }
  });

  it('the same handshake with every header in place is switched (the refusals above are about the headers)', async () => {
    const conn = await upgradeWith({});
    try {
      expect(conn.http?.status, conn.describe()).toBe(101);
      expect(conn.http?.headers['sec-websocket-protocol']).toBe('session-mesh.v1');
    } finally {
      conn.destroy();
    }
  });
});

/** The first bytes a real TLS client sends (its ClientHello), captured from node:tls. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const first = new Promise<Buffer>((resolve) => server.once('connection', (socket) => socket.once('data', (chunk: Buffer) => resolve(chunk))));
  const client = tls.connect({ port, host: '127.0.0.1', servername: 'edge.example.com', rejectUnauthorized: false });
  client.on('error', () => undefined);
  const hello = await first;
  client.destroy();
  server.close();
  return hello;
}

describe('bytes that are not HTTP get an answer or a close at once, not at the idle timeout', () => {
  const cases: Array<[string, () => Promise<Buffer>]> = [
    ['a TLS ClientHello on the plain port', captureClientHello],
    ['binary garbage', async () => Buffer.from([0x00, 0xff, 0x13, 0x37, 0x00, 0x0d, 0x0a, 0x0d, 0x0a, 0xfe, 0x80, 0x00])],
    ['a garbage request line ending in CRLFCRLF', async () => Buffer.from('\x7fELF\x02\x01 not http at all\r\n\r\n')],
    ['an SSH banner', async () => Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n')],
  ];
  it.each(cases)('%s', async (_name, bytes) => {
    const conn = await RawConnection.open(live().port);
    try {
      await conn.write(await bytes());
      await conn.until(() => conn.http !== undefined, PROMPT_MS);
      const reacted = conn.http !== undefined || conn.ended;
      expect(reacted, `within ${PROMPT_MS} ms: ${conn.describe()}`).toBe(true);
      if (conn.http !== undefined) expect(conn.http.status, conn.describe()).toBe(400);
    } finally {
      conn.destroy();
    }
  });
});

/** A valid token of exactly `chars` characters: identity providers put group lists in tokens. */
async function tokenOfLength(chars: number): Promise<string> {
  // Same claims every time (a UUID jti and a 10-digit iat have fixed lengths); only the padding varies.
  const mint = (pad: number) => mintToken({ sub: 'big-token-user', claims: { groups: 'g'.repeat(pad) } });
  // Each padding byte adds 4/3 characters to the base64url payload: search the lengths around the estimate.
  const estimate = Math.floor(((chars - (await mint(0)).length) * 3) / 4);
  for (let pad = Math.max(0, estimate - 4); pad <= estimate + 4; pad++) {
    const candidate = await mint(pad);
    if (candidate.length === chars) return candidate;
  }
  throw new Error(`no token of exactly ${chars} characters near padding ${estimate}`);
}

describe('valid upgrades with big tokens succeed however the request is segmented (finding 5)', () => {
  const sizes: Array<[string, number]> = [
    ['8 KiB', 8192],
    [`${MAX_TOKEN_CHARS} characters (the documented maximum)`, MAX_TOKEN_CHARS],
  ];
  it.each(sizes)('a %s token written in one piece gets 101 and welcome', async (_name, chars) => {
    const big = await tokenOfLength(chars);
    expect(big.length).toBe(chars);
    const conn = await RawConnection.open(live().port);
    try {
      await conn.write(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: big }));
      await conn.until(() => conn.controls.some((c) => c['type'] === 'welcome'), 5000);
      expect(conn.http?.status, conn.describe()).toBe(101);
      expect(conn.controls[0], conn.describe()).toMatchObject({ type: 'welcome', user: 'big-token-user' });
    } finally {
      conn.destroy();
    }
  });

  it.each(sizes)('a %s token written in 1 KiB pieces with pauses gets 101 and welcome', async (_name, chars) => {
    const big = await tokenOfLength(chars);
    const conn = await RawConnection.open(live().port);
    try {
      await conn.writeInPieces(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: big }), 1024, 5);
      await conn.until(() => conn.controls.some((c) => c['type'] === 'welcome'), 5000);
      expect(conn.http?.status, conn.describe()).toBe(101);
      expect(conn.controls[0], conn.describe()).toMatchObject({ type: 'welcome', user: 'big-token-user' });
    } finally {
      conn.destroy();
    }
  });

  it('a token one character over the maximum is refused with 401 UNAUTHORIZED, in pieces too', async () => {
    const tooBig = await tokenOfLength(MAX_TOKEN_CHARS + 1).catch(async () => tokenOfLength(MAX_TOKEN_CHARS + 2));
    const conn = await RawConnection.open(live().port);
    try {
      await conn.writeInPieces(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: tooBig }), 1024, 5);
      await conn.until(() => conn.http !== undefined && conn.body.includes('}'), 5000);
      expect(conn.http?.status, conn.describe()).toBe(401);
      expect(JSON.parse(conn.body)).toMatchObject({ error: 'UNAUTHORIZED' });
    } finally {
      conn.destroy();
    }
  });
});
