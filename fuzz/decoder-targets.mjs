/**
 * Fuzz targets for the decoders of libs/protocol (its built dist/), one per decoder. Each takes a
 * Buffer and throws only when an invariant breaks: it is the Jazzer.js target shape
 * (`fuzz(data: Buffer)`), and scripts/fuzz-decoders.mjs drives the same functions with fast-check.
 *
 * Invariants: decoders never throw on any input (except decodeId, which throws only InvalidIdError);
 * whatever they accept re-encodes to exactly the input bytes (no two inputs decode alike, nothing is
 * silently dropped); accepted topics and ids satisfy the documented rules.
 */
import { pathToFileURL } from 'node:url';

// FUZZ_PROTOCOL_DIST points at another build of libs/protocol (for example one of an older commit).
const protocol = await import(process.env.FUZZ_PROTOCOL_DIST ? pathToFileURL(process.env.FUZZ_PROTOCOL_DIST).href : '../libs/protocol/dist/index.js');
const {
  decodeId,
  encodeId,
  encodeMessageFrame,
  encodeRequestFrame,
  idProblem,
  InvalidIdError,
  parseClientBinary,
  parseClientControl,
  parseServerBinary,
  tryDecodeId,
  writeReplyHeader,
} = protocol;

const TOPIC = /^[A-Za-z0-9_-]{1,64}$/;

class InvariantError extends Error {
  name = 'InvariantError';
}

function check(condition, message) {
  if (!condition) throw new InvariantError(message);
}

const equalBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

export function clientBinary(data) {
  const bytes = new Uint8Array(data);
  const frame = parseClientBinary(bytes);
  if (typeof frame === 'string') {
    check(frame.length > 0, 'empty problem string');
    return;
  }
  check(TOPIC.test(frame.topic), `accepted topic ${JSON.stringify(frame.topic)}`);
  const again = frame.op === 0x02 ? encodeMessageFrame(frame.topic, frame.payload) : encodeRequestFrame(frame.id, frame.topic, frame.payload);
  check(equalBytes(again, bytes), `client frame does not re-encode to its bytes: ${Buffer.from(bytes).toString('hex')}`);
}

export function serverBinary(data) {
  const bytes = new Uint8Array(data);
  const frame = parseServerBinary(bytes);
  if (typeof frame === 'string') return;
  let again;
  if (frame.op === 0x01) again = Uint8Array.of(0x01, ...frame.payload);
  else {
    again = new Uint8Array(5 + frame.payload.length);
    writeReplyHeader(again, frame.id);
    again.set(frame.payload, 5);
  }
  check(equalBytes(again, bytes), `server frame does not re-encode to its bytes: ${Buffer.from(bytes).toString('hex')}`);
}

export function clientControl(data) {
  const frame = parseClientControl(data.toString('utf8'));
  if (typeof frame === 'string') return;
  check(frame.type === 'refresh' && typeof frame.token === 'string' && frame.token.length > 0, `accepted ${JSON.stringify(frame)}`);
}

export function idToken(data) {
  const token = data.toString('latin1');
  let id;
  try {
    id = decodeId(token);
  } catch (err) {
    check(err instanceof InvalidIdError, `decodeId threw ${err?.name}: ${err?.message}`);
    check(tryDecodeId(token) === undefined, 'tryDecodeId accepted what decodeId refused');
    return;
  }
  check(idProblem(id) === undefined, `decoded an invalid id ${JSON.stringify(id)}`);
  check(encodeId(id) === token, `token ${JSON.stringify(token)} is not the canonical encoding of its id`);
  check(tryDecodeId(token) === id, 'tryDecodeId disagrees with decodeId');
}

export const targets = { clientBinary, serverBinary, clientControl, idToken };
/** The encoders the fast-check driver builds valid inputs with, from the same build. */
export const encoders = { encodeId, encodeMessageFrame, encodeRequestFrame };

/** Jazzer.js entry point: FUZZ_TARGET picks the decoder (default clientBinary). */
export function fuzz(data) {
  targets[process.env.FUZZ_TARGET ?? 'clientBinary'](data);
}
