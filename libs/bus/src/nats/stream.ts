/**
 * JetStream streams for the bus: create-or-update by the owner, state, reads by subject with
 * batched direct gets (`$JS.API.DIRECT.GET.<stream>` with `next_by_subj` and `batch`, nats-server
 * 2.11+), acknowledged publishes. nats.js's errors become the bus's typed ones.
 */
import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  jserrors,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig as NatsStreamConfig,
} from '@nats-io/jetstream/internal';
import { createInbox, RequestError, TimeoutError, type Msg } from '@nats-io/nats-core/internal';
import type { BusHeaders } from '../bus.js';
import {
  NoStreamError,
  StreamConfigError,
  StreamUnavailableError,
  type BusStream,
  type StoredMessage,
  type StreamConfig,
  type StreamPublishAck,
  type StreamPublishOptions,
  type StreamState,
} from '../stream.js';
import { assertPublishSubject } from '../subject.js';
import { copy, toNatsHeaders, type NatsClient } from './client.js';
import { NOT_YET_CODES } from './kv.js';

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_EXISTS = 10058;
const READ_BATCH = 256;
/** A pattern read over more positions than this streams through an ordered consumer instead of direct gets. */
const SCAN_ABOVE = 1024;
/** Messages per fetch of such a scan; a fetch with nothing left ends after SCAN_IDLE_MS. */
const SCAN_FETCH = 4096;
const SCAN_IDLE_MS = 1000;
const NS = 1_000_000;

function toStreamError(err: unknown, name: string): unknown {
  if (err instanceof JetStreamApiError) {
    if (err.code === STREAM_NOT_FOUND || NOT_YET_CODES.has(err.code)) {
      return new StreamUnavailableError(`stream ${name} is not available: ${err.message}`, { cause: err });
    }
    return err;
  }
  if (err instanceof jserrors.JetStreamNotEnabled || err instanceof TimeoutError || (err instanceof RequestError && err.isNoResponders())) {
    return new StreamUnavailableError(`stream ${name} is not available: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

function natsConfig(name: string, c: StreamConfig): Partial<NatsStreamConfig> & { name: string } {
  return {
    name,
    subjects: [...c.subjects],
    max_age: c.maxAgeMs * NS,
    max_msgs: c.maxMsgs > 0 ? c.maxMsgs : -1,
    max_bytes: c.maxBytes > 0 ? c.maxBytes : -1,
    num_replicas: c.replicas,
    duplicate_window: c.duplicateWindowMs * NS,
    allow_direct: true,
    ...(c.republish === undefined ? {} : { republish: { src: c.republish.src, dest: c.republish.dest } }),
  };
}

/** The stream's creation time, digits only: a recreated stream has another. */
function epochOf(created: string): string {
  const digits = created.replace(/[^0-9]/g, '');
  return digits === '' ? 'e0' : digits.slice(0, 64);
}

export class NatsStreams {
  private jsm: Promise<JetStreamManager> | undefined;
  private js: JetStreamClient | undefined;

  constructor(private readonly client: NatsClient) {}

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= jetstreamManager(this.client.nc, { timeout: 5000 }).catch((err: unknown) => {
      this.jsm = undefined;
      throw err;
    });
    return this.jsm;
  }

  async open(name: string, config: StreamConfig | undefined): Promise<BusStream> {
    let jsm: JetStreamManager;
    try {
      jsm = await this.manager();
      if (config === undefined) {
        await jsm.streams.info(name);
      } else {
        const wanted = natsConfig(name, config);
        try {
          await jsm.streams.add(wanted);
        } catch (err) {
          if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_EXISTS)) throw err;
          // Exists with other settings: the owner's (this caller's) configuration wins.
          try {
            await jsm.streams.update(name, wanted);
          } catch (updateErr) {
            if (updateErr instanceof JetStreamApiError && !NOT_YET_CODES.has(updateErr.code)) {
              throw new StreamConfigError(`stream ${name} exists and cannot be updated: ${updateErr.message}`, { cause: updateErr });
            }
            throw updateErr;
          }
        }
      }
    } catch (err) {
      throw toStreamError(err, name);
    }
    return new NatsStream(name, jsm, this.client);
  }

  async publish(subject: string, data: Uint8Array, options: StreamPublishOptions | undefined): Promise<StreamPublishAck> {
    assertPublishSubject(subject);
    this.js ??= jetstream(this.client.nc, { timeout: options?.timeoutMs ?? 5000 });
    const headers = toNatsHeaders(options?.headers);
    try {
      const ack = await this.js.publish(subject, copy(data), {
        ...(headers === undefined ? {} : { headers }),
        ...(options?.msgId === undefined ? {} : { msgID: options.msgId }),
        ...(options?.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (err instanceof RequestError && err.isNoResponders()) throw new NoStreamError(`no stream stores ${subject}`, { cause: err });
      if (err instanceof jserrors.JetStreamNotEnabled) throw new NoStreamError(`no stream stores ${subject}: ${err.message}`, { cause: err });
      throw err;
    }
  }
}

class NatsStream implements BusStream {
  constructor(
    readonly name: string,
    private readonly jsm: JetStreamManager,
    private readonly client: NatsClient,
  ) {}

  async state(): Promise<StreamState> {
    try {
      const info = await this.jsm.streams.info(this.name);
      const { first_seq, last_seq, messages } = info.state;
      return { epoch: epochOf(info.created), first: messages === 0 ? last_seq + 1 : first_seq, last: last_seq };
    } catch (err) {
      throw toStreamError(err, this.name);
    }
  }

  async read(subject: string, from: number, to: number, max: number): Promise<StoredMessage[]> {
    // Wide pattern reads (merged replays in a reconnect storm): an ordered consumer streams the
    // range about three times faster than batched direct gets, for the price of one ephemeral consumer.
    if (to - from + 1 > SCAN_ABOVE && max > SCAN_ABOVE && (subject.includes('*') || subject.includes('>'))) return this.scan(subject, from, to, max);
    const out: StoredMessage[] = [];
    let next = from;
    while (out.length < max && next <= to) {
      const want = Math.min(READ_BATCH, max - out.length);
      const got = await this.batch(subject, next, want);
      for (const m of got) {
        if (m.seq > to || out.length >= max) return out;
        out.push(m);
      }
      if (got.length < want) break;
      next = (got[got.length - 1] as StoredMessage).seq + 1;
    }
    return out;
  }

  private async scan(subject: string, from: number, to: number, max: number): Promise<StoredMessage[]> {
    const out: StoredMessage[] = [];
    try {
      const consumer = await jetstream(this.client.nc).consumers.get(this.name, { filter_subjects: [subject], deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
      for (;;) {
        const batch = await consumer.fetch({ max_messages: Math.min(SCAN_FETCH, max - out.length), expires: SCAN_IDLE_MS });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          if (m.seq > to) done = true;
          else out.push({ seq: m.seq, subject: m.subject, data: m.data, headers: m.headers as BusHeaders | undefined });
          // pending: messages matching the filter after this one, now.
          if (done || m.seq === to || m.info.pending === 0 || out.length >= max) {
            done = true;
            batch.stop();
            break;
          }
        }
        if (done || got === 0) return out;
      }
    } catch (err) {
      throw toStreamError(err, this.name);
    }
  }

  /** One batched direct get: messages until the EOB (204) or no-results (404) status. */
  private batch(subject: string, seq: number, batch: number): Promise<StoredMessage[]> {
    const nc = this.client.nc;
    return new Promise<StoredMessage[]>((resolve, reject) => {
      const out: StoredMessage[] = [];
      const inbox = createInbox();
      const sub = nc.subscribe(inbox, {
        timeout: 5000,
        callback: (err, msg: Msg) => {
          if (err !== null) {
            sub.unsubscribe();
            reject(new StreamUnavailableError(`direct get from ${this.name} failed: ${err.message}`, { cause: err }));
            return;
          }
          const code = msg.headers?.code ?? 0;
          if (code !== 0) {
            sub.unsubscribe();
            if (code === 204 || code === 404) resolve(out);
            else reject(new StreamUnavailableError(`direct get from ${this.name}: ${code} ${msg.headers?.description ?? ''}`));
            return;
          }
          const h = msg.headers as BusHeaders | undefined;
          out.push({ seq: Number(h?.get('Nats-Sequence')), subject: h?.get('Nats-Subject') ?? subject, data: msg.data, headers: h });
        },
      });
      nc.publish(`$JS.API.DIRECT.GET.${this.name}`, JSON.stringify({ seq, next_by_subj: subject, batch }), { reply: inbox });
    });
  }

  async delete(): Promise<void> {
    try {
      await this.jsm.streams.delete(this.name);
    } catch (err) {
      throw toStreamError(err, this.name);
    }
  }
}
