/**
 * Client <-> edge wire protocol, version 1 (WebSocket subprotocol `session-mesh.v1`).
 * docs/protocol.md is the reference for client authors; keep the two in step.
 *
 * Two kinds of WebSocket message:
 * - BINARY messages carry payload bytes. Byte 0 is an opcode; what follows is described per opcode.
 *   Payloads are forwarded exactly as published: the edge never decodes or re-encodes them.
 * - TEXT messages are JSON control frames with a `type` field.
 */
import { isTopicByte, MAX_TOPIC_LENGTH, topicProblem } from './topic.js';
import { isU32, readU32BE, writeU32BE } from './u32.js';

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'session-mesh.v1';
/** Prefix of a Sec-WebSocket-Protocol entry that carries the token: `bearer.<jwt>`. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export const Opcode = {
  /** server -> client: [0x01][payload] */
  PUSH: 0x01,
  /** client -> server: [0x02][topic length: u8][topic: ASCII][payload] */
  MESSAGE: 0x02,
  /** client -> server: [0x03][request id: u32 BE][topic length: u8][topic: ASCII][payload] */
  REQUEST: 0x03,
  /** server -> client: [0x04][request id: u32 BE][payload] */
  REPLY: 0x04,
  /** server -> client: [0x05][position: u64 BE][payload] (a durable push and its stream position) */
  DURABLE_PUSH: 0x05,
} as const;

export const PUSH_HEADER_BYTES = 1;
export const REPLY_HEADER_BYTES = 5;
export const DURABLE_PUSH_HEADER_BYTES = 9;

/** Server -> client control frames. */
export interface WelcomeFrame {
  readonly type: 'welcome';
  readonly v: number;
  readonly user: string;
  readonly session: string;
  readonly client: string;
  readonly conn: string;
  readonly edge: string;
  readonly roles: readonly string[];
  /** Token expiry in ms since the epoch, or null for tokens without `exp` (and anonymous connections). */
  readonly expiresAt: number | null;
  /** Durable pushes on: the stream's incarnation (compare for equality only). */
  readonly epoch?: string;
  /** Durable pushes on: recovered -> the client's own position; else where the client starts now. */
  readonly position?: number;
  /** Durable pushes on: true when the missed durable pushes follow (the replay), then a position frame. */
  readonly recovered?: boolean;
}

/** After a replay: the client has every durable push up to `position`. */
export interface PositionFrame {
  readonly type: 'position';
  readonly position: number;
}

/** Error codes carried by error frames (not close codes: the connection stays open). */
export const ErrorCode = {
  BAD_FRAME: 'BAD_FRAME',
  BAD_TOPIC: 'BAD_TOPIC',
  NO_RESPONDERS: 'NO_RESPONDERS',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** The request could not be sent or answered for another reason (bus disconnected, reply too large...). */
  REQUEST_FAILED: 'REQUEST_FAILED',
  REFRESH_FAILED: 'REFRESH_FAILED',
  TOO_LARGE: 'TOO_LARGE',
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

export interface ErrorFrame {
  readonly type: 'error';
  readonly code: ErrorCodeName;
  readonly message: string;
  /** The request id, when the error answers a REQUEST. */
  readonly id?: number;
}

export interface RefreshedFrame {
  readonly type: 'refreshed';
  readonly expiresAt: number | null;
}

export type ServerControlFrame = WelcomeFrame | ErrorFrame | RefreshedFrame | PositionFrame;

/** Client -> server control frames. */
export interface RefreshFrame {
  readonly type: 'refresh';
  readonly token: string;
}
export type ClientControlFrame = RefreshFrame;

export type ParsedClientBinary =
  | { readonly op: typeof Opcode.MESSAGE; readonly topic: string; readonly payload: Uint8Array }
  | { readonly op: typeof Opcode.REQUEST; readonly id: number; readonly topic: string; readonly payload: Uint8Array };

function readTopic(bytes: Uint8Array, at: number): { topic: string; end: number } | string {
  if (bytes.length < at + 1) return 'truncated topic length';
  const len = bytes[at]!;
  if (len < 1 || len > MAX_TOPIC_LENGTH) return `topic length must be 1..${MAX_TOPIC_LENGTH}`;
  const end = at + 1 + len;
  if (bytes.length < end) return 'truncated topic';
  let topic = '';
  for (let i = at + 1; i < end; i++) {
    const b = bytes[i]!;
    if (!isTopicByte(b)) return 'topic must match [A-Za-z0-9_-]';
    topic += String.fromCharCode(b);
  }
  return { topic, end };
}

/**
 * Parses a binary client frame. Returns a string describing the problem for malformed input.
 * The payload is a view into `bytes` (no copy).
 */
export function parseClientBinary(bytes: Uint8Array): ParsedClientBinary | string {
  if (bytes.length === 0) return 'empty frame';
  const op = bytes[0];
  if (op === Opcode.MESSAGE) {
    const t = readTopic(bytes, 1);
    if (typeof t === 'string') return t;
    return { op: Opcode.MESSAGE, topic: t.topic, payload: bytes.subarray(t.end) };
  }
  if (op === Opcode.REQUEST) {
    if (bytes.length < 5) return 'truncated request id';
    const id = readU32BE(bytes, 1);
    const t = readTopic(bytes, 5);
    if (typeof t === 'string') return t;
    return { op: Opcode.REQUEST, id, topic: t.topic, payload: bytes.subarray(t.end) };
  }
  return `unknown opcode ${String(op)}`;
}

/** Builds a client MESSAGE frame (used by clients and tests). */
export function encodeMessageFrame(topic: string, payload: Uint8Array): Uint8Array {
  const t = topicBytes(topic);
  const out = new Uint8Array(2 + t.length + payload.length);
  out[0] = Opcode.MESSAGE;
  out[1] = t.length;
  out.set(t, 2);
  out.set(payload, 2 + t.length);
  return out;
}

/** Builds a client REQUEST frame (used by clients and tests). */
export function encodeRequestFrame(id: number, topic: string, payload: Uint8Array): Uint8Array {
  if (!isU32(id)) throw new RangeError('request id must be a u32');
  const t = topicBytes(topic);
  const out = new Uint8Array(6 + t.length + payload.length);
  out[0] = Opcode.REQUEST;
  writeU32BE(out, 1, id);
  out[5] = t.length;
  out.set(t, 6);
  out.set(payload, 6 + t.length);
  return out;
}

/** Writes a REPLY header into `target` at 0 (the payload follows at REPLY_HEADER_BYTES). */
export function writeReplyHeader(target: Uint8Array, id: number): void {
  target[0] = Opcode.REPLY;
  writeU32BE(target, 1, id);
}

/**
 * Writes a DURABLE_PUSH header into `target` at 0 (the payload follows at DURABLE_PUSH_HEADER_BYTES).
 * Positions are JetStream sequences: integers below 2^53, written as a u64 big-endian.
 */
export function writeDurablePushHeader(target: Uint8Array, position: number): void {
  target[0] = Opcode.DURABLE_PUSH;
  writeU32BE(target, 1, Math.floor(position / 0x1_0000_0000));
  writeU32BE(target, 5, position % 0x1_0000_0000);
}

/** Parses a server binary frame (clients and tests). */
export function parseServerBinary(
  bytes: Uint8Array,
):
  | { op: typeof Opcode.PUSH; payload: Uint8Array }
  | { op: typeof Opcode.REPLY; id: number; payload: Uint8Array }
  | { op: typeof Opcode.DURABLE_PUSH; position: number; payload: Uint8Array }
  | string {
  if (bytes.length === 0) return 'empty frame';
  if (bytes[0] === Opcode.PUSH) return { op: Opcode.PUSH, payload: bytes.subarray(1) };
  if (bytes[0] === Opcode.DURABLE_PUSH) {
    if (bytes.length < DURABLE_PUSH_HEADER_BYTES) return 'truncated durable push';
    const high = readU32BE(bytes, 1);
    if (high >= 0x20_0000) return 'position beyond 2^53';
    const position = high * 0x1_0000_0000 + readU32BE(bytes, 5);
    return { op: Opcode.DURABLE_PUSH, position, payload: bytes.subarray(DURABLE_PUSH_HEADER_BYTES) };
  }
  if (bytes[0] === Opcode.REPLY) {
    if (bytes.length < REPLY_HEADER_BYTES) return 'truncated reply';
    const id = readU32BE(bytes, 1);
    return { op: Opcode.REPLY, id, payload: bytes.subarray(REPLY_HEADER_BYTES) };
  }
  return `unknown opcode ${String(bytes[0])}`;
}

/** Parses a text control frame from a client. Returns a problem string for malformed input. */
export function parseClientControl(text: string): ClientControlFrame | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'control frame is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'control frame must be a JSON object';
  const frame = value as Record<string, unknown>;
  if (frame['type'] === 'refresh') {
    if (typeof frame['token'] !== 'string' || frame['token'].length === 0) return 'refresh frame needs a token';
    return { type: 'refresh', token: frame['token'] };
  }
  return `unknown control frame type ${JSON.stringify(frame['type'])}`;
}

function topicBytes(topic: string): Uint8Array {
  const problem = topicProblem(topic);
  if (problem !== undefined) throw new Error(`invalid topic ${JSON.stringify(topic)}: ${problem}`);
  return new TextEncoder().encode(topic);
}

/**
 * The request id of a REQUEST frame too malformed to parse as a whole (so an error can name the
 * request it answers), or undefined when there is none.
 */
export function requestIdOf(bytes: Uint8Array): number | undefined {
  if (bytes[0] !== Opcode.REQUEST || bytes.length < 5) return undefined;
  return readU32BE(bytes, 1);
}

/** What a resuming client sends on the upgrade URL (`?position=<n>&epoch=<e>`). */
export interface ResumePoint {
  readonly position: number;
  readonly epoch: string;
}

const EPOCH_RE = /^[A-Za-z0-9_-]{1,64}$/;
const POSITION_RE = /^(0|[1-9][0-9]{0,15})$/;

export function isValidEpoch(epoch: string): boolean {
  return EPOCH_RE.test(epoch);
}

/**
 * The resume point from the upgrade's query values: undefined when neither is given, a problem
 * string when malformed (only one of them, a position that is not a decimal integer below 2^53,
 * an epoch outside 1-64 characters of [A-Za-z0-9_-]).
 */
export function parseResumePoint(position: string | undefined, epoch: string | undefined): ResumePoint | undefined | string {
  if (position === undefined && epoch === undefined) return undefined;
  if (position === undefined || epoch === undefined) return 'position and epoch go together';
  if (!POSITION_RE.test(position)) return 'position must be a decimal integer';
  const n = Number(position);
  if (!Number.isSafeInteger(n)) return 'position must be below 2^53';
  if (!isValidEpoch(epoch)) return 'epoch must be 1-64 characters of [A-Za-z0-9_-]';
  return { position: n, epoch };
}
