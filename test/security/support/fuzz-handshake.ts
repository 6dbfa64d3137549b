/**
 * Generated upgrade requests for the edge fuzzer: valid ones bent in ways RFC 6455 section 4 and
 * docs/protocol.md section 1 say must still succeed (header case, extra tokens, token in another
 * source), broken ones that must be refused (method, HTTP version, Upgrade/Connection/Key/Version,
 * tampered or missing token, bad client id), and byte-level mutations whose fate is open but which
 * must still get an answer or a close in bounded time and never a 5xx.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { LiveEdge } from './fuzz-live-edge.js';
import { RawConnection } from './fuzz-wire.js';
import type { Rng } from './fuzz-edge.js';

/** 'accept': must get 101; 'refuse': must get a 4xx; 'any': anything but a 5xx or silence. */
export type HandshakeExpectation = 'accept' | 'refuse' | 'any';

export interface HandshakeCase {
  readonly category: string;
  readonly request: Buffer;
  readonly key: string;
  readonly expect: HandshakeExpectation;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** RFC 6455 4.2.2: the accept value the server must send for a key. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

function safeString(rng: Rng, min: number, max: number): string {
  let s = '';
  const n = rng.range(min, max);
  for (let i = 0; i < n; i++) s += SAFE[rng.int(SAFE.length)];
  return s;
}

function tamper(rng: Rng, token: string): string {
  const at = token.lastIndexOf('.') + 1 + rng.int(20); // inside the signature
  const c = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + c + token.slice(at + 1);
}

interface Parts {
  method: string;
  version: string;
  path: string;
  query: string[];
  headers: Array<[string, string]>;
}

function serialise(p: Parts, lineEnd = '\r\n'): Buffer {
  const target = p.query.length > 0 ? `${p.path}?${p.query.join('&')}` : p.path;
  const lines = [`${p.method} ${target} ${p.version}`, ...p.headers.map(([n, v]) => `${n}: ${v}`)];
  return Buffer.from(`${lines.join(lineEnd)}${lineEnd}${lineEnd}`, 'latin1');
}

const setHeader = (p: Parts, name: string, value: string | undefined) => {
  p.headers = p.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
  if (value !== undefined) p.headers.push([name, value]);
};

export async function generateHandshake(rng: Rng, live: LiveEdge): Promise<HandshakeCase> {
  const token = await live.token();
  const key = rng.chance(0.95) ? randomBytes(16).toString('base64') : randomBytes(rng.pick([8, 15, 17, 32])).toString('base64');
  const keyValid = Buffer.from(key, 'base64').length === 16;
  const p: Parts = {
    method: 'GET',
    version: 'HTTP/1.1',
    path: '/',
    query: [],
    headers: [
      ['Host', `127.0.0.1:${live.port}`],
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', key],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Protocol', 'session-mesh.v1'],
      ['Authorization', `Bearer ${token}`],
    ],
  };
  let expect: HandshakeExpectation = keyValid ? 'accept' : 'refuse';
  let category = keyValid ? 'handshake: valid' : 'handshake: bad key length';

  const roll = rng.int(100);
  if (roll < 25) {
    // Still valid: RFC 6455 header values are case-insensitive tokens; the token may come from another source.
    category = 'handshake: valid variant';
    const variant = rng.int(6);
    if (variant === 0) setHeader(p, 'Upgrade', rng.pick(['WebSocket', 'WEBSOCKET']));
    else if (variant === 1) setHeader(p, 'Connection', rng.pick(['keep-alive, Upgrade', 'upgrade', 'Upgrade, HTTP2-Settings']));
    else if (variant === 2) {
      setHeader(p, 'Authorization', undefined);
      setHeader(p, 'Sec-WebSocket-Protocol', `session-mesh.v1, bearer.${token}`);
    } else if (variant === 3) {
      setHeader(p, 'Authorization', undefined);
      p.query.push(`token=${token}`);
    } else if (variant === 4) p.query.push(`client=${safeString(rng, 1, 128)}`);
    else p.headers = p.headers.map(([n, v]) => [rng.chance(0.5) ? n.toLowerCase() : n.toUpperCase(), v]);
  } else if (roll < 55) {
    // Must be refused.
    expect = 'refuse';
    const broken = rng.int(11);
    const names = ['method', 'HTTP/1.0', 'no Upgrade', 'bad Upgrade', 'no Connection', 'no Key', 'bad Version', 'tampered token', 'no token', 'bad Authorization', 'bad client id'];
    category = `handshake: ${names[broken]}`;
    if (broken === 0) p.method = rng.pick(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT']);
    else if (broken === 1) p.version = 'HTTP/1.0';
    else if (broken === 2) setHeader(p, 'Upgrade', undefined);
    else if (broken === 3) setHeader(p, 'Upgrade', rng.pick(['h2c', 'websockets', 'TLS/1.2', '']));
    else if (broken === 4) setHeader(p, 'Connection', rng.pick([undefined, 'keep-alive', 'close']) as string | undefined);
    else if (broken === 5) setHeader(p, 'Sec-WebSocket-Key', undefined);
    else if (broken === 6) setHeader(p, 'Sec-WebSocket-Version', rng.pick([undefined, '8', '7', '12', '14', '13, 8', 'x']) as string | undefined);
    else if (broken === 7) setHeader(p, 'Authorization', `Bearer ${tamper(rng, token)}`);
    else if (broken === 8) setHeader(p, 'Authorization', undefined);
    else if (broken === 9) setHeader(p, 'Authorization', rng.pick([`Basic ${token}`, 'Bearer', `Bearer ${token} extra`, `Token ${token}`]));
    else p.query.push(`client=${rng.pick(['', 'a'.repeat(129), '%00', 'tab%0A1', '%7F'])}`);
  } else if (roll < 75) {
    // Byte-level mutation of the request head (the terminating blank line is kept, so it is complete).
    expect = 'any';
    category = 'handshake: mutated bytes';
    const head = serialise(p);
    const body = Buffer.from(head.subarray(0, head.length - 4));
    for (let i = rng.range(1, 6); i > 0; i--) {
      const at = rng.int(body.length);
      body[at] = rng.chance(0.5) ? body[at]! ^ (1 << rng.int(8)) : rng.pick([0x00, 0x0a, 0x0d, 0x20, 0x3a, 0x22, 0x25, 0x7f, 0xff, 0x2c, 0x3b]);
    }
    return { category, request: Buffer.concat([body, Buffer.from('\r\n\r\n')]), key, expect };
  } else if (roll < 90) {
    // Structural oddities with an open outcome.
    expect = 'any';
    const odd = rng.int(7);
    category = `handshake: ${['LF line ends', 'duplicate headers', 'long header', 'odd path', 'odd query', 'odd cookie', 'unknown method'][odd]}`;
    if (odd === 0) return { category, request: serialise(p, '\n'), key, expect };
    if (odd === 1) p.headers.push(['Authorization', `Bearer ${await live.token()}`], ['Sec-WebSocket-Key', randomBytes(16).toString('base64')]);
    else if (odd === 2) p.headers.push([`X-${safeString(rng, 1, 20)}`, 'v'.repeat(rng.range(100, 6000))]);
    else if (odd === 3) p.path = rng.pick(['/../../etc/passwd', '//', '/%00', '/a?b?c', `/${'a'.repeat(3000)}`, '*', 'http://evil.example/']);
    else if (odd === 4) p.query.push(rng.pick(['client', 'client=%', 'client=%zz', 'token=&token=x', '&&&', 'client=a&client=b', `client=${'%e2%82'}`]));
    else if (odd === 5) p.headers.push(['Cookie', rng.pick(['mesh_token=', 'mesh_token="', `mesh_token=%${token}`, ';;;=', 'mesh_token=a; mesh_token=b'])]);
    else p.method = rng.pick(['BREW', 'get', 'G\u00c9T', 'PRI']); // 400, 501 or a close are all fine: not silence
  }
  return { category, request: serialise(p), key, expect };
}

const UWS_UNPARSED = ['HTTP/1.0', 'LF line ends', 'mutated bytes', 'odd path'];

/** Runs one generated handshake; returns what was wrong with the answer, or undefined. */
export async function runHandshake(live: LiveEdge, c: HandshakeCase, reactionMs: number): Promise<string | undefined> {
  const conn = await RawConnection.open(live.port);
  try {
    await conn.write(c.request);
    await conn.answer(reactionMs);
    const status = conn.http?.status;
    const what = () => `${c.category}: expected ${c.expect}, got ${conn.describe()} | request ${JSON.stringify(c.request.toString('latin1').slice(0, 300))}`;
    // uWebSockets.js's HTTP parser (C++) leaves requests it cannot parse (HTTP/1.0, bare LF line ends,
    // mangled request lines or headers) unanswered until its own HTTP timeout (about 10 s): a known
    // limit of the build we can install (docs/security.md). Tolerated for those, never a 101.
    if (status === undefined && !conn.ended) return UWS_UNPARSED.some((k) => c.category.includes(k)) ? undefined : `no answer and no close within ${reactionMs} ms: ${what()}`;
    // 5xx means the server failed on input it should have judged; 501 is the right answer to an unknown method.
    if (status !== undefined && status >= 500 && !(status === 501 && c.category === 'handshake: unknown method')) return what();
    if (status === 101 && conn.http!.headers['sec-websocket-accept'] !== acceptFor(c.key) && c.expect !== 'any') return `wrong Sec-WebSocket-Accept: ${what()}`;
    if (c.expect === 'accept' && status !== 101) return what();
    if (c.expect === 'refuse' && (status === undefined || status < 400 || status >= 500)) return what();
    return undefined;
  } finally {
    conn.destroy();
  }
}
