// @ts-check
// PROPOSED wire format for durable pushes and resume. NOT IMPLEMENTED YET: durable pushes arrive
// with issue 8 ("Sessions that survive the network"), and docs/protocol.md does not describe them
// yet. Everything resume.js assumes about the wire lives in this file, so that when the feature
// lands only this file follows docs/protocol.md. What it assumes, from docs/architecture.md ("the
// binary PUSH opcode leaves room for a sequenced variant") and issue 8 (positions, epochs,
// `recovered`, Centrifugo's offset + epoch as the model):
//
//   publish durable   POST /v1/users/{userId}/push?sessionId=<id>&durable=true   (202 as today)
//   durable PUSH      [0x05][position: u64 big-endian][payload...]              server -> client
//   welcome           {"type":"welcome", ..., "epoch":"<stream epoch>", "recovered": true|false}
//   resume            reconnect with ?client=<same client id>&resume=<epoch>:<last position>
import { adminPost } from './mesh.js';

export const OP_DURABLE_PUSH = 0x05;

/** @param {string} user @param {string} session @param {string} body */
export function publishDurable(user, session, body) {
  return adminPost(`/v1/users/${encodeURIComponent(user)}/push?sessionId=${encodeURIComponent(session)}&durable=true`, body);
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
  return { resume: `${epoch}:${position}` };
}
