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

// uWebSockets.js's HTTP parser (C++) leaves bytes it cannot parse unanswered until its own HTTP
// timeout (about 10 s) in the build we can install: a known limit (docs/security.md, finding 9 is
// only partly fixed). What the edge does guarantee, and these tests pin: such a connection never
// gets a 101 or any data, and never holds up a fresh client meanwhile.
describe('bytes that are not HTTP never get a 101 and never hold up other clients', () => {
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
      // A valid client is served while the garbage connection is still open.
      const fresh = await RawConnection.open(live().port);
      try {
        await fresh.write(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: await mintToken({ sub: 'fresh-after-garbage' }) }));
        await fresh.until(() => fresh.controls.some((c) => c['type'] === 'welcome'), PROMPT_MS);
        expect(fresh.http?.status, fresh.describe()).toBe(101);
      } finally {
        fresh.destroy();
      }
      if (conn.http !== undefined) expect(conn.http.status, conn.describe()).toBe(400);
      expect(conn.frames.length, conn.describe()).toBe(0);
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

describe('big tokens (finding 5): any size up to the maximum in one read; segmented requests up to the documented 4 KiB bound', () => {
  const sizes: Array<[string, number]> = [
    ['8 KiB', 8192],
    [`${MAX_TOKEN_CHARS} characters (the documented maximum)`, MAX_TOKEN_CHARS],
  ];
  // uWebSockets.js buffers a request that arrives in several reads in a fixed 4 KiB buffer (compiled
  // in; this build reads no variable for it): past it the connection is closed at once, without an
  // HTTP answer. docs/security.md and docs/protocol.md bound tokens to 3,000 characters for that reason.
  const SEGMENTED_BOUND_TOKEN_CHARS = 3000;
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

  it('a token at the segmented bound, written in 1 KiB pieces with pauses, gets 101 and welcome', async () => {
    const big = await tokenOfLength(SEGMENTED_BOUND_TOKEN_CHARS);
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

  it.each(sizes)('a %s token written in 1 KiB pieces is cut at once (no hang, no 101), as documented', async (_name, chars) => {
    const big = await tokenOfLength(chars);
    const conn = await RawConnection.open(live().port);
    try {
      await conn.writeInPieces(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: big }), 1024, 5).catch(() => undefined);
      await conn.until(() => conn.ended || conn.http !== undefined, PROMPT_MS);
      expect(conn.ended, conn.describe()).toBe(true);
      expect(conn.http?.status, conn.describe()).not.toBe(101);
    } finally {
      conn.destroy();
    }
  });

  it('a token one character over the maximum is refused with 401 UNAUTHORIZED', async () => {
    const tooBig = await tokenOfLength(MAX_TOKEN_CHARS + 1).catch(async () => tokenOfLength(MAX_TOKEN_CHARS + 2));
    const conn = await RawConnection.open(live().port);
    try {
      await conn.write(handshakeRequest({ host: `127.0.0.1:${live().port}`, token: tooBig }));
      await conn.until(() => conn.http !== undefined && conn.body.includes('}'), 5000);
      expect(conn.http?.status, conn.describe()).toBe(401);
      expect(JSON.parse(conn.body)).toMatchObject({ error: 'UNAUTHORIZED' });
    } finally {
      conn.destroy();
    }
  });
});
