import { describe, expect, it } from 'vitest';
import { loadRegistryConfig } from '../src/config.js';

describe('loadRegistryConfig', () => {
  it('reads defaults', () => {
    const c = loadRegistryConfig({});
    expect(c).toMatchObject({ natsUrl: undefined, subjectPrefix: 'mesh', opsPort: 9090, edgeLostAfterMs: 30000, kvReplicas: 1, settleMs: undefined, leaseTtlMs: 5000, leaseRenewMs: 1000 });
    expect(c.registryId.length).toBeGreaterThan(0);
  });
  it('names the variable at fault', () => {
    expect(() => loadRegistryConfig({ MESH_EDGE_LOST_AFTER_MS: 'soon' })).toThrow(/MESH_EDGE_LOST_AFTER_MS/);
    expect(() => loadRegistryConfig({ MESH_REGISTRY_ID: 'a b' })).toThrow(/MESH_REGISTRY_ID/);
    expect(() => loadRegistryConfig({ MESH_REGISTRY_LEASE_TTL_MS: '1000' })).toThrow(/MESH_REGISTRY_LEASE_TTL_MS/);
  });
  it('takes explicit values', () => {
    const c = loadRegistryConfig({ MESH_REGISTRY_ID: 'reg-1', MESH_REGISTRY_SETTLE_MS: '0', MESH_NATS_URL: 'nats://localhost:4222', MESH_OPS_PORT: '0' });
    expect(c).toMatchObject({ registryId: 'reg-1', settleMs: 0, natsUrl: 'nats://localhost:4222', opsPort: 0 });
  });
});
