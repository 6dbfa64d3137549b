/**
 * Properties of every frame codec, on generated input: encode/parse round trips, no crash on
 * arbitrary bytes or text, and acceptance of exactly what the grammar in docs/protocol.md allows.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  encodeMessageFrame,
  encodeRequestFrame,
  isU32,
  Opcode,
  parseClientBinary,
  parseClientControl,
  parseServerBinary,
  readU32BE,
  REPLY_HEADER_BYTES,
  requestIdOf,
  writeReplyHeader,
  writeU32BE,
} from '@session-mesh/protocol';

const topic = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const payload = fc.uint8Array({ maxLength: 300 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Arbitrary bytes, biased towards the client opcodes so the deeper branches are reached. */
const clientBytes = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  fc.tuple(fc.constantFrom(Opcode.MESSAGE, Opcode.REQUEST), fc.uint8Array({ maxLength: 80 })).map(([op, rest]) => Uint8Array.of(op, ...rest)),
  // Topic-like bytes of lengths near the limits, a length byte equal to it or off by one, sometimes a stray byte.
  fc
    .tuple(
      fc.constantFrom(Opcode.MESSAGE, Opcode.REQUEST),
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 62, max: 66 }), fc.integer({ min: 0, max: 70 })),
      fc.constantFrom(0, 0, 0, -1, 1),
      fc.option(fc.tuple(fc.nat(), fc.constantFrom(0x2e, 0x2a, 0x3e, 0x20, 0x00, 0xe9, 0x7f)), { freq: 2 }),
      payload,
    )
    .chain(([op, n, delta, stray, rest]) =>
      fc.array(fc.constantFrom(...Buffer.from('ABCXYZabcxyz0189_-')), { minLength: n, maxLength: n }).map((topicBytes) => {
        if (stray !== null && n > 0) topicBytes[stray[0] % n] = stray[1];
        const len = Math.max(0, n + delta);
        return Uint8Array.of(op, ...(op === Opcode.REQUEST ? [0, 0, 0, 7] : []), len, ...topicBytes, ...rest);
      }),
    ),
);

/** The grammar, written out independently of the parser: [op][u32 id if REQUEST][len 1..64][len topic bytes][payload]. */
function grammarAccepts(b: Uint8Array): boolean {
  const op = b[0];
  if (op !== Opcode.MESSAGE && op !== Opcode.REQUEST) return false;
  const at = op === Opcode.REQUEST ? 5 : 1;
  if (b.length < at + 1) return false;
  const len = b[at]!;
  if (len < 1 || len > 64 || b.length < at + 1 + len) return false;
  return /^[A-Za-z0-9_-]+$/.test(Buffer.from(b.subarray(at + 1, at + 1 + len)).toString('latin1'));
}

describe('client frames (properties)', () => {
  test.prop([topic, payload])('MESSAGE round-trips topic and payload bytes', (t, p) => {
    expect(parseClientBinary(encodeMessageFrame(t, p))).toEqual({ op: Opcode.MESSAGE, topic: t, payload: p });
  });

  test.prop([u32, topic, payload])('REQUEST round-trips id, topic and payload bytes', (id, t, p) => {
    const frame = encodeRequestFrame(id, t, p);
    expect(parseClientBinary(frame)).toEqual({ op: Opcode.REQUEST, id, topic: t, payload: p });
    expect(requestIdOf(frame)).toBe(id);
  });

  test.prop([clientBytes], { numRuns: 2_000 })('never throws on arbitrary bytes, and accepts exactly what the grammar accepts', (bytes) => {
    const parsed = parseClientBinary(bytes);
    expect(typeof parsed !== 'string').toBe(grammarAccepts(bytes));
    if (typeof parsed === 'string') return;
    // The payload is the rest of the frame, as a view.
    const header = (parsed.op === Opcode.REQUEST ? 6 : 2) + parsed.topic.length;
    expect(parsed.payload).toEqual(bytes.subarray(header));
    if (parsed.op === Opcode.REQUEST) expect(parsed.id).toBe(readU32BE(bytes, 1));
  });

  test.prop([fc.oneof(fc.string({ maxLength: 80 }), topic.map((t) => `${t}.x`), fc.constant(''), fc.constant('t'.repeat(65)))])(
    'encoders refuse topics outside the rule',
    (t) => {
      fc.pre(!/^[A-Za-z0-9_-]{1,64}$/.test(t));
      expect(() => encodeMessageFrame(t, new Uint8Array())).toThrow(/invalid topic/);
      expect(() => encodeRequestFrame(1, t, new Uint8Array())).toThrow(/invalid topic/);
    },
  );

  test.prop([fc.oneof(fc.integer({ min: -(2 ** 40), max: -1 }), fc.integer({ min: 2 ** 32, max: 2 ** 45 }), fc.double({ noInteger: true }))])(
    'REQUEST refuses ids that are not u32',
    (id) => {
      expect(() => encodeRequestFrame(id, 'ok', new Uint8Array())).toThrow(RangeError);
    },
  );

  test.prop([fc.oneof(fc.string({ maxLength: 80 }), fc.json(), fc.record({ type: fc.constantFrom('refresh', 'other'), token: fc.oneof(fc.string(), fc.integer()) }).map((o) => JSON.stringify(o)))])(
    'control frames never throw; a refresh needs a non-empty token',
    (text) => {
      const parsed = parseClientControl(text);
      if (typeof parsed === 'string') return;
      const o = JSON.parse(text) as { type: unknown; token: unknown };
      expect(o.type).toBe('refresh');
      expect(parsed).toEqual({ type: 'refresh', token: o.token });
      expect(typeof o.token === 'string' && o.token.length > 0).toBe(true);
    },
  );
});

describe('server frames (properties)', () => {
  test.prop([payload])('PUSH round-trips the payload bytes', (p) => {
    expect(parseServerBinary(Uint8Array.of(Opcode.PUSH, ...p))).toEqual({ op: Opcode.PUSH, payload: p });
  });

  test.prop([u32, payload])('REPLY round-trips id and payload bytes', (id, p) => {
    const frame = new Uint8Array(REPLY_HEADER_BYTES + p.length);
    writeReplyHeader(frame, id);
    frame.set(p, REPLY_HEADER_BYTES);
    expect(parseServerBinary(frame)).toEqual({ op: Opcode.REPLY, id, payload: p });
  });

  test.prop([fc.uint8Array({ maxLength: 40 })])('never throws on arbitrary bytes', (bytes) => {
    const parsed = parseServerBinary(bytes);
    const acceptable = bytes[0] === Opcode.PUSH || (bytes[0] === Opcode.REPLY && bytes.length >= REPLY_HEADER_BYTES);
    expect(typeof parsed !== 'string').toBe(acceptable);
  });
});

describe('u32 (properties)', () => {
  test.prop([u32, fc.integer({ min: 0, max: 8 })])('writes big-endian as DataView does, and reads it back', (value, at) => {
    const bytes = new Uint8Array(at + 4);
    writeU32BE(bytes, at, value);
    expect(new DataView(bytes.buffer).getUint32(at, false)).toBe(value);
    expect(readU32BE(bytes, at)).toBe(value);
    expect(isU32(value)).toBe(true);
  });
});
