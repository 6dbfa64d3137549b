import { createTokenVerifier } from '@session-mesh/auth';
import { describe, expect, it } from 'vitest';
import { mintToken, TEST_JWT_SECRET } from '../../../test/support/tokens.js';
import { createAdminAuthenticator, tokenFingerprint } from '../src/auth.js';

const TOKEN = 'static-admin-token-0123456789';

describe('createAdminAuthenticator', () => {
  it('accepts a static token and names it by fingerprint only', async () => {
    const auth = createAdminAuthenticator({ tokens: ['another-token-abcdefghijkl', TOKEN], verifier: undefined, role: 'mesh-admin' });
    const result = await auth.authenticate(`Bearer ${TOKEN}`);
    expect(result).toEqual({ ok: true, actor: tokenFingerprint(TOKEN) });
    expect(tokenFingerprint(TOKEN)).toMatch(/^token:[0-9a-f]{8}$/);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('refuses missing, malformed and unknown credentials with 401', async () => {
    const auth = createAdminAuthenticator({ tokens: [TOKEN], verifier: undefined, role: 'mesh-admin' });
    for (const header of [undefined, '', TOKEN, `Basic ${TOKEN}`, 'Bearer ', `Bearer ${TOKEN}x`, `Bearer ${TOKEN} extra`]) {
      expect(await auth.authenticate(header)).toMatchObject({ ok: false, status: 401 });
    }
  });

  it('accepts a JWT with the admin role, 403 without it, 401 when invalid', async () => {
    const verifier = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET }, sessionClaim: 'sub' });
    const auth = createAdminAuthenticator({ tokens: [], verifier, role: 'mesh-admin' });
    const admin = await mintToken({ sub: 'ops@example.com', roles: ['mesh-admin'], jti: null });
    expect(await auth.authenticate(`Bearer ${admin}`)).toEqual({ ok: true, actor: 'jwt:ops@example.com' });
    const user = await mintToken({ sub: 'bob', roles: ['user'] });
    expect(await auth.authenticate(`Bearer ${user}`)).toMatchObject({ ok: false, status: 403 });
    const forged = await mintToken({ sub: 'eve', roles: ['mesh-admin'], secret: 'x'.repeat(40) });
    expect(await auth.authenticate(`Bearer ${forged}`)).toMatchObject({ ok: false, status: 401 });
    const expired = await mintToken({ sub: 'ops', roles: ['mesh-admin'], expiresInS: -60 });
    expect(await auth.authenticate(`Bearer ${expired}`)).toMatchObject({ ok: false, status: 401 });
  });
});
