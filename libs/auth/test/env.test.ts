import { describe, expect, it } from 'vitest';
import { ConfigError, env, loadConfig, z } from '@session-mesh/runtime';
import { jwtConfigFromEnv, jwtEnvShape, refineJwtEnv } from '@session-mesh/auth';

const SECRET = 'x'.repeat(32);
const schema = z
  .object({ MESH_ANONYMOUS: env.boolean(false), ...jwtEnvShape })
  .superRefine(refineJwtEnv((v) => v.MESH_ANONYMOUS));

function problems(vars: Record<string, string>): string[] {
  try {
    loadConfig(schema, vars);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('JWT environment variables', () => {
  it('builds a secret configuration with defaults', () => {
    const value = loadConfig(schema, { MESH_JWT_SECRET: SECRET });
    expect(jwtConfigFromEnv(value)).toEqual({
      key: { kind: 'secret', secret: SECRET },
      clockToleranceS: 5,
      userClaim: 'sub',
      sessionClaim: 'jti',
      rolesClaim: 'roles',
    });
  });

  it('parses lists and overrides', () => {
    const value = loadConfig(schema, {
      MESH_JWT_JWKS_URL: 'https://idp.example/jwks.json',
      MESH_JWT_ALGORITHMS: 'RS256, ES256',
      MESH_JWT_ISSUER: 'https://idp.example',
      MESH_JWT_AUDIENCE: 'mesh,api',
      MESH_JWT_CLOCK_TOLERANCE_S: '0',
      MESH_JWT_USER_CLAIM: 'uid',
    });
    expect(jwtConfigFromEnv(value)).toMatchObject({
      key: { kind: 'jwks', url: 'https://idp.example/jwks.json' },
      algorithms: ['RS256', 'ES256'],
      issuer: ['https://idp.example'],
      audience: ['mesh', 'api'],
      clockToleranceS: 0,
      userClaim: 'uid',
    });
  });

  it('passes the JWKS cooldown and stale bound to the key source, with defaults', () => {
    const defaults = jwtConfigFromEnv(loadConfig(schema, { MESH_JWT_JWKS_URL: 'https://idp.example/jwks.json' }));
    expect(defaults?.key).toEqual({ kind: 'jwks', url: 'https://idp.example/jwks.json', cooldownMs: 30_000, maxStaleMs: 3_600_000 });
    const set = jwtConfigFromEnv(
      loadConfig(schema, { MESH_JWT_JWKS_URL: 'https://idp.example/jwks.json', MESH_JWT_JWKS_COOLDOWN_MS: '500', MESH_JWT_JWKS_MAX_STALE_MS: '0' }),
    );
    expect(set?.key).toMatchObject({ cooldownMs: 500, maxStaleMs: 0 });
    expect(problems({ MESH_JWT_JWKS_URL: 'https://x/jwks', MESH_JWT_JWKS_MAX_STALE_MS: '-1' })[0]).toMatch(/^MESH_JWT_JWKS_MAX_STALE_MS: must be >= 0/);
  });

  it('turns literal \\n in an inline PEM into newlines', () => {
    const value = loadConfig(schema, { MESH_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----' });
    expect(value.MESH_JWT_PUBLIC_KEY).toBe('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----');
  });

  it('requires exactly one key source, naming the variables', () => {
    expect(problems({})[0]).toMatch(/^MESH_JWT_SECRET: one of MESH_JWT_SECRET, MESH_JWT_PUBLIC_KEY, MESH_JWT_PUBLIC_KEY_FILE, MESH_JWT_JWKS_URL is required/);
    expect(problems({ MESH_JWT_SECRET: SECRET, MESH_JWT_JWKS_URL: 'https://x/jwks' })[0]).toMatch(
      /^MESH_JWT_JWKS_URL: set exactly one token key source, got MESH_JWT_SECRET and MESH_JWT_JWKS_URL/,
    );
  });

  it('needs no key source in anonymous mode', () => {
    expect(problems({ MESH_ANONYMOUS: 'true' })).toEqual([]);
    expect(jwtConfigFromEnv(loadConfig(schema, { MESH_ANONYMOUS: 'true' }))).toBeUndefined();
  });

  it('refuses bad values with the variable name', () => {
    expect(problems({ MESH_JWT_SECRET: 'short' })[0]).toMatch(/^MESH_JWT_SECRET: must be at least 32 bytes/);
    expect(problems({ MESH_JWT_SECRET: SECRET, MESH_JWT_ALGORITHMS: 'HS256,none' })[0]).toMatch(/^MESH_JWT_ALGORITHMS: must be/);
    expect(problems({ MESH_JWT_JWKS_URL: 'ftp://x' })[0]).toMatch(/^MESH_JWT_JWKS_URL: must be an http\(s\) URL/);
    expect(problems({ MESH_JWT_PUBLIC_KEY: 'abc' })[0]).toMatch(/^MESH_JWT_PUBLIC_KEY: must be a PEM/);
    expect(problems({ MESH_JWT_SECRET: SECRET, MESH_JWT_CLOCK_TOLERANCE_S: '-1' })[0]).toMatch(/^MESH_JWT_CLOCK_TOLERANCE_S/);
  });
});
