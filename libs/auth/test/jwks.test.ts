/**
 * JWKS outages (issue 7, finding 8) against a real local HTTP endpoint that is stopped, slowed
 * down, made to fail and restarted: no fetch storm while it is down, known keys keep working for
 * a bounded time past the cache age, and the set recovers when the endpoint does.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTokenVerifier, isTokenError, type TokenKeySource, type VerifyResult } from '@session-mesh/auth';
import { JwksServer } from '../../../test/security/support/jwt-jwks-server.js';
import { waitFor } from '../../../test/support/wait-for.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function keyPair(kid: string): { jwk: JWK; token: (sub?: string) => string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const token = (sub = 'alice') => {
    const input = `${b64({ alg: 'ES256', kid })}.${b64({ sub, jti: 's-1', exp: Math.floor(Date.now() / 1000) + 600 })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  return { jwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256', use: 'sig' }, token, privateKey };
}

const accepted = (r: VerifyResult | undefined) => r !== undefined && !isTokenError(r);
/** Waits until `ms` have passed since `since` (the condition is the clock itself). */
const elapsed = (since: number, ms: number) => waitFor(() => (Date.now() >= since + ms ? true : undefined), { timeoutMs: ms + 5000, intervalMs: 10, what: `${ms} ms to pass` });

let server: JwksServer;
beforeEach(async () => {
  server = await new JwksServer().start();
});
afterEach(() => server.stop());

type JwksTimes = Partial<Extract<TokenKeySource, { kind: 'jwks' }>>;
const jwksSource = (extra: JwksTimes): TokenKeySource => ({ kind: 'jwks', url: server.url, timeoutMs: 1000, ...extra });

/** A verifier that fetched a set holding `known`; then the endpoint stops and `outageMs` pass. */
async function afterOutage(known: { jwk: JWK; token: () => string }, times: JwksTimes, outageMs: number) {
  server.keys = [known.jwk];
  const verifier = await createTokenVerifier({ key: jwksSource({ cooldownMs: 0, ...times }) });
  expect(accepted(await verifier.verify(known.token()))).toBe(true);
  const fetchedAt = Date.now();
  await server.stop();
  await elapsed(fetchedAt, outageMs);
  return verifier;
}

describe('JWKS endpoint failures', () => {
  it('does not fetch again for every unknown kid while the endpoint fails (cooldown after a failure)', async () => {
    const known = keyPair('k1');
    server.keys = [known.jwk];
    const verifier = await createTokenVerifier({ key: jwksSource({ cooldownMs: 1000 }) });
    expect(accepted(await verifier.verify(known.token()))).toBe(true);
    const fetchedAt = Date.now();
    await elapsed(fetchedAt, 1000); // the cooldown after the successful fetch is over

    server.failStatus = 503;
    const before = server.requests;
    const strangers = Array.from({ length: 10 }, (_, i) => keyPair(`unknown-${i}`));
    for (const s of strangers) {
      const r = await verifier.verify(s.token());
      expect(isTokenError(r) && r.error).toBe('UNAUTHORIZED');
    }
    // One attempt, then the cooldown: not one fetch per token.
    expect(server.requests - before).toBe(1);
  });

  it('makes one fetch for many concurrent unknown-kid tokens on a slow endpoint', async () => {
    const late = keyPair('late');
    server.keys = [];
    const verifier = await createTokenVerifier({ key: jwksSource({ cooldownMs: 0 }) });
    server.delayMs = 300;
    server.keys = [late.jwk];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => verifier.verify(late.token(`user-${i}`))));
    expect(results.every(accepted)).toBe(true);
    expect(server.requests).toBe(1);
  });

  it('keeps verifying known kids, on both paths, when an outage outlasts the cache age', async () => {
    const known = keyPair('k1');
    const verifier = await afterOutage(known, { cacheMaxAgeMs: 200, maxStaleMs: 60_000 }, 250);
    expect(accepted(verifier.verifySync(known.token()))).toBe(true);
    expect(accepted(await verifier.verify(known.token()))).toBe(true);
    // An unknown kid is still refused, with the reason.
    const r = await verifier.verify(keyPair('other').token());
    expect(isTokenError(r) && r.error).toBe('UNAUTHORIZED');
  });

  it('refuses known kids once the stale bound has passed, saying the JWKS could not be loaded', async () => {
    const known = keyPair('k1');
    const verifier = await afterOutage(known, { cacheMaxAgeMs: 100, maxStaleMs: 200 }, 350);
    expect(verifier.verifySync(known.token())).toBeUndefined();
    const r = await verifier.verify(known.token());
    expect(r).toMatchObject({ error: 'UNAUTHORIZED', message: expect.stringMatching(/^the JWKS could not be loaded: .*(ECONNREFUSED|fetch failed)/) });
  });

  it('refreshes a stale set in the background and follows a rotation after the endpoint restarts', async () => {
    const first = keyPair('k1');
    const second = keyPair('k2');
    const verifier = await afterOutage(first, { cacheMaxAgeMs: 200, maxStaleMs: 60_000 }, 250);
    expect(accepted(verifier.verifySync(first.token()))).toBe(true); // stale, served; the refresh it starts fails

    server.keys = [second.jwk];
    await server.start();
    const before = server.requests;
    // A stale hit answers at once and refreshes behind it; the new set then retires k1.
    await waitFor(
      () => {
        verifier.verifySync(first.token());
        return server.requests > before && verifier.verifySync(second.token()) !== undefined ? true : undefined;
      },
      { timeoutMs: 5000, intervalMs: 20, what: 'the background refresh' },
    );
    expect(accepted(verifier.verifySync(second.token()))).toBe(true);
    expect(verifier.verifySync(first.token())).toBeUndefined();
    expect(isTokenError(await verifier.verify(first.token()))).toBe(true);
  });
});
