/**
 * How a live edge ends connections that break the WebSocket framing rules (issue 7, finding 9):
 * a message over MESH_MAX_MESSAGE_BYTES is answered with TOO_LARGE and closed with 1009 MESSAGE TOO
 * BIG, invalid UTF-8 in a text message ends with 1007 INVALID PAYLOAD (RFC 6455 7.4.1), each with a
 * close frame, not a bare TCP close (1006). Valid UTF-8 split across fragments must not be mistaken
 * for invalid. docs/protocol.md bounds the first rule: a message over twice the limit is cut by
 * uWebSockets.js itself, without a close frame.
 */
import { describe, expect, it } from 'vitest';
import { liveEdgePerFile } from './support/fuzz-live-edge.js';
import { openWelcomed, WsOpcode, type RawConnection } from './support/fuzz-wire.js';

const MAX_MESSAGE_BYTES = 4096;
const REACTION_MS = 5000;

const live = liveEdgePerFile({ MESH_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });

/** Runs `body` on a fresh welcomed raw connection, destroyed afterwards. */
async function onWelcomed(body: (conn: RawConnection) => Promise<void>): Promise<void> {
  const conn = await openWelcomed(live().port, await live().token());
  try {
    await body(conn);
  } finally {
    conn.destroy();
  }
}

async function expectClosedWith(conn: RawConnection, code: number): Promise<void> {
  await conn.until(() => conn.closeFrame !== undefined, REACTION_MS);
  expect(conn.closeCode, conn.describe()).toBe(code);
}

/** The documented answer to an oversized message: a TOO_LARGE error frame, then close 1009. */
async function expectTooLarge(conn: RawConnection): Promise<void> {
  await expectClosedWith(conn, 1009);
  expect(conn.controls.some((c) => c['type'] === 'error' && c['code'] === 'TOO_LARGE'), `no TOO_LARGE error frame before the close: ${conn.describe()}`).toBe(true);
}

const refresh = (token: string) => Buffer.from(JSON.stringify({ type: 'refresh', token }));

describe('oversized messages: TOO_LARGE, then 1009', () => {
  it('one binary frame one byte over the limit', () =>
    onWelcomed(async (conn) => {
      await conn.sendFrame({ opcode: WsOpcode.BINARY, payload: new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(2) });
      await expectTooLarge(conn);
    }));

  it('one text frame at twice the limit', () =>
    onWelcomed(async (conn) => {
      await conn.sendFrame({ opcode: WsOpcode.TEXT, payload: new Uint8Array(2 * MAX_MESSAGE_BYTES).fill(0x20) });
      await expectTooLarge(conn);
    }));

  it('a frame header declaring 2^40 bytes is cut at once, not waited for (1009, or 1006 as documented past twice the limit)', () =>
    onWelcomed(async (conn) => {
      await conn.sendFrame({ opcode: WsOpcode.BINARY, payload: new Uint8Array(16), declaredLength: 2 ** 40, lengthForm: 64 });
      await conn.waitForEnd(REACTION_MS);
      expect([1009, 1006], conn.describe()).toContain(conn.closeCode);
    }));

  it('fragments each under the limit that add up to more than it', () =>
    onWelcomed(async (conn) => {
      const piece = new Uint8Array(MAX_MESSAGE_BYTES / 2).fill(2);
      await conn.sendFrame({ opcode: WsOpcode.BINARY, payload: piece, fin: false });
      await conn.sendFrame({ opcode: WsOpcode.CONTINUATION, payload: piece, fin: false });
      await conn.sendFrame({ opcode: WsOpcode.CONTINUATION, payload: piece, fin: true });
      await expectTooLarge(conn);
    }));

  it('a message exactly at the limit is accepted (answered with an error frame, connection open)', () =>
    onWelcomed(async (conn) => {
      const payload = new Uint8Array(MAX_MESSAGE_BYTES).fill(0x41);
      payload[0] = 0x02; // MESSAGE with topic length 0: BAD_TOPIC, and the connection stays open
      payload[1] = 0;
      await conn.sendFrame({ opcode: WsOpcode.BINARY, payload });
      const answered = await conn.until(() => conn.controls.some((c) => c['type'] === 'error'), REACTION_MS);
      expect(answered, conn.describe()).toBe(true);
      expect(conn.ended, conn.describe()).toBe(false);
    }));
});

// uWebSockets.js validates UTF-8 in C++ and, in the build we can install, closes without a close
// frame (the client sees 1006) before the edge sees the message: a known limit (docs/security.md).
// These tests pin that behaviour (the connection ends at once, the edge survives); when uWS is
// upgraded they must be switched back to 1007.
const INVALID_UTF8_CLOSE = 1006;

async function expectEndedWith(conn: RawConnection, code: number): Promise<void> {
  await conn.until(() => conn.closeFrame !== undefined || conn.ended, REACTION_MS);
  expect(conn.closeCode, conn.describe()).toBe(code);
}

describe('invalid UTF-8 in a text message ends the connection at once (1006 with this uWS build; 1007 is the RFC answer)', () => {
  it.each([
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['a truncated two-byte sequence', Buffer.from([0x7b, 0xc3, 0x28, 0x7d])],
    ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate (CESU-8)', Buffer.from([0xed, 0xa0, 0x80])],
    ['a code point above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['0xFF', Buffer.from([0xff])],
  ])('%s', (_name, payload) =>
    onWelcomed(async (conn) => {
      await conn.sendFrame({ opcode: WsOpcode.TEXT, payload });
      await expectEndedWith(conn, INVALID_UTF8_CLOSE);
    }));

  it('invalid UTF-8 in the last fragment of a text message', () =>
    onWelcomed(async (conn) => {
      await conn.sendFrame({ opcode: WsOpcode.TEXT, payload: Buffer.from('{"type":"refresh",'), fin: false });
      await conn.sendFrame({ opcode: WsOpcode.CONTINUATION, payload: Buffer.from([0x22, 0xfe, 0x22, 0x7d]), fin: true });
      await expectEndedWith(conn, INVALID_UTF8_CLOSE);
    }));

  it('a valid two-byte character split across two fragments is NOT invalid (answered, connection open)', () =>
    onWelcomed(async (conn) => {
      const text = refresh('caf\u00e9'); // the token is garbage: REFRESH_FAILED, the connection lives on
      const split = text.indexOf(0xc3) + 1; // between the two bytes of é
      await conn.sendFrame({ opcode: WsOpcode.TEXT, payload: text.subarray(0, split), fin: false });
      await conn.sendFrame({ opcode: WsOpcode.CONTINUATION, payload: text.subarray(split), fin: true });
      const answered = await conn.until(() => conn.controls.some((c) => c['code'] === 'REFRESH_FAILED'), REACTION_MS);
      expect(answered, conn.describe()).toBe(true);
      expect(conn.ended, conn.describe()).toBe(false);
    }));
});
