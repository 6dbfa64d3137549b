export { loadRegistryConfig, REGISTRY_KV_BUCKET, type RegistryConfig } from './config.js';
export { startRegistry, EDGE_LOST_REASON, LEADER_LEASE_KEY, type RegistryDeps, type RegistryHandle } from './registry.js';
export { REGISTRY_QUEUE_GROUP, parseQuerySubject, type RegistryQuery } from './query-responder.js';
export { PresenceStore, type PresenceTransition, type PresenceView, type PresenceStats, type StoreChange } from './presence-store.js';
export { decideLease, isLeaseExpired, parseLease, encodeLease, LeaderLease, type LeaseDecision, type LeaseRecord, type ObservedLease } from './leader-lease.js';
