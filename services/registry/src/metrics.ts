import type { StatsReply } from '@session-mesh/protocol';
import type { Metrics } from '@session-mesh/runtime';
import type { RegistryHandle } from './registry.js';

/**
 * The registry's Prometheus metrics: presence sizes and leadership, read from the registry at
 * scrape time (one stats() per scrape). `sum(mesh_registry_leader)` should be exactly 1 across
 * replicas; mesh_registry_leader_changes_total counts even the flaps between two scrapes.
 */
export function registerRegistryMetrics(metrics: Metrics, registry: Pick<RegistryHandle, 'stats' | 'isLeader' | 'isReady' | 'leaderChanges'>): void {
  let s: StatsReply = registry.stats();
  metrics.onScrape(() => {
    s = registry.stats();
  });
  metrics.gaugeFrom('mesh_registry_connections', 'Connections in the presence state (the whole cluster).', () => s.connections);
  metrics.gaugeFrom('mesh_registry_users', 'Users with at least one connection (the whole cluster).', () => s.users);
  metrics.gaugeFrom('mesh_registry_sessions', 'Sessions with at least one connection (the whole cluster).', () => s.sessions);
  metrics.gaugeFrom('mesh_registry_edges', 'Edges known: alive ones, and any still holding connections.', () => s.edges.length);
  metrics.gaugeFromLabelled('mesh_registry_edge_connections', 'Connections per edge as the registry sees them.', ['edge'], () => s.edges.map((e) => [{ edge: e.edge }, e.connections] as const));
  metrics.gaugeFrom('mesh_registry_leader', '1 while this replica holds the leader lease (emits presence events).', () => (registry.isLeader() ? 1 : 0));
  metrics.counterFrom('mesh_registry_leader_changes_total', 'Times this replica gained or lost the leader lease.', () => registry.leaderChanges());
  metrics.gaugeFrom('mesh_registry_ready', '1 once the first snapshot round has settled.', () => (registry.isReady() ? 1 : 0));
}
