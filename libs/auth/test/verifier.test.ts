import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTokenVerifier,
  isTokenError,
  TokenConfigError,
  type TokenVerifier,
  type TokenVerifierConfig,
  type VerifyResult,
} from '@session-mesh/auth';
import { mintToken, TEST_JWT_SECRET } from '../../../test/support/tokens.js';

function ok(result: VerifyResult) {
  if (isTokenError(result)) throw new Error(`expected a verified token, got ${result.error}: ${result.message}`);
  return result;
}
function refused(result: VerifyResult) {
  if (!isTokenError(result)) throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  return result;
}

describe.each([true, false])('fastPath: %s', (fastPath) => {
  const secretVerifier = (extra: Partial<TokenVerifierConfig> = {}) =>
    createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET }, fastPath, ...extra });

  describe('HMAC secrets', () => {
    it.each(['HS256', 'HS384', 'HS512'])('verifies %s and maps the claims', async (alg) => {
      const verifier = await secretVerifier();
      const iat = Math.floor(Date.now() / 1000) - 10;
      const token = await mintToken({ alg, sub: 'alice', jti: 's1', roles: ['b', 'a', 'b'], iat, expiresInS: 600 });
      expect(ok(await verifier.verify(token))).toEqual({
        userId: 'alice',
        sessionId: 's1',
        roles: ['a', 'b'],
        issuedAtMs: iat * 1000,
        expiresAtMs: (iat + 600) * 1000,
      });
    });

    it('refuses a token signed with another secret', async () => {
      const verifier = await secretVerifier();
      const token = await mintToken({ secret: 'another-secret-that-is-long-enough-000', sub: 'alice' });
      expect(refused(await verifier.verify(token))).toEqual({ error: 'UNAUTHORIZED', message: 'token signature verification failed' });
    });

    it('restricts algorithms when configured', async () => {
      const verifier = await secretVerifier({ algorithms: ['HS512'] });
      expect(verifier.algorithms).toEqual(['HS512']);
      const r = refused(await verifier.verify(await mintToken({ alg: 'HS256', sub: 'alice' })));
      expect(r.error).toBe('UNAUTHORIZED');
      expect(r.message).toMatch(/algorithm not allowed/);
      ok(await verifier.verify(await mintToken({ alg: 'HS512', sub: 'alice' })));
    });

    it('refuses at start-up an algorithm the key cannot verify', async () => {
      await expect(secretVerifier({ algorithms: ['RS256'] })).rejects.toThrow(TokenConfigError);
      await expect(secretVerifier({ algorithms: ['none'] })).rejects.toThrow(/unsupported JWT algorithm "none"/);
    });

    it('refuses an unsigned (alg none) token', async () => {
      const verifier = await secretVerifier();
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', jti: 's' })}.`;
      expect(refused(await verifier.verify(token)).error).toBe('UNAUTHORIZED');
    });

    it('refuses garbage, empty and huge tokens without throwing', async () => {
      const verifier = await secretVerifier();
      expect(refused(await verifier.verify('')).message).toBe('token is empty');
      expect(refused(await verifier.verify('not.a.jwt')).error).toBe('UNAUTHORIZED');
      expect(refused(await verifier.verify('x'.repeat(20_000))).message).toMatch(/longer than/);
    });
  });

  describe('time claims', () => {
    it('reports TOKEN_EXPIRED for an expired token', async () => {
      const verifier = await secretVerifier({ clockToleranceS: 0 });
      const token = await mintToken({ sub: 'alice', iat: Math.floor(Date.now() / 1000) - 100, expiresInS: 10 });
      expect(refused(await verifier.verify(token))).toEqual({ error: 'TOKEN_EXPIRED', message: 'token expired' });
    });

    it('accepts a just-expired token within the clock tolerance', async () => {
      const verifier = await secretVerifier({ clockToleranceS: 30 });
      const token = await mintToken({ sub: 'alice', iat: Math.floor(Date.now() / 1000) - 100, expiresInS: 90 });
      ok(await verifier.verify(token));
    });

    it('refuses a token that is not valid yet (nbf)', async () => {
      const verifier = await secretVerifier({ clockToleranceS: 0 });
      const token = await mintToken({ sub: 'alice', notBeforeS: Math.floor(Date.now() / 1000) + 3600 });
      expect(refused(await verifier.verify(token)).message).toMatch(/nbf/);
    });

    it('maps a token without exp or iat to nulls', async () => {
      const verifier = await secretVerifier();
      const r = ok(await verifier.verify(await mintToken({ sub: 'alice', iat: null, expiresInS: null })));
      expect(r.expiresAtMs).toBeNull();
      expect(r.issuedAtMs).toBeNull();
    });
  });

  describe('issuer and audience', () => {
    it('checks the issuer', async () => {
      const verifier = await secretVerifier({ issuer: ['https://idp.example', 'https://other.example'] });
      ok(await verifier.verify(await mintToken({ sub: 'a', issuer: 'https://other.example' })));
      expect(refused(await verifier.verify(await mintToken({ sub: 'a', issuer: 'https://evil.example' }))).message).toMatch(/iss/);
      expect(refused(await verifier.verify(await mintToken({ sub: 'a' }))).message).toMatch(/iss/);
    });

    it('checks the audience', async () => {
      const verifier = await secretVerifier({ audience: 'mesh' });
      ok(await verifier.verify(await mintToken({ sub: 'a', audience: ['x', 'mesh'] })));
      expect(refused(await verifier.verify(await mintToken({ sub: 'a', audience: 'api' }))).message).toMatch(/aud/);
    });
  });

  describe('claims', () => {
    it('refuses a token without a user claim', async () => {
      const verifier = await secretVerifier();
      expect(refused(await verifier.verify(await mintToken({})))).toEqual({
        error: 'UNAUTHORIZED',
        message: 'token has no "sub" claim (the user id)',
      });
    });

    it('refuses a token without a session claim, saying why', async () => {
      const verifier = await secretVerifier();
      const r = refused(await verifier.verify(await mintToken({ sub: 'alice', jti: null })));
      expect(r.message).toBe('token has no "jti" claim (the session id): every token must name its session');
    });

    it('reads configurable claims, including nested paths', async () => {
      const verifier = await secretVerifier({ userClaim: 'uid', sessionClaim: 'sid', rolesClaim: 'realm_access.roles' });
      const token = await mintToken({ claims: { uid: 'u1', sid: 'sess-1', realm_access: { roles: ['admin'] } } });
      const r = ok(await verifier.verify(token));
      expect([r.userId, r.sessionId, r.roles]).toEqual(['u1', 'sess-1', ['admin']]);
    });

    it('prefers an exact claim name with dots over a path', async () => {
      const verifier = await secretVerifier({ rolesClaim: 'https://example.com/roles' });
      const r = ok(await verifier.verify(await mintToken({ sub: 'a', claims: { 'https://example.com/roles': 'x y' } })));
      expect(r.roles).toEqual(['x', 'y']);
    });

    it('accepts roles as a space- or comma-separated string, sorted and de-duplicated', async () => {
      const verifier = await secretVerifier();
      const r = ok(await verifier.verify(await mintToken({ sub: 'a', roles: 'writer, reader  admin,reader' })));
      expect(r.roles).toEqual(['admin', 'reader', 'writer']);
      expect(ok(await verifier.verify(await mintToken({ sub: 'a' }))).roles).toEqual([]);
    });

    it('refuses roles of the wrong type', async () => {
      const verifier = await secretVerifier();
      const r = refused(await verifier.verify(await mintToken({ sub: 'a', claims: { roles: ['ok', 3] } })));
      expect(r.message).toMatch(/claim "roles"/);
    });

    it.each([
      ['an empty user id', { sub: '' }, /claim "sub" \(the user id\) must not be empty/],
      ['a control character', { sub: 'a\u0000b' }, /claim "sub" .*control characters/],
      ['a lone surrogate', { sub: 'a\ud800' }, /well-formed/],
      ['a numeric user id', { claims: { sub: 42 } }, /claim "sub" .*must be a string/],
      ['an oversized session id', { sub: 'a', jti: 'x'.repeat(600) }, /claim "jti" .*at most 512/],
    ])('refuses %s, naming the claim', async (_name, opts, message) => {
      const verifier = await secretVerifier();
      const r = refused(await verifier.verify(await mintToken(opts)));
      expect(r.error).toBe('UNAUTHORIZED');
      expect(r.message).toMatch(message);
    });

    it('accepts ids that are awkward in subjects', async () => {
      const verifier = await secretVerifier();
      for (const id of ['a.b', '*', '>', 'with space', 'ünï ☃', 'user@example.com']) {
        expect(ok(await verifier.verify(await mintToken({ sub: id, jti: id }))).userId).toBe(id);
      }
    });
  });

  describe('public keys', () => {
    const cases: Array<{ alg: string; options?: { modulusLength?: number; crv?: string } }> = [
      { alg: 'RS256' },
      { alg: 'RS512' },
      { alg: 'PS256' },
      { alg: 'ES256' },
      { alg: 'ES384' },
      { alg: 'ES512' },
      { alg: 'EdDSA' },
      { alg: 'Ed25519' },
    ];
    it.each(cases)('verifies $alg with an inline SPKI PEM', async ({ alg }) => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pem = await exportSPKI(publicKey);
      const verifier = await createTokenVerifier({ key: { kind: 'public-key', pem }, fastPath });
      expect(verifier.algorithms).toContain(alg);
      const r = ok(await verifier.verify(await mintToken({ key: privateKey, alg, sub: 'alice', jti: 's1' })));
      expect(r.userId).toBe('alice');
      // A token signed by another key of the same kind is refused.
      const other = await generateKeyPair(alg);
      expect(refused(await verifier.verify(await mintToken({ key: other.privateKey, alg, sub: 'alice' }))).error).toBe('UNAUTHORIZED');
    });

    it('refuses an HMAC token when configured with a public key (algorithm confusion)', async () => {
      const { publicKey } = await generateKeyPair('RS256', { extractable: true });
      const pem = await exportSPKI(publicKey);
      const verifier = await createTokenVerifier({ key: { kind: 'public-key', pem }, fastPath });
      const forged = await mintToken({ secret: pem, alg: 'HS256', sub: 'mallory' });
      expect(refused(await verifier.verify(forged)).message).toMatch(/algorithm not allowed/);
    });

    it('derives the algorithm from the curve and refuses incompatible ones at start-up', async () => {
      const { publicKey } = await generateKeyPair('ES384', { extractable: true });
      const pem = await exportSPKI(publicKey);
      expect((await createTokenVerifier({ key: { kind: 'public-key', pem }, fastPath })).algorithms).toEqual(['ES384']);
      await expect(createTokenVerifier({ key: { kind: 'public-key', pem }, algorithms: ['ES256'], fastPath })).rejects.toThrow(/ES256 cannot be verified/);
      await expect(createTokenVerifier({ key: { kind: 'public-key', pem: 'nonsense' }, fastPath })).rejects.toThrow(/PEM SPKI/);
    });

    it('reads the key from a file once', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mesh-auth-'));
      try {
        const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
        const path = join(dir, 'key.pem');
        await writeFile(path, await exportSPKI(publicKey));
        const verifier = await createTokenVerifier({ key: { kind: 'public-key-file', path }, fastPath });
        ok(await verifier.verify(await mintToken({ key: privateKey, alg: 'ES256', sub: 'a' })));
        await expect(createTokenVerifier({ key: { kind: 'public-key-file', path: join(dir, 'missing.pem') } })).rejects.toThrow(
          /cannot read the JWT public key file/,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('JWKS', () => {
    let server: http.Server;
    let url: string;
    let jwks: { keys: JWK[] } = { keys: [] };
    let fetches = 0;

    beforeAll(async () => {
      server = http.createServer((_req, res) => {
        fetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(jwks));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    async function keyPair(alg: string, kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
    }

    it('verifies against a JWKS and follows a key rotation', async () => {
      const first = await keyPair('ES256', 'k1');
      const second = await keyPair('RS256', 'k2');
      jwks = { keys: [first.jwk] };
      const verifier: TokenVerifier = await createTokenVerifier({ key: { kind: 'jwks', url, cooldownMs: 0 }, fastPath });

      const t1 = await mintToken({ key: first.privateKey, alg: 'ES256', kid: 'k1', sub: 'alice' });
      expect(ok(await verifier.verify(t1)).userId).toBe('alice');
      const before = fetches;
      ok(await verifier.verify(t1));
      expect(fetches).toBe(before); // cached

      // Rotation: the provider now publishes only k2; a k2 token makes jose refetch the set.
      jwks = { keys: [second.jwk] };
      const t2 = await mintToken({ key: second.privateKey, alg: 'RS256', kid: 'k2', sub: 'bob' });
      expect(ok(await verifier.verify(t2)).userId).toBe('bob');
      expect(fetches).toBeGreaterThan(before);

      // The retired key no longer verifies.
      expect(refused(await verifier.verify(t1)).message).toMatch(/no key in the JWKS/);
    });

    it('refuses a token whose alg is not allowed even if the JWKS has the kid', async () => {
      const pair = await keyPair('ES256', 'k3');
      jwks = { keys: [pair.jwk] };
      const verifier = await createTokenVerifier({ key: { kind: 'jwks', url, cooldownMs: 0 }, algorithms: ['RS256'], fastPath });
      const token = await mintToken({ key: pair.privateKey, alg: 'ES256', kid: 'k3', sub: 'a' });
      expect(refused(await verifier.verify(token)).message).toMatch(/algorithm not allowed/);
    });

    it('reports an unreachable JWKS as UNAUTHORIZED without throwing', async () => {
      const verifier = await createTokenVerifier({ key: { kind: 'jwks', url: 'http://127.0.0.1:1/jwks.json', timeoutMs: 500 }, fastPath });
      const pair = await keyPair('ES256', 'k4');
      const r = refused(await verifier.verify(await mintToken({ key: pair.privateKey, alg: 'ES256', kid: 'k4', sub: 'a' })));
      expect(r.error).toBe('UNAUTHORIZED');
    });

    it('refuses HMAC algorithms for a JWKS at start-up', async () => {
      await expect(createTokenVerifier({ key: { kind: 'jwks', url }, algorithms: ['HS256'] })).rejects.toThrow(/cannot be verified with a JWKS/);
    });
  });
});

describe('the synchronous fast path', () => {
  it('answers synchronously for a secret and a PEM key', async () => {
    const verifier = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET } });
    expect(ok(verifier.verifySync(await mintToken({ sub: 'a', jti: 's' }))!).userId).toBe('a');
    expect(refused(verifier.verifySync(await mintToken({ sub: 'a', expiresInS: -100 }))!).error).toBe('TOKEN_EXPIRED');
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await createTokenVerifier({ key: { kind: 'public-key', pem: await exportSPKI(publicKey) } });
    expect(ok(pem.verifySync(await mintToken({ key: privateKey, alg: 'ES256', sub: 'b' }))!).userId).toBe('b');
  });

  it('decides `crit` headers itself, the way jose does', async () => {
    const verifier = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET } });
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${b64({ alg: 'HS256', crit: ['x-ext'], 'x-ext': 1 })}.${b64({ sub: 'a', jti: 's' })}`;
    const token = `${input}.${createHmac('sha256', TEST_JWT_SECRET).update(input).digest('base64url')}`;
    expect(refused(verifier.verifySync(token)!).message).toMatch(/"x-ext" is not recognized/);
    expect(refused(await verifier.verify(token)).error).toBe('UNAUTHORIZED');
  });

  it('refuses RSA keys under 2048 bits on both paths', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${b64({ alg: 'RS256' })}.${b64({ sub: 'a', jti: 's' })}`;
    const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    for (const fastPath of [true, false]) {
      const verifier = await createTokenVerifier({ key: { kind: 'public-key', pem }, fastPath });
      expect(refused(await verifier.verify(token)).error).toBe('UNAUTHORIZED');
    }
  });

  it('gives the same answer as jose for mangled tokens', async () => {
    const fastV = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET }, issuer: 'iss', audience: 'aud' });
    const joseV = await createTokenVerifier({ key: { kind: 'secret', secret: TEST_JWT_SECRET }, issuer: 'iss', audience: 'aud', fastPath: false });
    const good = await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: 'aud' });
    const [h, p, sig] = good.split('.') as [string, string, string];
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const variants = [
      good,
      `${h}.${p}.${sig.slice(0, -2)}AA`,
      `${h}.${p}`,
      `${h}.${p}.${sig}.x`,
      `${h}.${b64({ sub: 'a', jti: 's', iss: 'iss', aud: 'aud' })}.${sig}`,
      `${b64({ alg: 'HS384' })}.${p}.${sig}`,
      `${b64({ alg: 'none' })}.${p}.`,
      `${b64([1])}.${p}.${sig}`,
      `!!.${p}.${sig}`,
      await mintToken({ sub: 'a', jti: 's', issuer: 'other', audience: 'aud' }),
      await mintToken({ sub: 'a', jti: 's', audience: 'aud' }),
      await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: ['x', 'aud'] }),
      await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: 'nope' }),
      await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: 'aud', expiresInS: -10 }),
      await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: 'aud', notBeforeS: Math.floor(Date.now() / 1000) + 60 }),
      await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: 'aud', claims: { exp: 'soon' } }),
      await mintToken({ sub: 'a', jti: 's', issuer: 'iss', audience: 'aud', claims: { iat: 'then' } }),
    ];
    for (const token of variants) {
      const a = await fastV.verify(token);
      const b = await joseV.verify(token);
      expect(isTokenError(a) ? a.error : 'ok', token).toBe(isTokenError(b) ? b.error : 'ok');
      if (!isTokenError(a)) expect(a).toEqual(b);
    }
  });

  it('serves JWKS keys synchronously once jose has fetched them, and follows rotation', async () => {
    let jwks: { keys: JWK[] } = { keys: [] };
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
      const pair = async (alg: string, kid: string) => {
        const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
        return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
      };
      const k1 = await pair('EdDSA', 'k1');
      const k2 = await pair('ES256', 'k2');
      jwks = { keys: [k1.jwk] };
      const verifier = await createTokenVerifier({ key: { kind: 'jwks', url, cooldownMs: 0 } });
      const t1 = await mintToken({ key: k1.privateKey, alg: 'EdDSA', kid: 'k1', sub: 'a' });
      expect(verifier.verifySync(t1)).toBeUndefined(); // nothing fetched yet
      ok(await verifier.verify(t1));
      expect(ok(verifier.verifySync(t1)!).userId).toBe('a');
      jwks = { keys: [k2.jwk] };
      const t2 = await mintToken({ key: k2.privateKey, alg: 'ES256', kid: 'k2', sub: 'b' });
      expect(verifier.verifySync(t2)).toBeUndefined(); // unknown kid: jose must fetch
      ok(await verifier.verify(t2));
      expect(ok(verifier.verifySync(t2)!).userId).toBe('b');
      expect(verifier.verifySync(t1)).toBeUndefined(); // retired key: jose decides (and refuses)
      expect(refused(await verifier.verify(t1)).error).toBe('UNAUTHORIZED');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
