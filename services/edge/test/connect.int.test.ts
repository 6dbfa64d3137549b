import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, parseConnectEvent, SUBPROTOCOL } from '@session-mesh/protocol';
import { mintToken, TEST_JWT_SECRET } from '../../../test/support/tokens.js';
import type { MeshClient } from '../../../test/support/ws-client.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

describe('connecting', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_ALLOWED_ORIGINS: 'https://app.example.com', MESH_TOKEN_SOURCES: 'header,protocol,query,cookie' } });
  });
  afterAll(() => t.stop());

  it.each(['header', 'protocol', 'query', 'cookie'] as const)('accepts a token sent via %s', async (via) => {
    const token = await mintToken({ sub: `user-${via}`, jti: `sess-${via}`, roles: ['reader'] });
    // A browser always sends Origin; a cookie token needs it to be an allowed one.
    const c = await t.connect({ token, via, client: 'tab-1', ...(via === 'cookie' ? { origin: 'https://app.example.com' } : {}) });
    expect(c.refused).toBeUndefined();
    expect(c.welcome).toMatchObject({ user: `user-${via}`, session: `sess-${via}`, client: 'tab-1', roles: ['reader'] });
    // Only session-mesh.v1 is echoed, never the bearer entry.
    expect(c.protocol).toBe(SUBPROTOCOL);
    await c.close();
  });

  // Cross-site WebSocket hijacking: a page on any site could open a socket with the victim's cookie.
  it('refuses a cookie token from a foreign origin or with no origin at all', async () => {
    const token = await mintToken({ sub: 'victim', jti: 's-v' });
    for (const origin of ['https://evil.example.net', undefined]) {
      const c = await t.connect({ token, via: 'cookie', ...(origin === undefined ? {} : { origin }) });
      expect(c.refused?.status, String(origin)).toBe(403);
      expect(JSON.parse(c.refused!.body)).toMatchObject({ error: 'ORIGIN_NOT_ALLOWED' });
    }
  });

  it('sends a complete welcome frame', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const token = await mintToken({ sub: 'alice', jti: 's-1', roles: ['b', 'a'], iat, expiresInS: 600 });
    const c = await t.connect({ token, client: 'tab-w' });
    expect(c.welcome).toEqual({
      type: 'welcome',
      v: 1,
      user: 'alice',
      session: 's-1',
      client: 'tab-w',
      conn: expect.stringMatching(new RegExp(`^${t.edge.edgeId}-[0-9a-z]+-[0-9a-z]+$`)),
      edge: t.edge.edgeId,
      roles: ['a', 'b'],
      expiresAt: (iat + 600) * 1000,
      // Durable pushes are on by default: where this client starts in the push stream.
      epoch: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      position: expect.any(Number),
      recovered: false,
    });
    await c.close();
  });

  it('generates a client id when none is given, and connection ids are unique', async () => {
    const token = await mintToken({ sub: 'bob', jti: 's-b' });
    const a = await t.connect({ token });
    const b = await t.connect({ token });
    expect(a.welcome!.client).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(a.welcome!.client).not.toBe(b.welcome!.client);
    expect(a.welcome!.conn).not.toBe(b.welcome!.conn);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a missing token with 401 and a reason', async () => {
    const c = await t.connect({});
    expect(c.refused?.status).toBe(401);
    expect(c.refused?.headers['x-mesh-close-code']).toBe(String(CloseCode.UNAUTHORIZED));
    expect(JSON.parse(c.refused!.body)).toMatchObject({ error: 'UNAUTHORIZED', closeCode: 4001, message: expect.stringMatching(/no token/) });
  });

  it('refuses a badly signed token with 401', async () => {
    const token = await mintToken({ sub: 'alice', secret: 'not-the-right-secret-but-long-enough!!' });
    const c = await t.connect({ token });
    expect(c.refused?.status).toBe(401);
    expect(JSON.parse(c.refused!.body).message).toMatch(/signature/);
  });

  it('refuses an expired token with 401 TOKEN_EXPIRED', async () => {
    const token = await mintToken({ sub: 'alice', iat: Math.floor(Date.now() / 1000) - 3600, expiresInS: 60 });
    const c = await t.connect({ token });
    expect(c.refused?.status).toBe(401);
    expect(c.refused?.headers['x-mesh-close-code']).toBe(String(CloseCode.TOKEN_EXPIRED));
    expect(JSON.parse(c.refused!.body).error).toBe('TOKEN_EXPIRED');
  });

  it('refuses a malformed Authorization header', async () => {
    const c = await t.connect({ headers: { authorization: 'Basic abc' } });
    expect(c.refused?.status).toBe(401);
    expect(JSON.parse(c.refused!.body).message).toMatch(/Bearer/);
  });

  it('refuses a token without a session claim, saying why', async () => {
    const token = await mintToken({ sub: 'alice', jti: null });
    const c = await t.connect({ token });
    expect(c.refused?.status).toBe(401);
    expect(JSON.parse(c.refused!.body).message).toMatch(/session/);
  });

  it('refuses a foreign origin with 403 and allows the configured one', async () => {
    const token = await mintToken({ sub: 'alice' });
    const bad = await t.connect({ token, origin: 'https://evil.example.com' });
    expect(bad.refused?.status).toBe(403);
    expect(JSON.parse(bad.refused!.body).error).toBe('ORIGIN_NOT_ALLOWED');
    const good = await t.connect({ token, origin: 'https://APP.example.com' });
    expect(good.welcome).toBeDefined();
    await good.close();
  });

  it.each([
    ['an empty client id', ''],
    ['a client id with a control character', 'tab\u0001'],
    ['an oversized client id', 'x'.repeat(129)],
  ])('refuses %s with 400', async (_name, client) => {
    const token = await mintToken({ sub: 'alice' });
    const c = await t.connect({ token, client });
    expect(c.refused?.status).toBe(400);
    expect(JSON.parse(c.refused!.body)).toMatchObject({ error: 'BAD_CLIENT_ID', message: expect.stringMatching(/client/) });
  });

  // Bug: /stats (memory, user and session counts) was served without authentication on the public
  // WebSocket port. Operational endpoints now live on the internal ops port only.
  it('serves health, readiness and stats on the internal ops port, and nothing but upgrades on the public port', async () => {
    expect((await fetch(`${t.opsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    const stats = (await (await fetch(`${t.opsUrl}/stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ edgeId: t.edge.edgeId, connections: expect.any(Number), hub: { deliveries: expect.any(Number) } });
    expect(stats['cpu']).toMatchObject({ user: expect.any(Number), system: expect.any(Number) });
    for (const path of ['/stats', '/healthz', '/readyz', '/nope']) {
      const res = await fetch(`${t.httpUrl}${path}`);
      expect(res.status, path).toBe(426);
      expect(await res.text(), path).not.toMatch(/rss|heap|users/);
    }
  });

  it('publishes a connect event only after welcome, with the connection record', async () => {
    const token = await mintToken({ sub: 'carol', jti: 's-c' });
    const c = await t.connect({ token, client: 'tab-c' });
    const event = await waitFor(() =>
      t
        .recorded(`${t.config.subjectPrefix}.events.>`)
        .filter((m) => m.subject.endsWith('.connect'))
        .map((m) => parseConnectEvent(m.data))
        .find((p) => p.ok && p.value.connection.conn === c.welcome!.conn),
    );
    expect(event.ok && event.value.connection).toMatchObject({ user: 'carol', session: 's-c', client: 'tab-c', edge: t.edge.edgeId });
    await c.close();
  });
});

describe('anonymous mode', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_ANONYMOUS: 'true', MESH_JWT_SECRET: '' } });
  });
  afterAll(() => t.stop());

  it('makes each tab its own user and session, without a token, under a server-issued id', async () => {
    const c = await t.connect({});
    const id = c.welcome!.client;
    expect(id).toMatch(/^a\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(c.welcome).toMatchObject({ user: id, session: id, client: id, roles: [], expiresAt: null });
    t.pushUser(id, 'hi');
    expect(Buffer.from(await c.nextPush()).toString()).toBe('hi');
    await c.close();
    // The same tab reconnects with the id it was given and is the same visitor.
    const again = await t.connect({ client: id });
    expect(again.welcome).toMatchObject({ user: id });
    await again.close();
  });

  // Finding: any tab presenting another visitor's ?client= id became that visitor and got their pushes.
  it('refuses client ids it did not issue', async () => {
    const victim = await t.connect({});
    const id = victim.welcome!.client;
    const tampered = `${id.slice(0, -2)}${id.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const forged of ['anon-tab', tampered, 'a.x.y']) {
      const c = await t.connect({ client: forged });
      expect(c.refused?.status, forged).toBe(400);
      expect(JSON.parse(c.refused!.body)).toMatchObject({ error: 'BAD_CLIENT_ID' });
    }
    await victim.close();
  });
});

describe('token sources', () => {
  let t: TestEdge;
  const clients: MeshClient[] = [];
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_TOKEN_SOURCES: 'query', MESH_TOKEN_QUERY_PARAM: 'jwt' } });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(() => t.stop());

  it('only reads the configured sources', async () => {
    const token = await mintToken({ sub: 'alice', secret: TEST_JWT_SECRET });
    const viaHeader = await t.connect({ token, via: 'header' });
    expect(viaHeader.refused?.status).toBe(401);
    const viaQuery = await t.connect({ token, via: 'query', tokenQueryParam: 'jwt' });
    clients.push(viaQuery);
    expect(viaQuery.welcome?.user).toBe('alice');
  });
});

describe('JWKS keys', () => {
  it('connects through the asynchronous path on a JWKS cache miss, then synchronously', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const http = await import('node:http');
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] };
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const t = await startTestEdge({ env: { MESH_JWT_SECRET: '', MESH_JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` } });
    try {
      for (const sub of ['first', 'second']) {
        const c = await t.connect({ token: await mintToken({ key: privateKey, alg: 'ES256', kid: 'k1', sub }) });
        expect(c.welcome?.user).toBe(sub);
        t.pushUser(sub, 'hello');
        expect(Buffer.from(await c.nextPush()).toString()).toBe('hello');
        await c.close();
      }
      const bad = await t.connect({ token: await mintToken({ key: privateKey, alg: 'ES256', kid: 'unknown', sub: 'x' }) });
      expect(bad.refused?.status).toBe(401);
    } finally {
      await t.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('refusal logging', () => {
  // Finding 12: every refused upgrade wrote an unthrottled log line (a cheap way to fill disks).
  it('logs refused upgrades at most once per cause per interval, counting the rest', async () => {
    const lines: string[] = [];
    const t = await startTestEdge({ logLines: lines });
    for (let i = 0; i < 50; i++) {
      const c = await t.connect({});
      expect(c.refused?.status).toBe(401);
    }
    const refusals = lines.filter((l) => l.includes('upgrade refused'));
    expect(refusals).toHaveLength(1);
    expect(t.edge.stats().upgrades.refused).toBe(50);
    await t.stop();
  });
});
