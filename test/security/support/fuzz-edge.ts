/**
 * A seeded black-box fuzzer for a live edge's wire surface. Each "session" is one authenticated raw
 * connection that sends a few generated frames (valid, mutated, random, fragmented, pings) and may
 * end with a terminal case (a framing violation, an oversized or invalid-UTF-8 message, a close, a
 * flood). The expected answer of every frame is computed from docs/protocol.md and RFC 6455 by the
 * small classifier below, written independently of libs/protocol. After each batch of sessions the
 * edge must be alive, healthy, and serve a fresh client end to end (LiveEdge.check).
 *
 * Generated upgrade requests (support/fuzz-handshake.ts) run beside the sessions in every batch.
 *
 * Counts: cases (frames, floods and handshakes sent), crashes (edge exit or failed check), wrong answers
 * (sessions whose answers differ from the expected ones), per category.
 */
import { performance } from 'node:perf_hooks';
import { generateHandshake, runHandshake, type HandshakeCase } from './fuzz-handshake.js';
import type { LiveEdge } from './fuzz-live-edge.js';
import { ABNORMAL_CLOSURE, closePayload, encodeFrame, openWelcomed, WsOpcode, type RawConnection } from './fuzz-wire.js';

// ------------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): the same seed replays the same cases.

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ------------------------------------------------------------------------------------------------
// Expected answers, from docs/protocol.md section 2 (independent of libs/protocol/src/frames.ts).

const TOPIC_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const isTopicByte = (b: number) => b < 128 && TOPIC_CHARS.includes(String.fromCharCode(b));

/** What the edge must answer to one complete client message. */
export type Expected =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'error'; readonly codes: readonly string[]; readonly id?: number }
  /** A REQUEST to a topic no backend serves: exactly one answer with its id. */
  | { readonly kind: 'request'; readonly id: number };

function topicProblem(bytes: Uint8Array, at: number): boolean {
  if (bytes.length < at + 1) return true;
  const len = bytes[at]!;
  if (len < 1 || len > 64 || bytes.length < at + 1 + len) return true;
  for (let i = at + 1; i <= at + len; i++) if (!isTopicByte(bytes[i]!)) return true;
  return false;
}

export function expectBinary(bytes: Uint8Array): Expected {
  const bad = ['BAD_FRAME', 'BAD_TOPIC'];
  if (bytes.length === 0) return { kind: 'error', codes: bad };
  if (bytes[0] === 0x02) return topicProblem(bytes, 1) ? { kind: 'error', codes: bad } : { kind: 'nothing' };
  if (bytes[0] === 0x03) {
    if (bytes.length < 5) return { kind: 'error', codes: bad };
    const id = ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
    return topicProblem(bytes, 5) ? { kind: 'error', codes: bad, id } : { kind: 'request', id };
  }
  return { kind: 'error', codes: ['BAD_FRAME'] };
}

export function expectText(text: string): Expected {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'error', codes: ['BAD_FRAME'] };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const frame = value as Record<string, unknown>;
    // A refresh with a token that is not a valid JWT of ours: REFRESH_FAILED, the connection lives on.
    if (frame['type'] === 'refresh' && typeof frame['token'] === 'string' && frame['token'].length > 0) return { kind: 'error', codes: ['REFRESH_FAILED'] };
  }
  return { kind: 'error', codes: ['BAD_FRAME'] };
}

// ------------------------------------------------------------------------------------------------
// Generators.

export interface Step {
  readonly category: string;
  /** Wire bytes to write (one or more WebSocket frames). */
  readonly wire: Buffer;
  readonly expected: Expected;
  /** A ping whose pong must echo this payload. */
  readonly pong?: Buffer;
}

export interface Terminal {
  readonly category: string;
  readonly wire: Buffer;
  /** Close codes that are right; 'open' means the connection may stay open. */
  readonly allowed: ReadonlyArray<number | 'open'>;
  /** Stop reading while writing (a client that never reads). */
  readonly unread?: boolean;
  /**
   * A protocol violation: RFC 6455 7.1.7 says the server SHOULD send a close frame (1002) before
   * closing; ending the connection without a status (a bare TCP close, 1006, or an empty close
   * frame, 1005) is tolerated and counted separately as a lenient close.
   */
  readonly violation?: boolean;
  /** An error frame that must come before a close with the first allowed code. */
  readonly errorBeforeClose?: string;
  /**
   * Decided inside uWebSockets.js (C++) before the edge sees anything, and wrong in the build we can
   * install (docs/security.md, "Known limits"): invalid UTF-8 ends with a bare close (1006) instead
   * of 1007; unmasked client frames are not refused. Counted as lenient, not as wrong; the batch's
   * health checks still require the edge to stay alive and serve a fresh client.
   */
  readonly uwsLimitation?: boolean;
}

function randomTopic(rng: Rng): string {
  let t = '';
  const n = rng.range(1, rng.chance(0.1) ? 64 : 12);
  for (let i = 0; i < n; i++) t += TOPIC_CHARS[rng.int(TOPIC_CHARS.length)];
  return t;
}

function validBinary(rng: Rng, requestId: number): Uint8Array {
  const topic = Buffer.from(randomTopic(rng), 'ascii');
  const payload = rng.bytes(rng.chance(0.8) ? rng.int(64) : rng.int(2048));
  if (rng.chance(0.5)) return Buffer.concat([Buffer.from([0x02, topic.length]), topic, payload]);
  const head = Buffer.alloc(6);
  head[0] = 0x03;
  head.writeUInt32BE(requestId >>> 0, 1);
  head[5] = topic.length;
  return Buffer.concat([head, topic, payload]);
}

function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let bytes = Buffer.from(input);
  const rounds = rng.range(1, 4);
  for (let r = 0; r < rounds; r++) {
    const at = bytes.length === 0 ? 0 : rng.int(bytes.length);
    switch (rng.int(7)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << rng.int(8));
        break;
      case 1: // interesting byte
        if (bytes.length > 0) bytes[at] = rng.pick([0x00, 0x01, 0x02, 0x03, 0x04, 0x2e, 0x2a, 0x3e, 0x20, 0x40, 0x41, 0x7f, 0x80, 0xff]);
        break;
      case 2: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 3: // insert random bytes
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.bytes(rng.range(1, 8))), bytes.subarray(at)]);
        break;
      case 4: // delete a range
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + rng.range(1, 8))]);
        break;
      case 5: // topic length byte set to a boundary
        if (bytes.length > 1) bytes[bytes[0] === 0x03 && bytes.length > 5 ? 5 : 1] = rng.pick([0, 1, 63, 64, 65, 255]);
        break;
      default: // duplicate a slice
        bytes = Buffer.concat([bytes, bytes.subarray(at, at + rng.range(1, 16))]);
    }
  }
  return bytes;
}

const INVALID_UTF8: readonly number[][] = [[0x80], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xe2, 0x82]];

function randomText(rng: Rng): string {
  const forms = [
    () => JSON.stringify({ type: 'refresh', token: rng.chance(0.5) ? 'x'.repeat(rng.range(1, 40)) : `eyJ${Buffer.from(rng.bytes(30)).toString('base64url')}` }),
    () => JSON.stringify({ type: rng.pick(['welcome', 'error', 'refreshed', 'ping', '', 'REFRESH', 'refresh ']) }),
    () => JSON.stringify({ type: 'refresh', token: rng.pick([0, null, '', [], {}, true]) }),
    () => JSON.stringify(rng.pick([null, 1, 'refresh', [], [{ type: 'refresh' }], true])),
    () => '{"type":"refresh","token":"a"'.slice(0, rng.int(30)),
    () => Array.from({ length: rng.int(40) }, () => String.fromCodePoint(rng.pick([0x20 + rng.int(95), 0xe9, 0x4e2d, 0x1f600, 0]))).join(''),
    () => `{"__proto__":{"type":"refresh"},"constructor":{"prototype":{"token":"x"}}}`,
    () => '['.repeat(rng.range(1, 5000)),
  ];
  return rng.pick(forms)();
}

/** Splits one message into fragments (data frame, then continuations), sometimes with pings between. */
function fragmented(rng: Rng, opcode: number, payload: Uint8Array): Buffer {
  const cuts = rng.range(1, Math.min(6, Math.max(1, payload.length)));
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < cuts; i++) {
    const end = i === cuts - 1 ? payload.length : rng.range(at, payload.length);
    parts.push(encodeFrame({ opcode: i === 0 ? opcode : WsOpcode.CONTINUATION, payload: payload.subarray(at, end), fin: i === cuts - 1 }));
    if (i < cuts - 1 && rng.chance(0.3)) parts.push(encodeFrame({ opcode: WsOpcode.PING, payload: Buffer.from('mid') }));
    at = end;
  }
  return Buffer.concat(parts);
}

export function generateStep(rng: Rng, requestId: number): Step {
  const roll = rng.int(100);
  if (roll < 15) {
    const bytes = validBinary(rng, requestId);
    return { category: 'valid binary', wire: encodeFrame({ opcode: WsOpcode.BINARY, payload: bytes }), expected: expectBinary(bytes) };
  }
  if (roll < 45) {
    const bytes = mutate(rng, validBinary(rng, requestId));
    return { category: 'mutated binary', wire: encodeFrame({ opcode: WsOpcode.BINARY, payload: bytes }), expected: expectBinary(bytes) };
  }
  if (roll < 55) {
    const bytes = rng.bytes(rng.int(rng.chance(0.9) ? 32 : 3000));
    return { category: 'random binary', wire: encodeFrame({ opcode: WsOpcode.BINARY, payload: bytes }), expected: expectBinary(bytes) };
  }
  if (roll < 70) {
    const text = randomText(rng);
    return { category: 'text control', wire: encodeFrame({ opcode: WsOpcode.TEXT, payload: Buffer.from(text) }), expected: expectText(text) };
  }
  if (roll < 85) {
    if (rng.chance(0.5)) {
      const bytes = rng.chance(0.5) ? validBinary(rng, requestId) : mutate(rng, validBinary(rng, requestId));
      return { category: 'fragmented binary', wire: fragmented(rng, WsOpcode.BINARY, bytes), expected: expectBinary(bytes) };
    }
    const text = Buffer.from(randomText(rng));
    return { category: 'fragmented text', wire: fragmented(rng, WsOpcode.TEXT, text), expected: expectText(text.toString('utf8')) };
  }
  // A ping must be answered by a pong with the same payload (RFC 6455 5.5.2).
  const payload = Buffer.from(rng.bytes(rng.int(126)));
  return { category: 'ping', wire: encodeFrame({ opcode: WsOpcode.PING, payload }), expected: { kind: 'nothing' }, pong: payload };
}

export function generateTerminal(rng: Rng, maxMessageBytes: number): Terminal {
  const PROTOCOL = 1002;
  const roll = rng.int(11);
  switch (roll) {
    case 0: {
      const bad = Buffer.from(rng.pick(INVALID_UTF8));
      const text = Buffer.concat([Buffer.from('{"type":"refresh","token":"'), bad, Buffer.from('"}')]);
      return { category: 'invalid UTF-8 text', wire: rng.chance(0.5) ? encodeFrame({ opcode: WsOpcode.TEXT, payload: text }) : fragmented(rng, WsOpcode.TEXT, text), allowed: [1007], uwsLimitation: true };
    }
    case 1: {
      // docs/protocol.md: over the limit, TOO_LARGE then 1009; past twice the limit uWebSockets.js
      // cuts the connection itself (1006), which is documented and tolerated.
      const beyond = rng.chance(0.3);
      const size = beyond ? 2 * maxMessageBytes + rng.range(1, 2 * maxMessageBytes) : maxMessageBytes + rng.range(1, maxMessageBytes);
      const payload = new Uint8Array(size).fill(0x41);
      const opcode = rng.pick([WsOpcode.BINARY, WsOpcode.TEXT]);
      const wire = rng.chance(0.5) ? encodeFrame({ opcode, payload }) : fragmented(rng, opcode, payload);
      return beyond ? { category: 'oversized, over twice the limit', wire, allowed: [1009, ABNORMAL_CLOSURE] } : { category: 'oversized', wire, allowed: [1009], errorBeforeClose: 'TOO_LARGE' };
    }
    case 2:
      return {
        category: 'oversized declared length',
        wire: encodeFrame({ opcode: WsOpcode.BINARY, payload: rng.bytes(8), declaredLength: 2 ** rng.range(33, 62), lengthForm: 64 }),
        allowed: [1009, PROTOCOL, ABNORMAL_CLOSURE],
      };
    case 3:
      return { category: 'reserved bits', wire: encodeFrame({ opcode: WsOpcode.BINARY, payload: Buffer.from([2, 1, 0x61]), rsv: rng.range(1, 7) }), allowed: [PROTOCOL], violation: true };
    case 4:
      return { category: 'reserved opcode', wire: encodeFrame({ opcode: rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), payload: rng.bytes(rng.int(10)) }), allowed: [PROTOCOL], violation: true };
    case 5:
      return { category: 'unmasked frame', wire: encodeFrame({ opcode: WsOpcode.BINARY, payload: Buffer.from([2, 1, 0x61]), mask: false }), allowed: [PROTOCOL], violation: true, uwsLimitation: true };
    case 6:
      return {
        category: 'bad control frame',
        wire: rng.chance(0.5)
          ? encodeFrame({ opcode: WsOpcode.PING, payload: rng.bytes(rng.range(126, 300)) }) // control payload over 125
          : encodeFrame({ opcode: WsOpcode.PING, payload: rng.bytes(4), fin: false }), // fragmented control frame
        allowed: [PROTOCOL],
        violation: true,
      };
    case 7:
      return {
        category: 'bad fragmentation',
        wire: rng.chance(0.5)
          ? encodeFrame({ opcode: WsOpcode.CONTINUATION, payload: rng.bytes(4) }) // continuation with nothing to continue
          : Buffer.concat([encodeFrame({ opcode: WsOpcode.BINARY, payload: rng.bytes(4), fin: false }), encodeFrame({ opcode: WsOpcode.TEXT, payload: Buffer.from('{}') })]),
        allowed: [PROTOCOL],
        violation: true,
      };
    case 8: {
      // A valid close is echoed (RFC 6455 5.5.1); invalid codes (7.4.1/7.4.2) and invalid UTF-8 reasons are protocol errors.
      const form = rng.int(3);
      if (form === 0) return { category: 'close', wire: encodeFrame({ opcode: WsOpcode.CLOSE, payload: closePayload(rng.pick([1000, 1001, 3000, 4000, 4999])) }), allowed: [1000, 1001, 3000, 4000, 4999, 1005] };
      if (form === 1) return { category: 'close with invalid code', wire: encodeFrame({ opcode: WsOpcode.CLOSE, payload: closePayload(rng.pick([0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535])) }), allowed: [PROTOCOL], violation: true };
      return { category: 'close with invalid UTF-8 reason', wire: encodeFrame({ opcode: WsOpcode.CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from(rng.pick(INVALID_UTF8))]) }), allowed: [1007, PROTOCOL], violation: true };
    }
    case 9: {
      // A read-while-writing flood of valid messages: the edge may keep it or rate-limit it.
      const frames: Buffer[] = [];
      const n = rng.range(500, 3000);
      for (let i = 0; i < n; i++) frames.push(encodeFrame({ opcode: WsOpcode.BINARY, payload: validBinary(rng, 0x7f000000 + i) }));
      return { category: 'flood (reading)', wire: Buffer.concat(frames), allowed: ['open', 4007, 4006] };
    }
    default: {
      // Requests flooded by a client that never reads: the edge must bound what it buffers for it.
      const frames: Buffer[] = [];
      const n = rng.range(2000, 6000);
      const body = rng.pick([Buffer.from([0x03, 0, 0, 0, 1, 4, 0x63, 0x68, 0x61, 0x74]), Buffer.from([0x05])]);
      for (let i = 0; i < n; i++) frames.push(encodeFrame({ opcode: WsOpcode.BINARY, payload: body }));
      return { category: 'flood (not reading)', wire: Buffer.concat(frames), allowed: ['open', 4007, 4006, 4009], unread: true };
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Running sessions and judging them.

/**
 * How long a handshake may go unanswered: well under uWebSockets.js's 10 s HTTP idle timeout, so
 * silence until that timer is caught (issue 7, finding 9).
 */
const HANDSHAKE_REACTION_MS = 4000;

/** What a client reports for a close frame without a status code (RFC 6455 7.1.5). */
const NO_STATUS = 1005;

export interface FuzzOptions {
  readonly seed: number;
  /** Stop after this many batches (CI) ... */
  readonly batches?: number;
  /** ... or after this long (longer runs). */
  readonly durationMs?: number;
  readonly sessionsPerBatch?: number;
  /** Generated upgrade requests per batch, run beside the sessions. */
  readonly handshakesPerBatch?: number;
  readonly maxStepsPerSession?: number;
  readonly maxMessageBytes: number;
  /** Batches run at once (default 4); the edge is checked after each wave. */
  readonly batchesPerWave?: number;
  /** How long to wait for an expected reaction. */
  readonly reactionMs?: number;
  readonly log?: (line: string) => void;
}

export interface CategoryCount {
  cases: number;
  wrong: number;
}

export interface FuzzReport {
  seed: number;
  batches: number;
  sessions: number;
  cases: number;
  crashes: number;
  wrongAnswers: number;
  /** Protocol violations ended without the 1002 status (bare TCP close or empty close frame): a SHOULD, not a MUST. */
  lenientCloses: number;
  byCategory: Record<string, CategoryCount>;
  /** First problems found, with what to replay. */
  examples: string[];
  elapsedMs: number;
}

function hex(bytes: Uint8Array, max = 48): string {
  const h = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${h}... (${bytes.length} bytes)` : h;
}

interface SessionPlan {
  readonly steps: Step[];
  readonly terminal: Terminal | undefined;
}

function planSession(rng: Rng, options: FuzzOptions, requestIdBase: number): SessionPlan {
  const steps: Step[] = [];
  const n = rng.range(1, options.maxStepsPerSession ?? 8);
  for (let i = 0; i < n; i++) steps.push(generateStep(rng, requestIdBase + i));
  return { steps, terminal: rng.chance(0.45) ? generateTerminal(rng, options.maxMessageBytes) : undefined };
}

/** Runs one session and returns the problems (empty when every answer was the expected one). */
async function runSession(live: LiveEdge, plan: SessionPlan, reactionMs: number, lenient: { count: number }): Promise<string[]> {
  const conn: RawConnection = await openWelcomed(live.port, await live.token());
  const problems: string[] = [];
  try {
    for (const step of plan.steps) await conn.write(step.wire);
    // A closing ping: its pong comes after every synchronous answer to what was sent before it.
    const sentinel = Buffer.from(`sentinel-${Math.random()}`);
    await conn.write(encodeFrame({ opcode: WsOpcode.PING, payload: sentinel }));
    const pongs = () => conn.frames.filter((f) => f.opcode === WsOpcode.PONG).map((f) => f.payload);
    const requests = plan.steps.flatMap((s) => (s.expected.kind === 'request' || (s.expected.kind === 'error' && s.expected.id !== undefined) ? [s.expected] : []));
    const answeredIds = () => new Set(conn.controls.filter((c) => c['type'] === 'error' && typeof c['id'] === 'number').map((c) => c['id'] as number));
    const allAnswered = () => pongs().some((p) => p.equals(sentinel)) && requests.every((r) => r.kind !== 'request' || answeredIds().has(r.id) || hasReply(conn, r.id));
    await conn.until(allAnswered, reactionMs);
    if (conn.ended) problems.push(`closed during valid session: ${conn.describe()}`);
    else if (!allAnswered()) problems.push(`not all answered within ${reactionMs} ms (pong for the last ping, one answer per REQUEST)`);

    // Error frames without an id, in order; errors with ids and replies by id.
    const errors = conn.controls.filter((c) => c['type'] === 'error');
    const plainErrors = errors.filter((c) => c['id'] === undefined).map((c) => String(c['code']));
    const expectedPlain = plan.steps.flatMap((s) => (s.expected.kind === 'error' && s.expected.id === undefined ? [s.expected.codes] : []));
    if (plainErrors.length !== expectedPlain.length || expectedPlain.some((codes, i) => !codes.includes(plainErrors[i]!))) {
      problems.push(`error frames ${JSON.stringify(plainErrors)}, expected ${JSON.stringify(expectedPlain)}`);
    }
    for (const r of requests) {
      const answers = errors.filter((c) => c['id'] === r.id);
      const replies = conn.frames.filter((f) => f.opcode === WsOpcode.BINARY && f.payload[0] === 0x04 && f.payload.length >= 5 && f.payload.readUInt32BE(1) === r.id);
      const dupIds = requests.filter((x) => x.id === r.id).length;
      if (answers.length + replies.length !== dupIds) problems.push(`request ${r.id}: ${answers.length + replies.length} answers, expected ${dupIds}`);
      // A mutation can give two requests of a session the same id: then either's answers are right.
      const allowedCodes = requests.filter((x) => x.id === r.id).flatMap((x) => (x.kind === 'request' ? ['NO_RESPONDERS', 'REQUEST_TIMEOUT'] : x.codes));
      for (const a of answers) if (!allowedCodes.includes(String(a['code']))) problems.push(`request ${r.id} answered ${String(a['code'])}, expected one of ${allowedCodes.join('/')}`);
    }
    for (const step of plan.steps) {
      if (step.pong && !pongs().some((p) => p.equals(step.pong!))) problems.push(`no pong echoing ping payload ${hex(step.pong)}`);
    }
    const strays = conn.frames.filter((f) => f.opcode === WsOpcode.BINARY && f.payload[0] !== 0x04);
    if (strays.length > 0) problems.push(`unexpected binary frames: ${strays.map((f) => hex(f.payload, 8)).join(', ')}`);
    if (problems.length > 0 || plan.terminal === undefined) return problems;

    // The terminal case.
    const terminal = plan.terminal;
    if (terminal.unread) conn.socket.pause();
    await conn.write(terminal.wire);
    if (terminal.unread) conn.socket.resume();
    const mayStayOpen = terminal.allowed.includes('open');
    if (mayStayOpen) {
      // Still answering (or closed with an allowed code) once the flood is through.
      const ping = Buffer.from('after-flood');
      await conn.write(encodeFrame({ opcode: WsOpcode.PING, payload: ping }));
      await conn.until(() => pongs().some((p) => p.equals(ping)), reactionMs * 4);
    } else {
      await conn.until(() => conn.closeFrame !== undefined, reactionMs);
      if (conn.closeFrame === undefined) await conn.waitForEnd(reactionMs);
    }
    const code = conn.closeCode;
    const ok = code === undefined ? mayStayOpen && !conn.ended && pongs().some((p) => p.toString() === 'after-flood') : terminal.allowed.includes(code);
    if (ok && terminal.errorBeforeClose !== undefined && code === terminal.allowed[0] && !conn.controls.some((c) => c['code'] === terminal.errorBeforeClose)) {
      problems.push(`${terminal.category}: closed with ${code} but no ${terminal.errorBeforeClose} error frame before it (first bytes ${hex(terminal.wire, 16)})`);
      return problems;
    }
    if (!ok && (terminal.uwsLimitation || (terminal.violation && (code === ABNORMAL_CLOSURE || code === NO_STATUS)))) {
      lenient.count++;
      return problems;
    }
    if (!ok) problems.push(`${terminal.category}: expected ${terminal.allowed.join(' or ')}, got ${conn.describe()} (first bytes ${hex(terminal.wire, 16)})`);
    return problems;
  } finally {
    conn.destroy();
  }
}

function hasReply(conn: RawConnection, id: number): boolean {
  return conn.frames.some((f) => f.opcode === WsOpcode.BINARY && f.payload[0] === 0x04 && f.payload.length >= 5 && f.payload.readUInt32BE(1) === id);
}

/** Problems kept in a report (formatReport prints the first 20; FUZZ_EDGE_REPORT writes them all). */
const MAX_EXAMPLES = 500;

/** Counts one batch's cases and records its problems. */
function judgeBatch(
  report: FuzzReport,
  count: (category: string, wrong: boolean) => void,
  plans: readonly SessionPlan[],
  results: readonly string[][],
  handshakes: readonly HandshakeCase[],
  handshakeResults: readonly (string | undefined)[],
): void {
  handshakes.forEach((c, i) => {
    const problem = handshakeResults[i];
    report.cases++;
    count(c.category, problem !== undefined);
    if (problem !== undefined) {
      report.wrongAnswers++;
      if (report.examples.length < MAX_EXAMPLES) report.examples.push(`batch ${report.batches} handshake ${i}: ${problem}`);
    }
  });
  plans.forEach((plan, i) => {
    const problems = results[i]!;
    report.sessions++;
    report.cases += plan.steps.length + (plan.terminal ? 1 : 0);
    const terminalWrong = plan.terminal !== undefined && problems.some((p) => p.startsWith(`${plan.terminal!.category}:`));
    const stepsWrong = problems.length > 0 && !terminalWrong;
    for (const step of plan.steps) count(step.category, stepsWrong);
    if (plan.terminal) count(plan.terminal.category, terminalWrong);
    if (problems.length > 0) {
      report.wrongAnswers++;
      if (report.examples.length < MAX_EXAMPLES) {
        report.examples.push(
          `batch ${report.batches} session ${i}: ${problems.join('; ')} | steps: ${plan.steps.map((s) => `${s.category} ${hex(s.wire, 24)}`).join(' | ')}`,
        );
      }
    }
  });
}

/** Runs batches of sessions against the live edge (in waves), checking it after every wave. */
export async function fuzzEdge(live: LiveEdge, options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed);
  const started = performance.now();
  const reactionMs = options.reactionMs ?? 2000;
  const report: FuzzReport = { seed: options.seed, batches: 0, sessions: 0, cases: 0, crashes: 0, wrongAnswers: 0, lenientCloses: 0, byCategory: {}, examples: [], elapsedMs: 0 };
  const count = (category: string, wrong: boolean) => {
    const c = (report.byCategory[category] ??= { cases: 0, wrong: 0 });
    c.cases++;
    if (wrong) c.wrong++;
  };
  const more = () =>
    options.batches !== undefined ? report.batches < options.batches : performance.now() - started < (options.durationMs ?? 10_000);
  let requestIds = 1;
  const lenient = { count: 0 };

  // Batches run in waves (most of a batch's time is waiting for reactions that must not come, such
  // as an unanswered garbage handshake), generated in order so a seed always gives the same cases.
  const wave = Math.max(1, options.batchesPerWave ?? 4);
  while (more()) {
    const batches = [];
    for (let b = 0; b < wave && (options.batches === undefined || report.batches + b < options.batches); b++) {
      const plans = Array.from({ length: options.sessionsPerBatch ?? 8 }, () => {
        const plan = planSession(rng, options, requestIds);
        requestIds += plan.steps.length;
        return plan;
      });
      const handshakes = [];
      for (let i = 0; i < (options.handshakesPerBatch ?? 8); i++) handshakes.push(await generateHandshake(rng, live));
      batches.push({ plans, handshakes });
    }
    const outcomes = await Promise.all(
      batches.map(({ plans, handshakes }) =>
        Promise.all([
          Promise.all(plans.map((plan) => runSession(live, plan, reactionMs, lenient).catch((err: Error) => [`session failed to run: ${err.message}`]))),
          Promise.all(handshakes.map((c) => runHandshake(live, c, HANDSHAKE_REACTION_MS).catch((err: Error) => `handshake failed to run: ${err.message}`))),
        ]),
      ),
    );
    batches.forEach(({ plans, handshakes }, b) => {
      const [results, handshakeResults] = outcomes[b]!;
      judgeBatch(report, count, plans, results, handshakes, handshakeResults);
      report.batches++;
    });
    const failure = await live.check();
    if (failure !== undefined) {
      report.crashes++;
      report.examples.push(`after batch ${report.batches - 1}: ${failure}`);
      options.log?.(`edge check failed after batch ${report.batches - 1}: ${failure}`);
      if (live.edge.child.exitCode !== null || live.edge.child.signalCode !== null) break;
    }
  }
  report.lenientCloses = lenient.count;
  report.elapsedMs = Math.round(performance.now() - started);
  return report;
}

/** The counts as printed by the CI test and the long script. */
export function formatReport(r: FuzzReport): string {
  const lines = [
    `edge fuzz seed=${r.seed}: ${r.cases} cases in ${r.sessions} sessions, ${r.batches} batches, ${(r.elapsedMs / 1000).toFixed(1)} s: crashes ${r.crashes}, wrong answers ${r.wrongAnswers} (protocol violations closed without status 1002: ${r.lenientCloses})`,
    ...Object.entries(r.byCategory)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, c]) => `  ${name.padEnd(32)} ${String(c.cases).padStart(6)} cases ${String(c.wrong).padStart(5)} in wrong sessions`),
  ];
  if (r.examples.length > 0) lines.push('first problems:', ...r.examples.slice(0, 20).map((e) => `  ${e.slice(0, 600)}`));
  return lines.join('\n');
}
