/**
 * Issue 7 finding 2: admin-role JWTs go through the same blacklist as connections. A blacklisted
 * user (or one logged out everywhere, or a blacklisted session) can no longer use the admin API,
 * and in particular cannot delete the entry that revokes them.
 */
import { describe, expect, it } from 'vitest';
import { admin, bearer, useMemoryAdmin } from '../../services/admin/test/support/admin-harness.js';
import { mintToken } from '../support/tokens.js';
import { waitFor } from '../support/wait-for.js';

describe('admin API: revoked admin JWTs', () => {
  const current = useMemoryAdmin();

  const status = async (token: string) => (await current.admin.app.inject({ url: '/v1/blacklist', headers: bearer(token) })).statusCode;

  it('refuses the JWT of a blacklisted user, who cannot delete their own entry', async () => {
    const jwt = await mintToken({ sub: 'rogue-admin', roles: ['mesh-admin'], jti: null });
    expect(await status(jwt)).toBe(200);
    const add = await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'rogue-admin', ttlSeconds: 600, reason: 'left the company' } });
    expect(add.statusCode).toBe(201);

    await waitFor(async () => (await status(jwt)) === 401, { what: 'the blacklisted admin JWT to be refused' });
    const undo = await current.admin.app.inject({ method: 'DELETE', url: '/v1/blacklist/users/rogue-admin', headers: bearer(jwt) });
    expect(undo.statusCode).toBe(401);
    expect(undo.json()).toMatchObject({ error: 'unauthorized' });
    expect(undo.json().message).toMatch(/revoked|blacklist/i);
    // The entry is still there; an unrevoked admin can still remove it, and the JWT works again.
    expect((await current.admin.app.inject({ url: '/v1/blacklist/users/rogue-admin', headers: admin })).statusCode).toBe(200);
    expect((await current.admin.app.inject({ method: 'DELETE', url: '/v1/blacklist/users/rogue-admin', headers: admin })).statusCode).toBe(204);
    await waitFor(async () => (await status(jwt)) === 200, { what: 'the JWT to work again after the entry was removed' });
  });

  it('"log out everywhere" refuses admin JWTs issued before the time and accepts newer ones', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const old = await mintToken({ sub: 'ops', roles: ['mesh-admin'], iat: nowS - 120 });
    const fresh = await mintToken({ sub: 'ops', roles: ['mesh-admin'], iat: nowS + 60 });
    const noIat = await mintToken({ sub: 'ops', roles: ['mesh-admin'], iat: null });
    const add = await current.admin.app.inject({
      method: 'POST',
      url: '/v1/blacklist/users',
      headers: admin,
      payload: { userId: 'ops', ttlSeconds: 600, reason: 'log out everywhere', issuedBefore: (nowS - 60) * 1000 },
    });
    expect(add.statusCode).toBe(201);
    await waitFor(async () => (await status(old)) === 401, { what: 'the old admin JWT to be refused' });
    expect(await status(noIat)).toBe(401);
    expect(await status(fresh)).toBe(200);
  });

  it('refuses an admin JWT whose session (jti) is blacklisted, and only that session', async () => {
    const stolen = await mintToken({ sub: 'ops', roles: ['mesh-admin'], jti: 'stolen-session' });
    const other = await mintToken({ sub: 'ops', roles: ['mesh-admin'], jti: 'laptop-session' });
    const add = await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/sessions', headers: admin, payload: { sessionId: 'stolen-session', ttlSeconds: 600, reason: 'token leaked' } });
    expect(add.statusCode).toBe(201);
    await waitFor(async () => (await status(stolen)) === 401, { what: 'the blacklisted session to be refused' });
    expect(await status(other)).toBe(200);
  });

  it('accepts the JWT again once its entry expired', async () => {
    const start = Date.now();
    current.admin.clock.t = start;
    const jwt = await mintToken({ sub: 'temp', roles: ['mesh-admin'] });
    await current.admin.app.inject({ method: 'POST', url: '/v1/blacklist/users', headers: admin, payload: { userId: 'temp', ttlSeconds: 5, reason: 'cool down' } });
    await waitFor(async () => (await status(jwt)) === 401, { what: 'the admin JWT to be refused' });
    current.admin.clock.t = start + 5_000;
    expect(await status(jwt)).toBe(200);
  });
});
