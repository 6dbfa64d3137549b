/**
 * Issue 7 finding 11 and issue 6 bug 14: the published OpenAPI document and the server agree.
 * `text/plain` (or any non-JSON) bodies on JSON routes get the documented 415, the kill body is
 * optional in the document as on the server, ids and times carry the server's patterns and
 * bounds, and 413/415/431 are documented where the server can answer them.
 */
import { readFileSync } from 'node:fs';
import { MemoryBroker, type Bus } from '@session-mesh/bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, buildTestAdmin, type TestAdmin } from '../../services/admin/test/support/admin-harness.js';

interface Operation {
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  parameters?: Array<{ in: string; name: string; required?: boolean; schema: Record<string, unknown> }>;
  responses: Record<string, unknown>;
}
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Record<string, unknown>> } };

const published = JSON.parse(readFileSync(new URL('../../services/admin/openapi.json', import.meta.url), 'utf8')) as Doc;
const operations = Object.entries(published.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
const PUSH_PATHS = ['/v1/users/{userId}/push', '/v1/sessions/{sessionId}/push', '/v1/users/{userId}/clients/{clientId}/push', '/v1/broadcast'];
const KILL_PATHS = ['/v1/users/{userId}/kill', '/v1/sessions/{sessionId}/kill', '/v1/users/{userId}/clients/{clientId}/kill', '/v1/connections/{connectionId}/kill'];

describe('admin API: the OpenAPI document and the server agree', () => {
  let bus: Bus;
  let t: TestAdmin;

  beforeAll(async () => {
    bus = new MemoryBroker().connect('admin');
    t = await buildTestAdmin(bus);
  });

  afterAll(async () => {
    await t.app.close();
    await bus.close();
  });

  it.each([
    ['POST', '/v1/users/alice/kill'],
    ['POST', '/v1/sessions/s1/kill'],
    ['POST', '/v1/blacklist/sessions'],
    ['POST', '/v1/blacklist/users'],
  ] as const)('%s %s answers a text/plain body with 415', async (method, url) => {
    const r = await t.app.inject({ method, url, headers: { ...admin, 'content-type': 'text/plain' }, payload: '{"reason":"x"}' });
    expect(r.statusCode, r.body).toBe(415);
    expect(r.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('marks the kill and push bodies optional, as the server treats them', async () => {
    for (const path of [...KILL_PATHS, ...PUSH_PATHS]) {
      const op = published.paths[path]!['post']!;
      expect(op.requestBody?.required ?? false, path).toBe(false);
    }
    const none = await t.app.inject({ method: 'POST', url: '/v1/users/alice/kill', headers: admin });
    expect(none.statusCode).toBe(202);
    for (const path of ['/v1/blacklist/sessions', '/v1/blacklist/users']) expect(published.paths[path]!['post']!.requestBody?.required, path).toBe(true);
  });

  it('documents 413, 415 and 431 on every operation the server can answer them on', async () => {
    for (const { path, method, op } of operations) {
      expect(Object.keys(op.responses), `${method} ${path}`).toContain('431');
      if (op.requestBody !== undefined) {
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('413');
        if (!Object.hasOwn(op.requestBody.content, '*/*')) expect(Object.keys(op.responses), `${method} ${path}`).toContain('415');
      }
    }
  });

  it('carries the id rule (no control characters) into every id parameter and field', async () => {
    const idPattern = (schema: Record<string, unknown> | undefined) => new RegExp(String(schema?.['pattern']), 'u');
    for (const { path, method, op } of operations) {
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path' && !(p.in === 'query' && p.name === 'sessionId')) continue;
        expect(p.schema['pattern'], `${method} ${path} ${p.name}`).toBeTypeOf('string');
        expect(idPattern(p.schema).test('alice/bob ✓')).toBe(true);
        for (const bad of ['a\u0000b', 'a\u001fb', 'a\u007fb', 'a\u0085b']) expect(idPattern(p.schema).test(bad), JSON.stringify(bad)).toBe(false);
      }
    }
    const body = published.paths['/v1/blacklist/sessions']!['post']!.requestBody!.content['application/json']!.schema as { properties: Record<string, Record<string, unknown>> };
    expect(idPattern(body.properties['sessionId']).test('a\u0001b')).toBe(false);
  });

  it('documents issuedBefore with the pattern and bounds the server enforces', async () => {
    const body = published.paths['/v1/blacklist/users']!['post']!.requestBody!.content['application/json']!.schema as {
      properties: { issuedBefore: { anyOf: Array<Record<string, unknown>> } };
    };
    const branches = body.properties.issuedBefore.anyOf;
    const text = branches.find((b) => b['type'] === 'string')!;
    const number = branches.find((b) => b['type'] === 'integer')!;
    expect(number['minimum']).toBe(0);
    expect(number['maximum']).toBeTypeOf('number');
    const pattern = new RegExp(String(text['pattern']));
    for (const good of ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.123+02:00']) expect(pattern.test(good), good).toBe(true);
    for (const bad of ['yesterday', '2026-01-02', '+275760-09-13T00:00:00.001Z', '2026-13-01T00:00:00Z', '2026-01-02T03:04:05']) expect(pattern.test(bad), bad).toBe(false);

    const over = await t.app.inject({
      method: 'POST',
      url: '/v1/blacklist/users',
      headers: admin,
      payload: { userId: 'u', ttlSeconds: 60, reason: 'r', issuedBefore: (number['maximum'] as number) + 1 },
    });
    expect(over.statusCode).toBe(400);
    const atMax = await t.app.inject({
      method: 'POST',
      url: '/v1/blacklist/users',
      headers: admin,
      payload: { userId: 'u', ttlSeconds: 60, reason: 'r', issuedBefore: number['maximum'] },
    });
    expect(atMax.statusCode).toBe(201);
  });

  it('answers a method a documented path does not serve with 405 and Allow, before parsing any body', async () => {
    for (const method of ['PUT', 'PATCH', 'TRACE'] as const) {
      const r = await t.app.inject({ method, url: '/v1/blacklist/users/alice', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'x' });
      expect(r.statusCode, method).toBe(405);
      expect(r.headers['allow']).toBe('DELETE, GET, HEAD');
      expect(r.json()).toMatchObject({ error: 'method_not_allowed' });
    }
    expect((await t.app.inject({ method: 'PUT', url: '/v1/no/such/path', headers: admin })).statusCode).toBe(404);
  });

  it('takes a missing kill body as empty, but refuses a JSON null (not an object)', async () => {
    const absent = await t.app.inject({ method: 'POST', url: '/v1/sessions/s1/kill', headers: admin });
    expect(absent.statusCode).toBe(202);
    const nullBody = await t.app.inject({ method: 'POST', url: '/v1/sessions/s1/kill', headers: { ...admin, 'content-type': 'application/json' }, payload: 'null' });
    expect(nullBody.statusCode).toBe(400);
  });

  it('takes a bearer token of the documented 16,384 characters, and answers larger headers with a JSON 431', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const token = (n: number) => 'x'.repeat(n);
    const fits = await fetch(`${address}/v1/blacklist`, { headers: { authorization: `Bearer ${token(16_384)}` } });
    expect(fits.status).toBe(401);
    const tooLarge = await fetch(`${address}/v1/blacklist`, { headers: { authorization: `Bearer ${token(40_000)}` } });
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await tooLarge.json()).toMatchObject({ error: 'headers_too_large' });
  });
});
