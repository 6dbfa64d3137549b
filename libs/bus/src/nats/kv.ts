/**
 * JetStream KV for the bus: opening a bucket as its owner (create) or as a user (open only), with
 * the settings checked and nats.js's errors mapped to the bus's typed ones, and the KvStore itself.
 */
import { JetStreamApiCodes, JetStreamApiError, jserrors } from '@nats-io/jetstream/internal';
import { Kvm, type KV, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import { RequestError, TimeoutError } from '@nats-io/nats-core/internal';
import {
  KvBucketMissingError,
  KvConflictError,
  KvUnavailableError,
  type KvBucket,
  type KvEntry,
  type KvOptions,
  type KvSettings,
} from '../bus.js';
import { reportHandlerError, type BusLogger } from '../logger.js';
import { assertBucketName, assertHistory, assertKvKey, assertKvSettings, assertReplicas, kvSettingsExpected, kvSettingsWanted } from '../rules.js';
import { copy, type NatsClient } from './client.js';

/**
 * JetStream API answers that mean "not yet" while a cluster forms or loses its meta leader
 * (nats-server's errors.json): JSClusterNoPeersErrF 10005 (no suitable peers for placement),
 * JSClusterNotAvailErr 10008 (JetStream system temporarily unavailable), JSClusterNotLeaderErr
 * 10009, JSInsufficientResourcesErr 10023.
 */
export const NOT_YET_CODES: ReadonlySet<number> = new Set([10005, 10008, 10009, 10023]);
/** JSStreamNameExistErr: another owner created the bucket with a different configuration first. */
const STREAM_NAME_EXISTS = 10058;

/**
 * nats.js's error as the bus's: KvBucketMissingError when the stream does not exist and that is
 * meaningful (opening only), KvUnavailableError for every "JetStream cannot answer yet" (no meta
 * leader: requests time out or find no responders; a stream not yet visible on this node).
 */
export function toKvError(err: unknown, bucket: string, missingIsAbsent: boolean): unknown {
  if (err instanceof JetStreamApiError) {
    if (err.code === JetStreamApiCodes.StreamNotFound) {
      return missingIsAbsent ? new KvBucketMissingError(bucket, { cause: err }) : new KvUnavailableError(bucket, { cause: err });
    }
    if (NOT_YET_CODES.has(err.code)) return new KvUnavailableError(bucket, { cause: err });
    return err;
  }
  if (
    err instanceof jserrors.JetStreamNotEnabled ||
    err instanceof TimeoutError ||
    (err instanceof RequestError && err.isNoResponders())
  ) {
    return new KvUnavailableError(bucket, { cause: err });
  }
  return err;
}

/** Opens `bucket` as KvOptions.create says. One Kvm per bus (nats.js's KV manager). */
export async function openNatsKv(client: NatsClient, kvm: Kvm, bucket: string, options: KvOptions | undefined): Promise<KvBucket> {
  assertBucketName(bucket);
  if (options?.history !== undefined) assertHistory(options.history);
  if (options?.replicas !== undefined) assertReplicas(options.replicas);
  const wanted = kvSettingsWanted(options);
  if (options?.create === undefined) {
    // Legacy create-or-open: an existing bucket keeps its first creator's settings, unchecked.
    return new NatsKvStore(bucket, await kvm.create(bucket, { ...wanted }), client);
  }
  if (options.create) {
    let kv: KV;
    try {
      kv = await kvm.create(bucket, { ...wanted });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === STREAM_NAME_EXISTS) {
        // Lost a creation race to an owner with other settings: name them.
        const other = new NatsKvStore(bucket, await kvm.open(bucket), client);
        assertKvSettings(bucket, wanted, await other.settings());
      }
      throw toKvError(err, bucket, false);
    }
    const store = new NatsKvStore(bucket, kv, client);
    // The creation call just answered: a stream not found now means "not visible yet".
    const actual = await store.settings().catch((err: unknown) => {
      throw err instanceof KvBucketMissingError ? new KvUnavailableError(bucket, { cause: err.cause }) : err;
    });
    assertKvSettings(bucket, wanted, actual);
    return store;
  }
  // Open only: bind (nats.js sends nothing), then read the stream's settings, which proves it exists.
  const bound = await kvm.open(bucket).catch((err: unknown) => {
    throw toKvError(err, bucket, true);
  });
  const store = new NatsKvStore(bucket, bound, client);
  assertKvSettings(bucket, kvSettingsExpected(options), await store.settings());
  return store;
}

function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown) {
    return true;
  }
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}

function toEntry(e: NatsKvEntry): KvEntry {
  const live = e.operation === 'PUT';
  return { key: e.key, value: live ? e.value : undefined, revision: e.revision, operation: live ? 'PUT' : 'DEL' };
}

/**
 * The initial values of a last-value-per-key watcher, kept robust to consumer replays: the newest
 * revision per key wins, and the set is complete at the first entry with nothing pending.
 */
class InitialValues {
  private readonly latest = new Map<string, KvEntry>();
  /** Returns true when the initial values are complete. */
  add(e: NatsKvEntry): boolean {
    const prev = this.latest.get(e.key);
    if (prev === undefined || prev.revision < e.revision) this.latest.set(e.key, toEntry(e));
    return e.delta === 0;
  }
  /** Every key's newest entry (deletes included), in revision order. */
  take(): KvEntry[] {
    const out = [...this.latest.values()].sort((x, y) => x.revision - y.revision);
    this.latest.clear();
    return out;
  }
}

class NatsKvStore implements KvBucket {
  constructor(
    readonly bucket: string,
    private readonly kv: KV,
    private readonly client: NatsClient,
  ) {}

  private get logger(): BusLogger | undefined {
    return this.client.logger;
  }

  async settings(): Promise<KvSettings> {
    try {
      const status = await this.kv.status();
      return { replicas: status.replicas, history: status.history };
    } catch (err) {
      throw toKvError(err, this.bucket, true);
    }
  }

  async get(key: string): Promise<KvEntry | undefined> {
    assertKvKey(key);
    const e = await this.kv.get(key);
    if (e === null || e.operation !== 'PUT') return undefined;
    return { key, value: e.value, revision: e.revision, operation: 'PUT' };
  }

  put(key: string, value: Uint8Array): Promise<number> {
    assertKvKey(key);
    return this.kv.put(key, copy(value));
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    assertKvKey(key);
    try {
      return await this.kv.create(key, copy(value));
    } catch (err) {
      if (isConflict(err)) throw new KvConflictError(`key ${key} exists`, { cause: err });
      throw err;
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    assertKvKey(key);
    if (!Number.isInteger(revision) || revision <= 0) throw new Error(`invalid revision ${revision}: must be > 0`);
    try {
      return await this.kv.update(key, copy(value), revision);
    } catch (err) {
      if (isConflict(err)) throw new KvConflictError(`wrong last revision for ${key}: expected ${revision}`, { cause: err });
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertKvKey(key);
    await this.kv.delete(key);
  }

  async keys(): Promise<string[]> {
    // Not nats.js's kv.keys(): its consumer, once recreated (see watch), replays history and then
    // lists deleted keys, or stops early and lists none (both seen here under CPU load).
    const status = await this.kv.status();
    if (status.values === 0) return [];
    const iter = await this.kv.watch({ headers_only: true });
    const initial = new InitialValues();
    const timer = setTimeout(() => iter.stop(new Error(`listing the keys of KV bucket ${this.bucket} timed out`)), 30_000);
    try {
      for await (const e of iter) {
        if (initial.add(e)) break;
      }
    } finally {
      clearTimeout(timer);
      iter.stop();
    }
    return initial
      .take()
      .filter((e) => e.operation === 'PUT')
      .map((e) => e.key);
  }

  /** The stream's state, then a watcher; "not there yet" as the bus's typed errors (a cluster may still be forming). */
  private async startWatch(): Promise<{ status: { values: number }; iter: Awaited<ReturnType<KV['watch']>> }> {
    try {
      const status = await this.kv.status();
      return { status, iter: await this.kv.watch() };
    } catch (err) {
      throw toKvError(err, this.bucket, true);
    }
  }

  async watch(onEntry: (entry: KvEntry) => void, onReady?: () => void): Promise<() => void> {
    let ready = false;
    const markReady = (): void => {
      ready = true;
      if (onReady === undefined) return;
      try {
        onReady();
      } catch (err) {
        reportHandlerError(this.logger, `kv:${this.bucket}:ready`, err);
      }
    };
    // nats.js 3.4 has no "initial values done" callback. The watcher is an ordered consumer on
    // the last value per key; each entry carries `delta`, the messages still pending after it,
    // so the first entry with delta 0 ends the initial values. An empty bucket sends nothing at
    // all, hence the status check first (a write racing it is then simply a live change).
    // The initial values are collected per key and handed over in revision order once complete:
    // nats.js recreates an ordered consumer on a delivery-sequence gap or missed heartbeats
    // (jetstream pushconsumer `reset()`), with DeliverPolicy StartSequence from the last stream
    // sequence it saw + 1, i.e. from 1 if it saw nothing yet. That replays the whole history
    // (seen here under CPU load), which must not leak out as "current entries".
    const { status, iter } = await this.startWatch();
    if (status.values === 0) markReady();
    const deliver = (e: KvEntry): void => {
      try {
        onEntry(e);
      } catch (err) {
        reportHandlerError(this.logger, `kv:${e.key}`, err);
      }
    };
    void (async () => {
      const initial = new InitialValues();
      let lastRevision = 0;
      try {
        for await (const e of iter) {
          if (!ready) {
            if (!initial.add(e)) continue;
            for (const entry of initial.take()) {
              lastRevision = Math.max(lastRevision, entry.revision);
              // Deleted keys are not "current entries".
              if (entry.operation === 'PUT') deliver(entry);
            }
            markReady();
            continue;
          }
          // A recreated consumer resumes after the last sequence it saw; never go backwards.
          if (e.revision <= lastRevision) continue;
          lastRevision = e.revision;
          deliver(toEntry(e));
        }
      } catch (err) {
        this.logger?.error({ err, bucket: this.bucket }, 'KV watch ended with an error');
      }
    })();
    const unregister = this.client.onClose(() => iter.stop());
    return (): void => {
      unregister();
      iter.stop();
    };
  }
}

