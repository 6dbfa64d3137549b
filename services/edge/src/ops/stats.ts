import type { LimitStats } from '../admission/limits.js';
import type { CanaryStats } from '../broker/canary.js';
import type { BrokerStats } from '../broker/edge-broker.js';
import type { OutboundStats } from '../connection/connection.js';
import type { ConnectionsStats } from '../connection/connections.js';
import type { DurablePushes, DurableStats } from '../durable/durable-pushes.js';
import type { ReplayReadStats } from '../durable/replay-reads.js';
import type { RoleTable } from '../connection/identity.js';
import type { BlacklistView } from '../control/blacklist-view.js';
import type { SweepStats } from '../control/sweeper.js';
import type { HubStats, Hub } from '../hub/hub.js';
import type { InboundStats } from '../inbound/inbound.js';
import type { LifecycleEvents } from '../lifecycle/lifecycle-events.js';
import type { UpgradeStats } from '../transport/uws-transport.js';
import type { StallMonitor } from './stall-monitor.js';

/** What GET /stats on the ops port answers. Counters are plain numbers, read here at request time. */
export interface EdgeStats {
  readonly edgeId: string;
  /** Open sockets, welcomed or not. */
  readonly connections: number;
  /** Sockets announced to the registry (welcome sent). */
  readonly welcomed: number;
  readonly users: number;
  readonly sessions: number;
  readonly hub: HubStats;
  readonly outbound: OutboundStats;
  readonly broker: BrokerStats;
  readonly canary: CanaryStats;
  readonly limits: LimitStats;
  readonly connectionEvents: ConnectionsStats;
  readonly sweeps: SweepStats;
  readonly blacklistClosed: number;
  readonly blacklistEntries: number;
  readonly upgrades: UpgradeStats;
  readonly inbound: InboundStats;
  /** Durable pushes and resumes (absent when MESH_DURABLE=false); `replaysWaiting`: resumes queued for a replay slot. */
  readonly durable?: DurableStats & ReplayReadStats & { readonly replaysWaiting: number };
  readonly internedRoleSets: number;
  readonly eventLoopMaxDelayMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Memory outside the JS heap that V8 knows of (ArrayBuffers...); uWS's own memory is only in rss. */
  readonly external: number;
  /** process.cpuUsage(), microseconds. */
  readonly cpu: { readonly user: number; readonly system: number };
  readonly uptimeS: number;
}

export interface StatsSources {
  readonly edgeId: string;
  readonly startedAtMs: number;
  readonly hub: Hub;
  readonly outbound: OutboundStats;
  readonly broker: BrokerStats;
  readonly canary: CanaryStats;
  readonly limits: LimitStats;
  readonly connections: ConnectionsStats;
  readonly lifecycle: LifecycleEvents;
  readonly sweeper: { readonly stats: SweepStats };
  readonly blacklist: BlacklistView;
  readonly upgrades: () => UpgradeStats;
  readonly inbound: InboundStats;
  readonly roles: RoleTable;
  readonly stall: StallMonitor;
  readonly durable: DurablePushes | undefined;
}

export function collectStats(s: StatsSources): EdgeStats {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    edgeId: s.edgeId,
    connections: s.hub.size,
    welcomed: s.lifecycle.announced,
    users: s.hub.users.size,
    sessions: s.hub.sessions.size,
    hub: { ...s.hub.stats },
    outbound: { ...s.outbound },
    broker: { ...s.broker },
    canary: { ...s.canary },
    limits: { ...s.limits },
    connectionEvents: { ...s.connections },
    sweeps: { ...s.sweeper.stats },
    blacklistClosed: s.blacklist.closed,
    blacklistEntries: s.blacklist.size,
    upgrades: { ...s.upgrades() },
    inbound: { ...s.inbound },
    ...(s.durable === undefined ? {} : { durable: { ...s.durable.stats, ...s.durable.readStats, replaysWaiting: s.durable.replaysWaiting } }),
    internedRoleSets: s.roles.size,
    eventLoopMaxDelayMs: Math.round(s.stall.lastMaxMs),
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    cpu: { user: cpu.user, system: cpu.system },
    uptimeS: Math.round((Date.now() - s.startedAtMs) / 1000),
  };
}
