import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLogger, createRateLimitedLog, DuplicateCheckError, env, Health, healthResponse, loadConfig, runMain, safePublish, Shutdown, startOpsServer, z } from '@session-mesh/runtime';

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

describe('safePublish', () => {
  it('passes publishes through, and turns a throwing publish into one rate-limited log line per subject family', () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 't', level: 'info', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    const sent: string[] = [];
    let closed = false;
    const publish = safePublish((subject) => {
      if (closed) throw new Error('bus closed');
      sent.push(subject);
    }, createRateLimitedLog(logger, { now: () => 1000 }));
    publish('mesh.events.connect', new Uint8Array(0));
    closed = true;
    expect(() => publish('mesh.events.connect', new Uint8Array(0))).not.toThrow();
    publish('mesh.events.connect', new Uint8Array(0));
    publish('mesh.presence.abc', new Uint8Array(0));
    expect(sent).toEqual(['mesh.events.connect']);
    expect(lines.map((l) => (JSON.parse(l) as { subject: string; msg: string }).subject)).toEqual(['mesh.events.connect', 'mesh.presence.abc']);
    expect(lines.every((l) => l.includes('could not publish') && l.includes('bus closed'))).toBe(true);
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

  it('serves health and extra routes on the internal ops port', async () => {
    const health = new Health();
    const server = await startOpsServer({ health, port: 0, host: '127.0.0.1' });
    server.route('/stats', () => ({ status: 200, body: '{"n":1}' }));
    server.route('/broken', () => {
      throw new Error('boom');
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(res.status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${server.port}/stats`)).json()).toEqual({ n: 1 });
      expect((await fetch(`http://127.0.0.1:${server.port}/broken`)).status).toBe(500);
      expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${server.port}/readyz`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  // Bug: in the single-process mesh the edge, registry and admin each added a check named `bus`
  // to one shared Health, and only the last one survived.
  it('keeps every role\'s checks when roles share one Health', () => {
    const health = new Health();
    health.scope('edge').addCheck('bus', () => 'edge bus down');
    health.scope('registry').addCheck('bus', () => true);
    health.scope('admin').addCheck('bus', () => true);
    expect(health.checkNames()).toEqual(['edge.bus', 'registry.bus', 'admin.bus']);
    expect(health.readiness()).toEqual({ ready: false, failing: { 'edge.bus': 'edge bus down' } });
    expect(() => health.scope('edge').addCheck('bus', () => true)).toThrow(DuplicateCheckError);
    health.scope('edge').startDraining();
    expect(health.isDraining()).toBe(true);
  });
});

describe('runMain', () => {
  // Bug: no uncaughtException handler, and unhandled rejections printed as plain text.
  it('logs uncaught exceptions and unhandled rejections as JSON lines and exits 1 on an exception', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const logger = createLogger({ name: 't', destination: sink });
    const exits: number[] = [];
    const before = { rejection: process.listeners('unhandledRejection'), exception: process.listeners('uncaughtException') };
    runMain('t', () => new Promise<void>(() => undefined), logger, (code) => void exits.push(code));
    const added = {
      rejection: process.listeners('unhandledRejection').filter((l) => !before.rejection.includes(l)),
      exception: process.listeners('uncaughtException').filter((l) => !before.exception.includes(l)),
    };
    try {
      expect(added.exception).toHaveLength(1);
      (added.rejection[0] as (r: unknown) => void)(new Error('lost promise'));
      (added.exception[0] as (e: Error) => void)(new Error('thrown in a callback'));
      const parsed = lines.map((l) => JSON.parse(l) as { msg: string; err: { message: string } });
      expect(parsed.map((p) => [p.msg, p.err.message])).toEqual([
        ['unhandled promise rejection', 'lost promise'],
        ['uncaught exception: exiting', 'thrown in a callback'],
      ]);
      expect(exits).toEqual([1]);
    } finally {
      for (const l of added.rejection) process.off('unhandledRejection', l as never);
      for (const l of added.exception) process.off('uncaughtException', l as never);
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
