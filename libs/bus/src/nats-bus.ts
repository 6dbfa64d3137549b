/**
 * The NATS bus: a composition of one job per module in src/nats/:
 * - client.ts: the connection, publish, respond, request, shared flush, state and bus events;
 * - subscriptions.ts: subscriptions (light ones registered with nats.js directly, or nats.js's
 *   own), the optional subscription budget;
 * - refusals.ts: naming the subscriptions a server refused past its `max_subs`;
 * - kv.ts: JetStream KV buckets (owner creates, others open and check) and their stores;
 * - stream.ts: JetStream streams (durable pushes, lifecycle events): create or update, state,
 *   reads by subject with batched direct gets, acknowledged publishes;
 * - internals.ts: the typed nats.js internals the light subscriptions and refusal detection use;
 * - connection-settings.ts: authentication and TLS.
 */
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type {
  Bus,
  BusEvent,
  BusMessage,
  BusSubscription,
  HeaderValues,
  KvBucket,
  KvOptions,
  MessageHandler,
  RequestOptions,
  SubscribeOptions,
} from './bus.js';
import type { BusLogger } from './logger.js';
import { NatsClient } from './nats/client.js';
import { describeNatsConnection, natsConnectOptions, type NatsConnectionSettings } from './nats/connection-settings.js';
import { lightProtocol, pendingBytes } from './nats/internals.js';
import { openNatsKv } from './nats/kv.js';
import { NatsStreams } from './nats/stream.js';
import type { BusStream, StreamConfig, StreamPublishAck, StreamPublishOptions } from './stream.js';
import { RefusalDetector } from './nats/refusals.js';
import { NatsSubscriptions } from './nats/subscriptions.js';

export interface NatsBusOptions {
  readonly servers: string | string[];
  readonly name?: string | undefined;
  readonly logger?: BusLogger | undefined;
  /** -1 = forever (the default: an edge must come back rather than die). */
  readonly maxReconnectAttempts?: number | undefined;
  /** Client-side pings to detect a dead or frozen server (default 5000 ms; 2 outstanding pings fail the connection). */
  readonly pingIntervalMs?: number | undefined;
  /**
   * Register subscriptions with nats.js's protocol handler directly (about 210 B each instead of
   * about 1.4 KiB; see src/nats/internals.ts). Default true; false uses nats.js's public
   * `nc.subscribe`, the path every nats.js version supports.
   */
  readonly lightSubscriptions?: boolean | undefined;
  /**
   * The most subscriptions this bus holds at once; subscribe() beyond it throws
   * SubscriptionLimitError without asking the server. Set it below the server's `max_subs`,
   * leaving room for what the bus and nats.js subscribe on their own (one marker subscription, one
   * request inbox once request() is used, one per KV watch or key listing in progress), so the
   * server never has to refuse (refusals.ts then has nothing to guess). Default: no budget.
   */
  readonly maxSubscriptions?: number | undefined;
  /** Authentication and TLS (see src/nats/connection-settings.ts). Default: neither. */
  readonly connection?: NatsConnectionSettings | undefined;
}

class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private kvm: Kvm | undefined;
  private streams: NatsStreams | undefined;

  constructor(
    private readonly client: NatsClient,
    private readonly subscriptions: NatsSubscriptions,
  ) {}

  publish(subject: string, data: Uint8Array, headers?: HeaderValues): void {
    this.client.publish(subject, data, headers);
  }

  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): BusSubscription {
    return this.subscriptions.subscribe(subject, handler, options?.queue);
  }

  /** @internal Whether subscriptions skip nats.js's SubscriptionImpl (see src/nats/internals.ts). */
  get lightSubscriptions(): boolean {
    return this.subscriptions.light;
  }

  /** @internal Subscriptions held now (what the budget counts). */
  get subscriptionCount(): number {
    return this.subscriptions.count;
  }

  /** @internal For tests that act on the nats.js connection itself (drain). */
  get nc(): NatsClient['nc'] {
    return this.client.nc;
  }

  respond(msg: BusMessage, data: Uint8Array, headers?: HeaderValues): boolean {
    return this.client.respond(msg, data, headers);
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    return this.client.request(subject, data, options.timeoutMs, options.headers);
  }

  flush(): Promise<void> {
    return this.client.flush();
  }

  kv(bucket: string, options?: KvOptions): Promise<KvBucket> {
    this.kvm ??= new Kvm(this.client.nc);
    return openNatsKv(this.client, this.kvm, bucket, options);
  }

  stream(name: string, config?: StreamConfig): Promise<BusStream> {
    this.streams ??= new NatsStreams(this.client);
    return this.streams.open(name, config);
  }

  publishStored(subject: string, data: Uint8Array, options?: StreamPublishOptions): Promise<StreamPublishAck> {
    this.streams ??= new NatsStreams(this.client);
    return this.streams.publish(subject, data, options);
  }

  onEvent(listener: (event: BusEvent) => void): () => void {
    return this.client.onEvent(listener);
  }

  isConnected(): boolean {
    return this.client.isConnected();
  }

  /** Traffic counters, read at scrape time (runtime's registerBusMetrics picks this method up). */
  stats(): { inMsgs: number; outMsgs: number; inBytes: number; outBytes: number; pendingBytes: number } {
    const s = this.client.nc.stats();
    return { inMsgs: s.inMsgs, outMsgs: s.outMsgs, inBytes: s.inBytes, outBytes: s.outBytes, pendingBytes: pendingBytes(this.client.nc) };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export async function connectNatsBus(options: NatsBusOptions): Promise<Bus> {
  const limit = options.maxSubscriptions;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(`invalid maxSubscriptions ${limit}: an integer from 1`);
  }
  const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
  const security = natsConnectOptions(servers, options.connection, options.logger);
  options.logger?.info({ servers: servers.length, ...describeNatsConnection(servers, options.connection) }, 'connecting to NATS');
  const nc = await connect({
    servers,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...security,
    // nats.js waits 20 s by default for a connect to complete; a TLS handshake the server refused
    // (a missing client certificate) shows up only as that timeout. nats.go waits 2 s.
    timeout: 5000,
    maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
    // nats.js waits 2 s between attempts on the same server by default; an edge's users are deaf
    // meanwhile, and the other cluster nodes are tried in between anyway.
    reconnectTimeWait: 500,
    // Every edge and registry replica reconnects when a NATS node returns: spread them out.
    reconnectJitter: 500,
    reconnectJitterTLS: 1000,
    // nats.js gives up after the same authentication error twice, even with attempts left; a
    // server restarting with reloaded accounts, or a secret being rotated, must not end the
    // connection for good (secrets are re-read on every attempt).
    ignoreAuthErrorAbort: true,
    // nats.js pings every 2 minutes by default: a frozen server (SIGSTOP, a stalled VM) would go
    // unnoticed that long while pushes wait. 5 s x 2 outstanding pings declares it dead in ~10-15 s.
    pingInterval: options.pingIntervalMs ?? 5000,
    maxPingOut: 2,
  });
  try {
    const client = new NatsClient(nc, options.logger);
    const protocol = options.lightSubscriptions === false ? undefined : lightProtocol(nc);
    const subscriptions = new NatsSubscriptions(client, protocol, limit);
    const status = nc.status();
    // Before any subscription of the bus: its marker subscription must have the lowest sid.
    const refusals = new RefusalDetector(client, subscriptions, status);
    subscriptions.observe(refusals);
    client.watchStatus(status, refusals);
    return new NatsBus(client, subscriptions);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

export type { NatsBus };
