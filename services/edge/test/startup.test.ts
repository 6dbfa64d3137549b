import { describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '@session-mesh/bus';
import { createSubjects, parseSnapshotEvent, parseHeartbeatEvent } from '@session-mesh/protocol';
import { ConfigError, createLogger } from '@session-mesh/runtime';
import { EdgeBroker } from '../src/broker/edge-broker.js';
import { DEFAULT_TOKEN_SOURCES, loadEdgeConfig } from '../src/config.js';
import { Connection, ConnectionShared, Mark, State } from '../src/connection/connection.js';
import { ConnectionIds, RoleTable } from '../src/connection/identity.js';
import { Hub } from '../src/hub/hub.js';
import { LifecycleEvents, SNAPSHOT_PART_SIZE } from '../src/lifecycle/lifecycle-events.js';
import { assertNativeUws, currentUwsProbe, NativeUwsError } from '../src/transport/native-uws.js';

const SECRET = 's'.repeat(32);

describe('native uWebSockets.js check', () => {
  const native = { SSLApp: () => undefined, App: () => undefined };
  it('passes with a loaded binary and SSLApp', () => {
    expect(assertNativeUws({ loadedModules: ['/x/node_modules/uWebSockets.js/binaries/uws_linux_x64_115.node'], uws: native })).toMatch(/uws_linux/);
  });
  it('refuses the ws shim (no binary in the require cache)', () => {
    expect(() => assertNativeUws({ loadedModules: ['/x/node_modules/uWebSockets.js/dist/index.js'], uws: native })).toThrow(NativeUwsError);
  });
  it('refuses a module without SSLApp', () => {
    expect(() => assertNativeUws({ loadedModules: ['/x/uws_linux_x64_115.node'], uws: { App: () => undefined } })).toThrow(/fallback/);
  });
  it('passes in this process', () => {
    expect(assertNativeUws(currentUwsProbe())).toMatch(/uws_.*\.node$/);
  });
});

describe('loadEdgeConfig', () => {
  it('applies defaults', () => {
    const c = loadEdgeConfig({ MESH_JWT_SECRET: SECRET });
    expect(c).toMatchObject({
      natsUrl: undefined,
      subjectPrefix: 'mesh',
      host: '0.0.0.0',
      port: 8080,
      anonymous: false,
      tokenSources: DEFAULT_TOKEN_SOURCES,
      tokenQueryParam: 'token',
      tokenCookie: 'mesh_token',
      allowedOrigins: undefined,
      heartbeatIntervalMs: 5000,
      maxMessageBytes: 65536,
      maxBackpressureBytes: 1048576,
      idleTimeoutS: 120,
      requestTimeoutMs: 5000,
      blacklistBucket: 'mesh_blacklist',
      kvReplicas: 1,
      shutdownTimeoutMs: 30000,
    });
    expect(c.edgeId).toMatch(/-[0-9a-f]{6}$/);
    expect(c.auth).toMatchObject({ key: { kind: 'secret' }, clockToleranceS: 5 });
  });

  it('normalises origins and token sources', () => {
    const c = loadEdgeConfig({ MESH_JWT_SECRET: SECRET, MESH_ALLOWED_ORIGINS: 'https://App.example.com/, http://localhost:3000', MESH_TOKEN_SOURCES: 'cookie,header,cookie' });
    expect(c.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(c.tokenSources).toEqual(['cookie', 'header']);
    expect(loadEdgeConfig({ MESH_JWT_SECRET: SECRET, MESH_ALLOWED_ORIGINS: '*' }).allowedOrigins).toBeUndefined();
  });

  // Cross-site WebSocket hijacking: the cookie source used to be on by default with any origin allowed.
  it('leaves the cookie source off by default and refuses it without an origin allowlist', () => {
    expect(loadEdgeConfig({ MESH_JWT_SECRET: SECRET }).tokenSources).not.toContain('cookie');
    for (const origins of [undefined, '*']) {
      expect(() => loadEdgeConfig({ MESH_JWT_SECRET: SECRET, MESH_TOKEN_SOURCES: 'cookie', ...(origins ? { MESH_ALLOWED_ORIGINS: origins } : {}) })).toThrow(
        /MESH_TOKEN_SOURCES: the cookie source needs MESH_ALLOWED_ORIGINS/,
      );
    }
  });

  it('needs no key in anonymous mode', () => {
    expect(loadEdgeConfig({ MESH_ANONYMOUS: 'true' })).toMatchObject({ anonymous: true, auth: undefined });
  });

  it('names every bad variable', () => {
    let error: unknown;
    try {
      loadEdgeConfig({
        MESH_EDGE_PORT: '70000',
        MESH_IDLE_TIMEOUT_S: '1',
        MESH_TOKEN_SOURCES: 'header,carrier-pigeon',
        MESH_SUBJECT_PREFIX: 'a..b',
        MESH_ALLOWED_ORIGINS: 'not an origin',
        MESH_NATS_URL: 'http://x',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const vars = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(vars).toEqual(
      expect.arrayContaining([
        'MESH_EDGE_PORT',
        'MESH_IDLE_TIMEOUT_S',
        'MESH_TOKEN_SOURCES',
        'MESH_SUBJECT_PREFIX',
        'MESH_ALLOWED_ORIGINS',
        'MESH_NATS_URL',
        'MESH_JWT_SECRET',
      ]),
    );
  });

  it('accepts idle timeouts of 0 (off) or 2 to 3600 s', () => {
    for (const ok of ['0', '2', '960', '3600']) expect(loadEdgeConfig({ MESH_JWT_SECRET: SECRET, MESH_IDLE_TIMEOUT_S: ok }).idleTimeoutS).toBe(Number(ok));
    for (const bad of ['1', '3601']) expect(() => loadEdgeConfig({ MESH_JWT_SECRET: SECRET, MESH_IDLE_TIMEOUT_S: bad })).toThrow(/MESH_IDLE_TIMEOUT_S/);
  });
});

describe('LifecycleEvents', () => {
  function setup(count: number) {
    const published: BusMessage[] = [];
    const bus = { publish: (subject: string, data: Uint8Array) => published.push({ subject, data }) } as unknown as Bus;
    const hub = new Hub();
    const ids = new ConnectionIds('e1', 'b');
    const shared = new ConnectionShared(1000);
    for (let i = 0; i < count; i++) {
      const c = new Connection(shared, ids.allocate(), { user: `u${i}`, session: `s${i}`, client: 'c', roles: RoleTable.EMPTY, iatS: -1, expS: 0 }, 1000, 2);
      c.state = State.WELCOMED;
      c.marks = i % 2 === 0 ? Mark.ACTIVE : 0;
      hub.add(c);
    }
    const logger = createLogger({ name: 't', level: 'silent' });
    const subjects = createSubjects('mesh');
    const events = new LifecycleEvents(new EdgeBroker(bus, subjects, hub, 'e1', logger), subjects, hub, ids, 5000, logger);
    events.announced = count;
    return { published, events };
  }

  it('splits a snapshot into parts of at most 1000 connections, published together', () => {
    const { published, events } = setup(2 * SNAPSHOT_PART_SIZE + 500);
    events.publishSnapshot();
    const parts = published.map((m) => parseSnapshotEvent(m.data)).map((p) => (p.ok ? p.value : undefined)!);
    expect(parts.map((p) => [p.part, p.parts, p.connections.length])).toEqual([
      [0, 3, 1000],
      [1, 3, 1000],
      [2, 3, 500],
    ]);
    expect(new Set(parts.map((p) => p.snapshotId)).size).toBe(1);
    expect(new Set(parts.flatMap((p) => p.connections.map((c) => c.conn))).size).toBe(2500);
    expect(parts[0]!.connections[0]).toEqual({ conn: 'e1-b-1', user: 'u0', session: 's0', client: 'c', edge: 'e1', connectedAt: 1000, lastActivity: 2000 });
  });

  it('reports activity since the previous heartbeat only', () => {
    const { published, events } = setup(4);
    events.heartbeat();
    events.heartbeat();
    const [first, second] = published.map((m) => parseHeartbeatEvent(m.data)).map((p) => (p.ok ? p.value : undefined)!);
    expect(first!.activity).toEqual([
      ['e1-b-1', 2000],
      ['e1-b-3', 2000],
    ]);
    expect(first!.connections).toBe(4);
    expect(second!.activity).toEqual([]);
  });
});
