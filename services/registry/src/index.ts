export { loadRegistryConfig, REGISTRY_KV_BUCKET, type RegistryConfig } from './config.js';
export { startRegistry, EDGE_LOST_REASON, LEADER_LEASE_KEY, type RegistryDeps, type RegistryHandle } from './registry.js';
export { REGISTRY_QUEUE_GROUP, parseQuerySubject, type RegistryQuery } from './queries/query-responder.js';
export { PresenceStore, type PresenceTransition, type PresenceView, type PresenceStats, type StoreChange } from './state/presence-store.js';
export { decideLease, isLeaseExpired, parseLease, encodeLease, LeaderLease, type LeaseDecision, type LeaseRecord, type ObservedLease } from './leader/leader-lease.js';
export { ANNOUNCED_KEY_PREFIX } from './announce/announced-ledger.js';
export { registerRegistryMetrics } from './metrics.js';
