import { ConfigError } from '@session-mesh/runtime';
import { describe, expect, it } from 'vitest';
import { loadAdminConfig } from '../src/config.js';

describe('loadAdminConfig', () => {
  it('fails naming MESH_ADMIN_TOKENS when no credentials are configured', () => {
    expect(() => loadAdminConfig({})).toThrow(ConfigError);
    expect(() => loadAdminConfig({})).toThrow(/MESH_ADMIN_TOKENS/);
  });

  it('refuses short admin tokens', () => {
    expect(() => loadAdminConfig({ MESH_ADMIN_TOKENS: 'short' })).toThrow(/MESH_ADMIN_TOKENS: each token/);
  });

  it('reads defaults with static tokens only', () => {
    const c = loadAdminConfig({ MESH_ADMIN_TOKENS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb' });
    expect(c).toMatchObject({
      tokens: ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'],
      host: '0.0.0.0',
      port: 8081,
      adminRole: 'mesh-admin',
      blacklistBucket: 'mesh_blacklist',
      kvReplicas: 1,
      maxPushBytes: 65536,
      registryTimeoutMs: 2000,
      durableTimeoutMs: 5000,
      jwt: undefined,
    });
  });

  it('accepts a JWT key source alone, and refuses two', () => {
    const c = loadAdminConfig({ MESH_JWT_SECRET: 's'.repeat(32), MESH_ADMIN_ROLE: 'ops' });
    expect(c.tokens).toEqual([]);
    expect(c.jwt?.key).toEqual({ kind: 'secret', secret: 's'.repeat(32) });
    expect(c.adminRole).toBe('ops');
    expect(() =>
      loadAdminConfig({ MESH_ADMIN_TOKENS: 'aaaaaaaaaaaaaaaa', MESH_JWT_SECRET: 's'.repeat(32), MESH_JWT_JWKS_URL: 'https://idp/jwks' }),
    ).toThrow(/MESH_JWT_JWKS_URL/);
  });

  it('bounds the push size by the NATS payload limit', () => {
    expect(() => loadAdminConfig({ MESH_ADMIN_TOKENS: 'aaaaaaaaaaaaaaaa', MESH_ADMIN_MAX_PUSH_BYTES: '2000000' })).toThrow(/MESH_ADMIN_MAX_PUSH_BYTES/);
  });
});
