import { createTokenVerifier } from '@session-mesh/auth';
import { describe, expect, it } from 'vitest';
import { mintToken, TEST_JWT_SECRET } from '../../../test/support/tokens.js';
import { blacklistKey } from '@session-mesh/protocol';
import { createAdminAuthenticator, tokenFingerprint } from '../src/auth.js';
import { BlacklistIndex } from '../src/blacklist-index.js';

const TOKEN = 'static-admin-token-0123456789';
const noRevocations = { revocations: { refusing: () => undefined }, sessionClaim: 'jti' };
const encoder = new TextEncoder();
const entry = (value: Record<string, unknown>) => encoder.encode(JSON.stringify({ reason: 'r', createdAt: 0, expiresAt: Date.now() + 60_000, ...value }));

describe('createAdminAuthenticator', () => {
  it('accepts a static token and names it by fingerprint only', async () => {
    const auth = createAdminAuthenticator({ tokens: ['another-token-abcdefghijkl', TOKEN], verifier: undefined, role: 'mesh-admin', ...noRevocations });
    const result = await auth.authenticate(`Bearer ${TOKEN}`);
    expect(result).toEqual({ ok: true, actor: tokenFingerprint(TOKEN) });
    expect(tokenFingerprint(TOKEN)).toMatch(/^token:[0-9a-f]{8}$/);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('refuses missing, malformed and unknown credentials with 401', async () => {
    const auth = createAdminAuthenticator({ tokens: [TOKEN], verifier: undefined, role: 'mesh-admin', ...noRevocations });
    for (const header of [undefined, '', TOKEN, `Basic ${TOKEN}`, 'Bearer ', `Bearer ${TOKEN}x`, `Bearer ${TOKEN} extra`]) {
      expect(await auth.authenticate(header)).toMatchObject({ ok: false, status: 401 });
    }
  });

  it('accepts a JWT with the admin role, 403 without it, 401 when invalid', async () => {
    const verifier = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET }, sessionClaim: 'sub' });
    const auth = createAdminAuthenticator({ tokens: [], verifier, role: 'mesh-admin', ...noRevocations });
    const admin = await mintToken({ sub: 'ops@example.com', roles: ['mesh-admin'], jti: null });
    expect(await auth.authenticate(`Bearer ${admin}`)).toEqual({ ok: true, actor: 'jwt:ops@example.com' });
    const user = await mintToken({ sub: 'bob', roles: ['user'] });
    expect(await auth.authenticate(`Bearer ${user}`)).toMatchObject({ ok: false, status: 403 });
    const forged = await mintToken({ sub: 'eve', roles: ['mesh-admin'], secret: 'x'.repeat(40) });
    expect(await auth.authenticate(`Bearer ${forged}`)).toMatchObject({ ok: false, status: 401 });
    const expired = await mintToken({ sub: 'ops', roles: ['mesh-admin'], expiresInS: -60 });
    expect(await auth.authenticate(`Bearer ${expired}`)).toMatchObject({ ok: false, status: 401 });
  });

  it('checks admin JWTs against the blacklist: user, session (when the token names one) and issuedBefore; 503 before it is loaded', async () => {
    const verifier = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET }, sessionClaim: 'sub' });
    const index = new BlacklistIndex();
    let loaded = false;
    const auth = createAdminAuthenticator({
      tokens: [TOKEN],
      verifier,
      role: 'mesh-admin',
      sessionClaim: 'sid',
      revocations: { refusing: (user, session, iat) => (loaded ? index.refusing(user, session, iat, Date.now()) : 'unknown') },
    });
    const nowS = Math.floor(Date.now() / 1000);
    const jwt = await mintToken({ sub: 'ops', roles: ['mesh-admin'], claims: { sid: 'laptop' }, iat: nowS - 100 });
    expect(await auth.authenticate(`Bearer ${jwt}`)).toMatchObject({ ok: false, status: 503 });
    expect(await auth.authenticate(`Bearer ${TOKEN}`)).toMatchObject({ ok: true });
    loaded = true;
    expect(await auth.authenticate(`Bearer ${jwt}`)).toEqual({ ok: true, actor: 'jwt:ops' });
    index.apply(blacklistKey('session', 'laptop'), entry({ kind: 'session', id: 'laptop' }));
    expect(await auth.authenticate(`Bearer ${jwt}`)).toMatchObject({ ok: false, status: 401, message: expect.stringMatching(/revoked: session "laptop"/) });
    index.apply(blacklistKey('session', 'laptop'), undefined);
    index.apply(blacklistKey('user', 'ops'), entry({ kind: 'user', id: 'ops', issuedBefore: (nowS - 50) * 1000 }));
    expect(await auth.authenticate(`Bearer ${jwt}`)).toMatchObject({ ok: false, status: 401, message: expect.stringMatching(/revoked: user "ops"/) });
    const newer = await mintToken({ sub: 'ops', roles: ['mesh-admin'], iat: nowS });
    expect(await auth.authenticate(`Bearer ${newer}`)).toMatchObject({ ok: true });
  });
});
