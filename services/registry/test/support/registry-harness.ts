import type { Bus, BusMessage } from '@session-mesh/bus';
import { createSubjects, parseDisconnectEvent, parsePresenceEvent, type DisconnectEvent, type PresenceEvent } from '@session-mesh/protocol';
import { createLogger, Health } from '@session-mesh/runtime';
import { loadRegistryConfig, type RegistryConfig } from '../../src/config.js';
import { startRegistry, type RegistryHandle } from '../../src/registry.js';

export const subjects = createSubjects('mesh');
export const logger = createLogger({ name: 'registry-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

export function testConfig(overrides: Partial<RegistryConfig> = {}): RegistryConfig {
  // From the real loader, so every field a service shares (bus, ops port, ...) has its real default.
  return {
    ...loadRegistryConfig({ MESH_LOG_LEVEL: 'silent', MESH_OPS_HOST: '127.0.0.1', MESH_OPS_PORT: '0', MESH_SHUTDOWN_TIMEOUT_MS: '1000' }),
    registryId: 'reg',
    edgeLostAfterMs: 300,
    settleMs: 50,
    leaseTtlMs: 2_000,
    leaseRenewMs: 100,
    // Most tests assert offline at once; the grace has its own tests.
    presenceGraceMs: 0,
    ...overrides,
  };
}

export interface Replica {
  readonly bus: Bus;
  readonly health: Health;
  readonly registry: RegistryHandle;
}

export async function startReplica(bus: Bus, overrides: Partial<RegistryConfig> = {}): Promise<Replica> {
  const health = new Health();
  const registry = await startRegistry({ bus, logger, health, config: testConfig(overrides), subjects });
  return { bus, health, registry };
}

/** Records what the registry publishes for others: presence changes and purge disconnects. */
export class Observer {
  readonly presence: PresenceEvent[] = [];
  readonly purges: DisconnectEvent[] = [];
  readonly snapshotRequests: string[] = [];

  constructor(bus: Bus) {
    bus.subscribe(subjects.presenceAll(), (msg: BusMessage) => {
      const p = parsePresenceEvent(msg.data);
      if (!p.ok) throw new Error(`registry published an invalid presence event: ${p.error}`);
      this.presence.push(p.value);
    });
    bus.subscribe(subjects.eventDisconnect(), (msg: BusMessage) => {
      const d = parseDisconnectEvent(msg.data);
      if (d.ok && d.value.code === 0) this.purges.push(d.value);
    });
    bus.subscribe(subjects.snapshotRequestAll(), (msg) => this.snapshotRequests.push(msg.subject));
    bus.subscribe(`${subjects.prefix}.edge.*.snapshot`, (msg) => this.snapshotRequests.push(msg.subject));
  }

  presenceOf(user: string): Array<PresenceEvent['status']> {
    return this.presence.filter((p) => p.user === user).map((p) => p.status);
  }
}
