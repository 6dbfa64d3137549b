export * from './bus.js';
export type { BusLogger } from './logger.js';
export { MemoryBroker, type MemoryClientOptions } from './memory-bus.js';
export { connectNatsBus, type NatsBusOptions } from './nats-bus.js';
export {
  NatsSettingsError,
  type NatsAuth,
  type NatsConnectionSettings,
  type NatsTls,
  type SecretSource,
} from './nats/connection-settings.js';
export { openKvWhenReady, openStreamWhenReady, type KvWaitOptions } from './kv-ready.js';

import type { Bus } from './bus.js';
import type { BusLogger } from './logger.js';
import { MemoryBroker } from './memory-bus.js';
import { connectNatsBus } from './nats-bus.js';
import type { NatsConnectionSettings } from './nats/connection-settings.js';

export interface CreateBusConfig {
  /** NATS server URL(s), comma-separated; unset or empty = the in-process bus. */
  readonly natsUrl?: string | undefined;
  /** Connection name (shows in the NATS server's monitoring) or memory client name. */
  readonly name: string;
  readonly logger?: BusLogger | undefined;
  /** NATS only: see NatsBusOptions.lightSubscriptions (default true). */
  readonly lightSubscriptions?: boolean | undefined;
  /** See NatsBusOptions.maxSubscriptions and MemoryClientOptions.maxSubscriptions (default: none). */
  readonly maxSubscriptions?: number | undefined;
  /** NATS only: authentication and TLS (ServiceConfig.nats carries them from the environment). */
  readonly nats?: NatsConnectionSettings | undefined;
}

/**
 * NATS when `natsUrl` is set, else a client of `broker` (or of a new MemoryBroker: pass one broker
 * to every service of a single-process deployment so they share it).
 */
export async function createBus(config: CreateBusConfig, broker?: MemoryBroker): Promise<Bus> {
  const url = config.natsUrl?.trim();
  if (url) {
    const servers = url.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    return connectNatsBus({
      servers,
      name: config.name,
      logger: config.logger,
      lightSubscriptions: config.lightSubscriptions,
      maxSubscriptions: config.maxSubscriptions,
      connection: config.nats,
    });
  }
  return (broker ?? new MemoryBroker()).connect(config.name, { logger: config.logger, maxSubscriptions: config.maxSubscriptions });
}
