// @ts-check
// The wire format of durable pushes and resume, as docs/protocol.md (section 6) and
// docs/delivery.md describe it. Everything resume.js needs to know about the wire lives here:
//
//   publish durable   POST /v1/users/{userId}/push?sessionId=<id>&durable=true  -> 201 {"position": n, ...}
//   durable PUSH      [0x05][position: u64 big-endian][payload...]              server -> client
//   welcome           {"type":"welcome", ..., "epoch":"<stream epoch>", "position": n, "recovered": true|false}
//   end of a replay   {"type":"position","position":n}
//   resume            reconnect with ?client=<same client id>&position=<last position>&epoch=<epoch>
import { adminPost } from './mesh.js';

export const OP_DURABLE_PUSH = 0x05;
/** The admin API's answer to a durable push: 201 once the stream stored it. */
export const DURABLE_STORED = 201;

/** @param {string} user @param {string} session @param {string} body */
export function publishDurable(user, session, body) {
  return adminPost(`/v1/users/${encodeURIComponent(user)}/push?sessionId=${encodeURIComponent(session)}&durable=true`, body, DURABLE_STORED);
}

/**
 * Splits a binary frame into position and payload when it is a durable PUSH.
 * @param {ArrayBuffer} frame the whole binary message, opcode included
 * @returns {{ position: number, payload: ArrayBuffer } | undefined}
 */
export function parseDurablePush(frame) {
  const bytes = new Uint8Array(frame);
  if (bytes.length < 9 || bytes[0] !== OP_DURABLE_PUSH) return undefined;
  const view = new DataView(frame);
  // Positions stay far below 2^53 (JetStream sequences), so a double holds them exactly.
  const position = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  return { position, payload: frame.slice(9) };
}

/** The query parameters that ask the edge to replay what came after `position`. @param {string} epoch @param {number} position */
export function resumeQuery(epoch, position) {
  return { position: String(position), epoch };
}
