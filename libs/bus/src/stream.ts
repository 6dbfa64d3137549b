/**
 * Stored messages: the part of the bus durable pushes and the lifecycle events stream need, and no
 * more. For NATS a stream is a JetStream stream; the memory bus keeps the same semantics in
 * process (sequences per stream, retention, an epoch per incarnation, republish with the same
 * headers). The conformance suite holds both to it.
 */
import type { BusHeaders, HeaderValues } from './bus.js';

export interface StreamConfig {
  /** Subjects (patterns) the stream stores. */
  readonly subjects: readonly string[];
  /** Oldest message kept, ms (0: no age limit). */
  readonly maxAgeMs: number;
  /** Messages kept (0: no count limit). */
  readonly maxMsgs: number;
  /** Bytes kept (0: no size limit). */
  readonly maxBytes: number;
  /** Copies in a NATS cluster (the memory bus keeps one). */
  readonly replicas: number;
  /** Window in which a repeated Nats-Msg-Id is stored once, ms. */
  readonly duplicateWindowMs: number;
  /**
   * Forward each stored message, as it is stored, to `dest` (a subject transform of `src`, e.g.
   * `a.*.*` -> `b.{{wildcard(1)}}.{{wildcard(2)}}`) with the headers Nats-Stream, Nats-Subject,
   * Nats-Sequence, Nats-Time-Stamp and Nats-Last-Sequence (the previous sequence stored on the
   * same subject, 0 for none) added to the publisher's.
   */
  readonly republish?: { readonly src: string; readonly dest: string } | undefined;
}

export interface StreamState {
  /** Names this incarnation of the stream: a recreated stream has another epoch. [A-Za-z0-9_-]. */
  readonly epoch: string;
  /** First sequence still stored (last + 1 when the stream holds nothing). */
  readonly first: number;
  /** Last sequence ever stored (0 when never written). */
  readonly last: number;
}

export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: BusHeaders | undefined;
}

export interface StreamPublishAck {
  readonly stream: string;
  readonly seq: number;
  /** The Nats-Msg-Id was seen within the duplicate window: stored once, earlier. */
  readonly duplicate: boolean;
}

export interface StreamPublishOptions {
  readonly headers?: HeaderValues | undefined;
  /** Idempotence key (Nats-Msg-Id). */
  readonly msgId?: string | undefined;
  /** How long to wait for the stream's acknowledgement. Default 5000 ms. */
  readonly timeoutMs?: number | undefined;
}

export interface BusStream {
  readonly name: string;
  /** Read from the server each call. */
  state(): Promise<StreamState>;
  /**
   * Messages stored under `subject` (exact, or a pattern with `*` / `>`) with `from <= seq <= to`,
   * in order, at most `max` (fewer when the range holds fewer). For NATS: direct gets, batched.
   */
  read(subject: string, from: number, to: number, max: number): Promise<StoredMessage[]>;
  /** Deletes the stream and everything in it (operators, tests: a new one gets a new epoch). */
  delete(): Promise<void>;
}

/** No stream stores this subject (a durable publish nobody would keep). */
export class NoStreamError extends Error {
  override readonly name = 'NoStreamError';
}

/** The stream does not exist (yet), or JetStream cannot answer yet: retry later. */
export class StreamUnavailableError extends Error {
  override readonly name = 'StreamUnavailableError';
  readonly retryable = true;
}

/** The stream exists with another configuration than its owner asks for, and it cannot be updated to it. */
export class StreamConfigError extends Error {
  override readonly name = 'StreamConfigError';
}

/** The headers JetStream sets on republished and directly read messages, and the idempotence key. */
export const JS_HEADERS = {
  Stream: 'Nats-Stream',
  Subject: 'Nats-Subject',
  Sequence: 'Nats-Sequence',
  TimeStamp: 'Nats-Time-Stamp',
  LastSequence: 'Nats-Last-Sequence',
  MsgId: 'Nats-Msg-Id',
} as const;
