/**
 * What the services need from a message bus, and nothing more. Two implementations:
 * - NatsBus: core NATS + JetStream KV (any number of processes and nodes);
 * - MemoryBus: in-process, for a single-process deployment (like Centrifugo's memory broker).
 * ONE conformance suite (test/conformance.ts) runs against both; a behaviour not in it is not part
 * of the contract.
 *
 * Messages are handed to handlers as the bus received them (for NATS: the nats.js Msg itself), so
 * the edge's hot path does not allocate a wrapper per message.
 */

/** Read access to message headers. `get` returns '' for a missing header (as nats.js does). */
export interface BusHeaders {
  get(name: string): string;
  has(name: string): boolean;
}

export interface BusMessage {
  readonly subject: string;
  /** Payload bytes exactly as published. May be a view into a larger buffer: copy before keeping. */
  readonly data: Uint8Array;
  /** Undefined when the publisher sent no headers (the common, fast case). */
  readonly headers?: BusHeaders | undefined;
  /** Reply subject for request/reply; undefined or '' (nats.js) when there is none: test truthiness. */
  readonly reply?: string | undefined;
}

export type MessageHandler = (msg: BusMessage) => void;

export type HeaderValues = Readonly<Record<string, string>>;

export interface SubscribeOptions {
  /** Queue group: each message goes to exactly one subscriber of the group. */
  readonly queue?: string;
}

export interface BusSubscription {
  readonly subject: string;
  unsubscribe(): void;
}

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly headers?: HeaderValues;
}

export class NoRespondersError extends Error {
  override readonly name = 'NoRespondersError';
}
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

export interface KvEntry {
  readonly key: string;
  /** undefined for a delete/purge marker seen by a watcher */
  readonly value: Uint8Array | undefined;
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL';
}

export interface KvStore {
  readonly bucket: string;
  get(key: string): Promise<KvEntry | undefined>;
  /** Writes unconditionally; returns the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key does not exist (or was deleted); throws KvConflictError otherwise. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key's last revision is `revision`; throws KvConflictError otherwise. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
  /**
   * Calls `onEntry` for every current entry (initial values), then `onReady` once, then for every
   * later change, in revision order. Returns a function that stops the watch. Rejects with a
   * KvNotReadyError while the bucket cannot be reached yet (retry it, as openKvWhenReady does).
   */
  watch(onEntry: (entry: KvEntry) => void, onReady?: () => void): Promise<() => void>;
}

export class KvConflictError extends Error {
  override readonly name = 'KvConflictError';
}

/** What a bucket keeps, as its creator set it. */
export interface KvSettings {
  /** Copies of the bucket in a NATS cluster (the memory bus records it but keeps one). */
  readonly replicas: number;
  /** Revisions kept per key. */
  readonly history: number;
}

/** A KvStore as `Bus.kv` opens it: also tells the bucket's settings (a non-owner checks and logs them). */
export interface KvBucket extends KvStore {
  /** Read from the server each call (for NATS: the stream's current configuration). */
  settings(): Promise<KvSettings>;
}

export interface KvOptions {
  /** Replicas in a NATS cluster (recorded, not used, by the memory bus). Default 1 when creating. */
  readonly replicas?: number;
  /** Revisions kept per key. Default 1 when creating. */
  readonly history?: number;
  /**
   * - `true`: the OWNER of the bucket. Creates it, or opens it if it exists; when the existing
   *   bucket's replicas or history differ from the ones asked for (defaults included), rejects with
   *   KvSettingsMismatchError instead of silently using the first creator's settings.
   * - `false`: opens an existing bucket only (KvBucketMissingError when absent). `replicas` and
   *   `history`, when given, are the settings expected: KvSettingsMismatchError if they differ.
   * - unset (the legacy behaviour): creates or opens, and never compares settings.
   * Both explicit modes reject with KvUnavailableError while the server cannot answer yet.
   */
  readonly create?: boolean;
}

/** The bucket exists with other settings than the caller asked for (a configuration error: not retried). */
export class KvSettingsMismatchError extends Error {
  override readonly name = 'KvSettingsMismatchError';
  constructor(
    readonly bucket: string,
    readonly expected: Partial<KvSettings>,
    readonly actual: KvSettings,
  ) {
    const parts: string[] = [];
    if (expected.replicas !== undefined && expected.replicas !== actual.replicas) {
      parts.push(`replicas ${actual.replicas} (expected ${expected.replicas})`);
    }
    if (expected.history !== undefined && expected.history !== actual.history) {
      parts.push(`history ${actual.history} (expected ${expected.history})`);
    }
    super(`KV bucket ${bucket} exists with ${parts.join(' and ')}`);
  }
}

/** The bucket cannot be opened YET; retrying later can succeed (openKvWhenReady does). */
export abstract class KvNotReadyError extends Error {
  readonly retryable = true;
  constructor(
    readonly bucket: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** `kv(bucket, { create: false })`: the bucket does not exist (yet): its owner may not have created it. */
export class KvBucketMissingError extends KvNotReadyError {
  override readonly name = 'KvBucketMissingError';
  constructor(bucket: string, options?: ErrorOptions) {
    super(bucket, `KV bucket ${bucket} does not exist`, options);
  }
}

/**
 * The KV service cannot answer yet (for NATS: JetStream without a meta leader, a stream not yet
 * visible while a cluster forms, API timeouts, JetStream not answering).
 */
export class KvUnavailableError extends KvNotReadyError {
  override readonly name = 'KvUnavailableError';
  constructor(bucket: string, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(bucket, `KV bucket ${bucket} is not available yet${cause}`, options);
  }
}

/** subscribe() past the bus's own subscription budget (`maxSubscriptions`): refused locally, before the server would. */
export class SubscriptionLimitError extends Error {
  override readonly name = 'SubscriptionLimitError';
  constructor(
    readonly subject: string,
    readonly limit: number,
  ) {
    super(`subscription to ${subject} refused: the bus holds its limit of ${limit} subscriptions`);
  }
}

export type BusEvent =
  | { readonly type: 'disconnected' }
  | { readonly type: 'reconnected' }
  /** The server refused something asynchronously (e.g. "maximum subscriptions exceeded"). */
  | { readonly type: 'error'; readonly error: Error }
  /** A subscription the server refused: its subscriber will receive nothing. */
  | { readonly type: 'subscription-error'; readonly subject: string; readonly error: Error };

import type { BusStream, StreamConfig, StreamPublishAck, StreamPublishOptions } from './stream.js';
export * from './stream.js';

export interface Bus {
  /** 'nats' or 'memory', for logs and health. */
  readonly kind: 'nats' | 'memory';
  /** `data` is copied before publish returns: the caller may reuse its buffer at once. */
  publish(subject: string, data: Uint8Array, headers?: HeaderValues): void;
  /**
   * Throws SubscriptionLimitError when the bus was given a `maxSubscriptions` budget and holds that
   * many already (nothing is sent to the server then).
   */
  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): BusSubscription;
  /** Answers a request message; false when the message has no reply subject. */
  respond(msg: BusMessage, data: Uint8Array, headers?: HeaderValues): boolean;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage>;
  /**
   * Resolves once the bus server has processed everything sent before this call (subscriptions
   * included). Many concurrent callers share one round trip.
   */
  flush(): Promise<void>;
  /** See KvOptions.create for who creates a bucket and who only opens it; openKvWhenReady retries. */
  kv(bucket: string, options?: KvOptions): Promise<KvBucket>;
  /**
   * A stream of stored messages. With `config` (its owner): creates it, or updates an existing one
   * to `config`. Without: opens an existing one. Rejects with StreamUnavailableError while it does
   * not exist or JetStream cannot answer yet (retry), StreamConfigError for a refused configuration.
   */
  stream(name: string, config?: StreamConfig): Promise<BusStream>;
  /**
   * Publishes to a subject a stream stores and waits for the stream's acknowledgement (for NATS: a
   * JetStream publish). Rejects with NoStreamError when no stream stores the subject.
   */
  publishStored(subject: string, data: Uint8Array, options?: StreamPublishOptions): Promise<StreamPublishAck>;
  /** Asynchronous events: connection loss, refused subscriptions. */
  onEvent(listener: (event: BusEvent) => void): () => void;
  /** Whether the bus is connected now (always true for the memory bus until closed). */
  isConnected(): boolean;
  /** Flushes pending publishes, then closes. */
  close(): Promise<void>;
}
