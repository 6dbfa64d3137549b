import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLogger, env, Health, healthResponse, loadConfig, Shutdown, startHealthServer, z } from '@session-mesh/runtime';

const schema = z.object({
  MESH_PORT: env.port(8080),
  MESH_FLAG: env.boolean(false),
  MESH_LIST: env.list(),
  MESH_NATS_URL: env.natsUrl(),
});

describe('loadConfig', () => {
  it('applies defaults and parses values', () => {
    expect(loadConfig(schema, { MESH_FLAG: 'yes', MESH_LIST: 'a, b,,', MESH_NATS_URL: 'nats://a:1,nats://b:2' })).toEqual({
      MESH_PORT: 8080,
      MESH_FLAG: true,
      MESH_LIST: ['a', 'b'],
      MESH_NATS_URL: 'nats://a:1,nats://b:2',
    });
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig(schema, { MESH_PORT: '' }).MESH_PORT).toBe(8080);
  });

  it('names every bad variable and what it got', () => {
    let error: unknown;
    try {
      loadConfig(schema, { MESH_PORT: '99999', MESH_FLAG: 'maybe', MESH_NATS_URL: 'http://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/^MESH_PORT: .*"99999"/m);
    expect(problems).toMatch(/^MESH_FLAG: must be true or false/m);
    expect(problems).toMatch(/^MESH_NATS_URL: must be a comma-separated list of nats:\/\/host:port URLs/m);
  });
});

describe('Health', () => {
  it('is ready only when every check passes and not draining', () => {
    const health = new Health();
    let bus: true | string = 'bus disconnected';
    health.addCheck('bus', () => bus);
    expect(healthResponse(health, '/readyz')).toMatchObject({ status: 503 });
    bus = true;
    expect(healthResponse(health, '/readyz')).toMatchObject({ status: 200 });
    health.startDraining();
    expect(JSON.parse(healthResponse(health, '/readyz')!.body)).toMatchObject({ failing: { shutdown: 'draining' } });
    expect(healthResponse(health, '/healthz')).toMatchObject({ status: 200 });
    expect(healthResponse(health, '/other')).toBeUndefined();
  });

  it('serves over HTTP for services without a server of their own', async () => {
    const health = new Health();
    const server = await startHealthServer(health, 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(res.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('Shutdown', () => {
  it('runs hooks once, in reverse order, and survives a failing hook', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const shutdown = new Shutdown(createLogger({ name: 't', destination: sink }), 1000);
    const order: string[] = [];
    shutdown.onShutdown('bus', () => void order.push('bus'));
    shutdown.onShutdown('broken', () => {
      throw new Error('boom');
    });
    shutdown.onShutdown('server', async () => void order.push('server'));
    await Promise.all([shutdown.run('test'), shutdown.run('again')]);
    expect(order).toEqual(['server', 'bus']);
    expect(lines.some((l) => l.includes('shutdown hook failed') && l.includes('broken'))).toBe(true);
  });
});
